"""A real daphne serving this pytest session's PostgreSQL test database, for the tests that must
go through HTTP and WebSockets as a browser or a simulated crowd does (tests/browser, tests/demo).
The rows a transactional test commits are what the server sees."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def daphne(log: Path, **env_overrides: str) -> Iterator[str]:
    """Serve marketplace.asgi on a free port against the test database; yield its base URL.
    Without REDIS_URL: the in-memory channel layer, so events stay inside the server process."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DATABASE_URL=test_database_url(), DEBUG="1", QUORUM_TASKS="inline",
               ALLOWED_HOSTS="127.0.0.1,localhost", SECRET_KEY=settings.SECRET_KEY)
    env.update(env_overrides)  # may replace a default above, QUORUM_TASKS="thread" for one
    port = free_port()
    command = ["-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "marketplace.asgi:application"]
    with serving(command, env=env, log=log, port=port, stop_seconds=10) as url:
        yield url


@contextmanager
def serving(command: list[str], *, env: dict[str, str], log: Path, port: int,
            stop_seconds: float) -> Iterator[str]:
    """Run `python <command>` (a server listening on `port`) from the project root, its output in
    `log`; yield its base URL once /healthz answers; stop it after (killed if it takes longer
    than `stop_seconds`)."""
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=stop_seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    # Until /healthz answers: a few seconds idle; the bounds are for a busy machine.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=30):  # noqa: S310 (loopback)
                return
        except urllib.error.HTTPError:  # it answers, a dependency down (503): a test may want that
            return
        except OSError:
            time.sleep(0.2)  # not listening yet: look again shortly
    raise RuntimeError(f"the server never answered:\n{log.read_text()}")


@contextmanager
def celery_worker(
    *, queue: str, broker: str, channels_prefix: str, log: Path, pool: str = "solo"
) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker process, as the Procfile starts one, consuming only `queue` of
    `broker` against the test database, one task at a time; stopped (warm) after the block. Its
    live events go to the Redis channel layer at `broker` under `channels_prefix`.
    `pool`: "solo" runs tasks in the worker process itself; "prefork" (the Procfile's) in a child
    process, which the worker kills at a task's time limit."""
    env = {**os.environ, "DATABASE_URL": test_database_url(), "QUORUM_TASKS": "celery",
           "CELERY_BROKER_URL": broker, "REDIS_URL": broker, "QUORUM_CHANNELS_PREFIX": channels_prefix,
           "SECRET_KEY": settings.SECRET_KEY, "QUORUM_DB_POOL_MAX": "0"}
    command = ["-m", "celery", "-A", "marketplace.celery", "worker", f"--pool={pool}", "--concurrency=1",
               f"--queues={queue}",
               f"--hostname={queue}@%h", "--without-heartbeat", "--without-mingle", "--without-gossip",
               "--loglevel=INFO"]
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()  # warm shutdown: a task in progress finishes first
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
