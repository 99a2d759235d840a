"""daphne in a subprocess serving the benchmark's throwaway database over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    url: str
    pid: int


@contextmanager
def served(*, tasks: str = "thread", settings_module: str = "marketplace.settings") -> Iterator[Server]:
    """Yield the base URL and pid of daphne (DEBUG off, no access log) on a free port; stop it after."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DATABASE_URL=database_url(), DEBUG="0", SECRET_KEY=settings.SECRET_KEY,
               QUORUM_TASKS=tasks, ALLOWED_HOSTS="127.0.0.1,localhost", LOG_LEVEL="WARNING",
               DJANGO_SETTINGS_MODULE=settings_module)
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", str(port),
             "marketplace.asgi:application"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"daphne did not come up:\n{log.read().decode(errors='replace')}")
                try:
                    with urllib.request.urlopen(f"{url}/healthz", timeout=2):  # noqa: S310 (loopback)
                        break
                except OSError:
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
