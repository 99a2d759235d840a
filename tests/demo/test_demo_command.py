"""The README's first command (`make demo`) brings up a working marketplace on SQLite."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback only)
        return response.status, response.read()


def test_make_demo_seeds_prints_log_ins_and_serves_http(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"}}
    # The embedded default, but in a temporary file so a developer's demo data is left alone.
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}", PORT=str(port))
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "demo"], cwd=ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
            # A terminal's Ctrl-C reaches processes whose SIGINT is not ignored; when pytest itself
            # runs as a background job, SIGINT is inherited as ignored, so restore the default.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            deadline = time.monotonic() + 120
            health = None
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    health = _get(f"http://127.0.0.1:{port}/healthz")
                    break
                except OSError:
                    time.sleep(0.5)
            output = log.read_text()
            assert health is not None, f"the demo never answered:\n{output}"
            assert health[0] == 200 and b'"sqlite"' in health[1]
            assert "client / quorum-demo-pass" in output and "worker1" in output and "admin" in output
            status, body = _get(f"http://127.0.0.1:{port}/")
            assert status == 200 and b"Quorum" in body
        finally:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise AssertionError(f"Ctrl-C did not stop the demo within 30 s:\n{log.read_text()}") from None
