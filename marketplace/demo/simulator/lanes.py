"""The connections the simulated workers send their work requests on: one keep-alive HTTP/1.1
connection per lane, worker i on lane i % count, the way a browser keeps its own connection.

aiohttp, not httpx, because the crowd runs on the same cores as the server it measures: a request
through httpx costs its client about 2 ms of CPU, through aiohttp about 0.4 ms (both measured
here: 4,000 JSON POSTs over 8 connections to a trivial ASGI app, `time.process_time`), and at 8
workers that difference was a sixth of all the CPU a judgment cost the machine (BENCHMARKS.md,
"http-load"). The set-up and report requests (sign-ups, earnings, consensus) stay on httpx: they
are few and off the measured path.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import aiohttp


class LaneError(Exception):
    """A request that got no HTTP answer (refused, reset, timed out); `kind` names the cause
    (the transport exception's class name), which the report counts."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class Reply:
    """An HTTP answer, read whole: what the crowd loop needs of it."""

    status_code: int
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)  # ValueError (JSONDecodeError) when not JSON

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


class Lane:
    """One connection (a pool of one: a second request on it waits for the first's answer)."""

    def __init__(self, root: str) -> None:
        self._root = root.rstrip("/")
        # Within a minute or it is an error; no pool wait limit (the crowd loop queues workers on
        # a lane in arrival order itself, and that wait counts in the latency).
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1),
            timeout=aiohttp.ClientTimeout(total=60.0, sock_connect=10.0),
        )

    async def __aenter__(self) -> Lane:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._session.close()

    async def post(self, path: str, *, headers: dict[str, str], json_body: Any = None,
                   timeout: float | None = None) -> Reply:
        return await self._send("POST", path, headers=headers, json_body=json_body, timeout=timeout)

    async def get(self, path: str, *, headers: dict[str, str], timeout: float | None = None) -> Reply:
        return await self._send("GET", path, headers=headers, json_body=None, timeout=timeout)

    async def _send(self, method: str, path: str, *, headers: dict[str, str], json_body: Any,
                    timeout: float | None) -> Reply:
        extra = {} if timeout is None else {"timeout": aiohttp.ClientTimeout(total=timeout)}
        try:
            async with self._session.request(method, self._root + path, json=json_body,
                                             headers=headers, **extra) as response:
                return Reply(status_code=response.status, content=await response.read())
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise LaneError(type(exc).__name__) from exc

