"""The server in a subprocess serving the benchmark's throwaway database over real HTTP.

SERVERS names what can serve: "production" (gunicorn with uvicorn workers, gunicorn.conf.py, the
pool on: what `make serve` runs), "uvicorn" (uvicorn's own --workers, the pool on) and "daphne"
(one process, no pool: the demo's server and what the benchmarks measured before)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from typing import IO
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url() -> str:
    """The URL of the database this process uses now (the bench's test_<name>)."""
    db = connection.settings_dict
    if not settings.IS_POSTGRES:
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _stat(pid: int | str) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process and its live descendants (gunicorn's or uvicorn's worker
    processes) have used so far (Linux /proc), in seconds."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat(entry.name)[1])
            except (OSError, IndexError, ValueError):
                continue  # exited while we looked
    tree, grew = {pid}, True
    while grew:
        children = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= children
        grew = bool(children)
    ticks = 0
    for member in tree:
        try:
            fields = _stat(member)
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def backend_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds one PostgreSQL backend has used (the server is on this host)."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_ticks(database: str) -> dict[int, int]:
    """CPU clock ticks (user + system) of each PostgreSQL backend serving `database` (Linux
    /proc: a backend's title is "postgres: USER DATABASE ...")."""
    ticks: dict[int, int] = {}
    marker = f" {database} ".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            if title.startswith(b"postgres: ") and marker in title:
                fields = _stat(entry.name)
                ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue  # exited while we looked
    return ticks


def postgres_cpu_since(before: dict[int, int], database: str) -> float:
    """CPU seconds the database's backends used since `before` (backends that exited meanwhile
    are missed: the pool keeps its connections for the run)."""
    now = postgres_ticks(database)
    return sum(value - before.get(pid, 0) for pid, value in now.items()) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    url: str
    pid: int


SERVERS = ("production", "uvicorn", "daphne")
# Per-process pool for "production" and "uvicorn": 2 processes x 20 stays well under max_connections.
POOL_MAX = 20


def _command(server: str, port: int, processes: int) -> list[str]:
    app = "marketplace.asgi:application"
    if server == "production":
        return [sys.executable, "-m", "gunicorn", "--workers", str(processes), "--bind",
                f"127.0.0.1:{port}", "--log-level", "info", app]
    if server == "uvicorn":
        return [sys.executable, "-m", "uvicorn", "--workers", str(processes), "--host", "127.0.0.1",
                "--port", str(port), "--no-access-log", "--log-level", "info", "--lifespan", "off",
                "--no-proxy-headers", app]
    if server == "daphne":
        return [sys.executable, "-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", str(port), app]
    raise ValueError(f"unknown server {server!r}; choose from {', '.join(SERVERS)}")


def _all_up(log: IO[bytes], server: str, processes: int) -> bool:
    """True once every web process has loaded the application. /healthz answers as soon as ONE
    has; the others may still be importing Django for seconds (longer without bytecode caches),
    and that start-up must not be counted as CPU spent serving the crowd. uvicorn logs "Started
    server process" (at info) in each worker after loading the application."""
    if server == "daphne":
        return True
    # pread: the server writes through a descriptor sharing this file's offset; leave it alone.
    text = os.pread(log.fileno(), os.fstat(log.fileno()).st_size, 0)
    return text.count(b"Started server process") >= processes


@contextmanager
def served(*, tasks: str = "thread", settings_module: str = "marketplace.settings",
           server: str = "daphne", processes: int = 0) -> Iterator[Server]:
    """Yield the base URL and pid of `server` (DEBUG off, no access log) on a free port; stop it
    after. `processes`: web processes (0: one per CPU; daphne always runs one). The pid is the
    supervisor's: cpu_seconds(pid) counts its worker processes too once they have exited."""
    port = _free_port()
    processes = processes or os.cpu_count() or 2
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DATABASE_URL=database_url(), DEBUG="0", SECRET_KEY=settings.SECRET_KEY,
               QUORUM_TASKS=tasks, ALLOWED_HOSTS="127.0.0.1,localhost", LOG_LEVEL="WARNING",
               DJANGO_SETTINGS_MODULE=settings_module,
               QUORUM_DB_POOL_MAX="0" if server == "daphne" else str(POOL_MAX))
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(_command(server, port, processes), cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 240  # each process imports Django and the apps: slow on a busy machine
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"{server} did not come up:\n{log.read().decode(errors='replace')}")
                if _all_up(log, server, processes):
                    try:
                        with urllib.request.urlopen(f"{url}/healthz", timeout=2):  # noqa: S310 (loopback)
                            break
                    except OSError:
                        pass
                time.sleep(0.2)
            yield Server(url=url, pid=proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.seek(0)
            errors = [line for line in log.read().decode(errors="replace").splitlines()
                      if "Traceback" in line or " ERROR " in line]
            if errors:
                print(f"  server log: {len(errors)} error lines, first: {errors[0][:200]}")
