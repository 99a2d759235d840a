"""With the pool on, a database outage is told from a busy pool: answered at once as the outage.

The server is the production command (gunicorn, the pool on); its DATABASE_URL names a TCP proxy
this test runs in front of PostgreSQL (the machine's PostgreSQL serves others and stays up).
Stopping the proxy (its listener closed, every connection cut) is the database going away;
starting it again, the database coming back. Before, each request waited out the pool's timeout
and was told "every database connection is in use, try again in a moment".
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import needs_postgres
from tests.live_server import free_port, serving
from tests.live_server import test_database_url as database_url  # (renamed: not a test)

pytestmark = [needs_postgres, pytest.mark.django_db(transaction=True)]

POOL_TIMEOUT = 4  # seconds a request waits for a pooled connection (production: 10)
WAIT = 60.0  # seconds: bounds for a busy machine; each step takes a few at most
DOWN_LINE = "database pool: every connection attempt fails"


class DatabaseProxy:
    """Forwards a local port to PostgreSQL on an event loop of its own (a thread)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.Server | None = None
        self.transports: set[asyncio.BaseTransport] = set()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def start(self) -> None:
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=10)

    def stop(self) -> None:
        """As PostgreSQL going away: nothing listens, and open connections are cut."""
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(timeout=10)

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def _stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for transport in self.transports:
            transport.abort()
        self.transports.clear()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.transports |= {writer.transport, upstream_writer.transport}
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer),
                             return_exceptions=True)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.transport.abort()


@pytest.fixture
def proxy(django_db_setup: None) -> Iterator[DatabaseProxy]:
    db = connection.settings_dict
    proxied = DatabaseProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
    proxied.start()
    try:
        yield proxied
    finally:
        proxied.close()


@pytest.fixture
def server(proxy: DatabaseProxy, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    url = database_url().replace(f":{connection.settings_dict['PORT'] or 5432}/", f":{proxy.port}/")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUORUM_", "CELERY_"))}
    env.update(DATABASE_URL=url, DEBUG="0", SECRET_KEY=settings.SECRET_KEY, QUORUM_TASKS="inline",
               ALLOWED_HOSTS="127.0.0.1", WEB_CONCURRENCY="1", HOST="127.0.0.1", PORT=str(port),
               LOG_LEVEL="INFO", QUORUM_DB_POOL_MAX="2", QUORUM_DB_POOL_MIN="1",
               QUORUM_DB_POOL_TIMEOUT=str(POOL_TIMEOUT))
    log = tmp_path / "server.log"
    with serving(["-m", "gunicorn", "marketplace.asgi:application"], env=env, log=log, port=port,
                 stop_seconds=30) as base:
        yield base, log


def _call(api: httpx.Client) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = api.get("/api/v1/jobs/")  # a token looked up in the database: 401 while it answers
    return response, time.monotonic() - started


def _until(api: httpx.Client, status: int) -> httpx.Response:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        response, _ = _call(api)
        if response.status_code == status:
            return response
    raise AssertionError(f"no {status} within {WAIT} s; the last answer: {response.status_code} {response.text}")


def test_with_the_database_gone_requests_are_answered_at_once_as_an_outage_not_a_busy_pool(
    proxy: DatabaseProxy, server: tuple[str, Path]
) -> None:
    base, log = server
    with httpx.Client(base_url=base, timeout=WAIT, headers={"Authorization": "Bearer qrm_not-a-real-token"}) as api:
        assert _call(api)[0].status_code == 401  # the database answers through the proxy

        proxy.stop()
        _until(api, 503)  # the first may wait out the pool's timeout, while its attempts fail
        answers = [_call(api) for _ in range(5)]

        for response, seconds in answers:
            assert response.status_code == 503 and response.headers["Retry-After"] == "30"
            assert "database cannot be reached" in response.json()["error"]["message"]
            assert seconds < POOL_TIMEOUT / 2, f"waited {seconds:.1f} s: the pool's timeout, not at once"

        # The load balancer's probe is answered at once too, naming the database.
        started = time.monotonic()
        probe = api.get("/healthz")
        assert probe.status_code == 503 and probe.json()["down"] == ["database"]
        assert time.monotonic() - started < POOL_TIMEOUT / 2, "the probe waited out the pool's timeout"

        proxy.start()
        _until(api, 401)  # the pool connects again by itself

    text = log.read_text()
    assert text.count(DOWN_LINE) == 1, text
    assert "database pool: connecting again after" in text
    refused = [line for line in text.splitlines() if "Service Unavailable: GET /api/v1/jobs/" in line]
    assert len(refused) >= 5 and all("database unreachable" in line for line in refused)
    assert "every database connection is in use" not in text
    assert "Traceback" not in text
