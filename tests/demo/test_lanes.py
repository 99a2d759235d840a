"""The simulated workers' connections (demo/simulator/lanes.py), against a real socket: a small
HTTP/1.1 server in the test's event loop that answers every request with a JSON body and
counts the connections it accepted."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from marketplace.demo.simulator.lanes import Lane, LaneError

pytestmark = pytest.mark.asyncio


@asynccontextmanager
async def json_server(*, stall: asyncio.Event | None = None) -> AsyncIterator[tuple[str, list[str]]]:
    """Answers `{"method": ..., "path": ..., "body": ...}` with 201; `stall` set: never answers.
    Yields its root URL and the log of requests, each tagged with its connection's number."""
    log: list[str] = []
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        number = connections
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:  # the client closed the connection
                break
            lines = head.decode().split("\r\n")
            method, path, _ = lines[0].split(" ")
            size = next((int(v) for k, _, v in (h.partition(": ") for h in lines[1:])
                         if k.lower() == "content-length"), 0)
            body = json.loads(await reader.readexactly(size)) if size else None
            log.append(f"{number} {method} {path}")
            if stall is not None:
                await stall.wait()
            answer = json.dumps({"method": method, "path": path, "body": body}).encode()
            writer.write(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer))
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/api/v1", log
    finally:
        server.close()


async def test_a_lane_posts_json_and_reads_the_answer_whole() -> None:
    async with json_server() as (root, _), Lane(root) as lane:
        reply = await lane.post("/work/next/", headers={"Authorization": "Bearer t"}, json_body={"job": 7})
    assert reply.status_code == 201
    assert reply.json() == {"method": "POST", "path": "/api/v1/work/next/", "body": {"job": 7}}


async def test_requests_on_one_lane_share_one_connection_in_turn() -> None:
    async with json_server() as (root, log), Lane(root) as lane:
        replies = await asyncio.gather(*(lane.get(f"/items/{n}/", headers={}) for n in range(3)))
    assert [r.status_code for r in replies] == [201, 201, 201]
    assert sorted(log) == ["1 GET /api/v1/items/0/", "1 GET /api/v1/items/1/", "1 GET /api/v1/items/2/"]


async def test_a_refused_connection_is_a_lane_error_named_by_its_cause() -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with Lane(f"http://127.0.0.1:{port}") as lane:
        with pytest.raises(LaneError) as refused:
            await lane.post("/work/next/", headers={})
    assert refused.value.kind == "ClientConnectorError"


async def test_an_answer_later_than_the_timeout_is_a_lane_error() -> None:
    stall = asyncio.Event()
    async with json_server(stall=stall) as (root, _), Lane(root) as lane:
        with pytest.raises(LaneError) as late:
            await lane.post("/work/leases/1/release/", headers={}, timeout=0.2)
        stall.set()
    assert "Timeout" in late.value.kind
