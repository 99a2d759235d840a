"""The README's first command (`make demo`) brings up a working marketplace on SQLite, with a
simulated crowd labeling through the HTTP API, and Ctrl-C stops all of it."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path

from marketplace.demo.management.commands.demo_run import server_env

ROOT = Path(__file__).resolve().parents[2]
READY = "Quorum demo is ready"
SIM_JUDGMENTS = """
SELECT count(*) FROM labeling_judgment j JOIN accounts_user u ON u.id = j.worker_id
WHERE u.username LIKE 'sim-worker-%'
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback only)
        return response.status, response.read()


def _simulated_judgments(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute(SIM_JUDGMENTS).fetchone()[0])
    except sqlite3.Error:  # not migrated yet, or busy: ask again
        return 0


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _demo_processes(port: int) -> list[str]:
    """Command lines of any process still serving or simulating on this demo's port (the server
    and the crowd run in sessions of their own, so the process-group check cannot see them)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = " ".join(a.decode(errors="replace") for a in args)
        if f"127.0.0.1:{port}" in text or ("daphne" in text and f"-p {port} " in text + " "):
            found.append(text)
    return found


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_make_demo_seeds_serves_runs_a_crowd_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    db = tmp_path / "demo.sqlite3"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"}}
    # The embedded default, but in a temporary file so a developer's demo data is left alone.
    env.update(DATABASE_URL=f"sqlite:///{db}", PORT=str(port))
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
            deadline = time.monotonic() + 300  # migrate and seed take over 3 minutes on a busy 2-core machine
            listening = None
            while time.monotonic() < deadline and proc.poll() is None:
                if READY in log.read_text():
                    listening = _port_open(port)  # at once: "ready" means the port takes connections
                    break
                time.sleep(0.05)
            output = log.read_text()
            assert listening is not None, f"the demo never said it was ready:\n{output}"
            assert listening, f"the demo said it was ready before its port took connections:\n{output}"
            assert output.index("client / quorum-demo-pass") < output.index(READY)  # log-ins first
            health = _get(f"http://127.0.0.1:{port}/healthz")
            assert health[0] == 200 and b'"sqlite"' in health[1]
            assert "client / quorum-demo-pass" in output and "worker1" in output and "admin" in output
            assert "sim-worker-1" in output
            status, body = _get(f"http://127.0.0.1:{port}/")
            assert status == 200 and b"Quorum" in body

            # The simulated crowd labels through the API: its judgments land in the database, beyond
            # those the seed itself gave sim-workers (the demo's colluding pair).
            seeded = _simulated_judgments(db)
            judged = 0
            while time.monotonic() < deadline and proc.poll() is None and judged < 5:
                judged = _simulated_judgments(db) - seeded
                time.sleep(1)
            assert judged >= 5, f"no simulated judgments arrived:\n{log.read_text()}"
        finally:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends
            try:
                proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise AssertionError(f"Ctrl-C did not stop the demo within 90 s:\n{log.read_text()}") from None

    # A clean stop: nothing of the demo is left, in its process group or outside it.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (_group_alive(proc.pid) or _demo_processes(port)):
        time.sleep(0.2)
    output = log.read_text()
    assert not _group_alive(proc.pid), f"processes of the demo's group outlived Ctrl-C:\n{output}"
    assert not _demo_processes(port), f"orphans: {_demo_processes(port)}\n{output}"
    assert not _port_open(port), "the server still listens after Ctrl-C"
    # The crowd printed its report on the way out.
    assert "Simulated crowd: 12 workers" in output and "judgments/s" in output, output


def test_the_demo_servers_e_mail_links_follow_the_port_it_serves() -> None:
    assert server_env("http://127.0.0.1:8101", {"PORT": "8101"})["QUORUM_SITE_URL"] == "http://127.0.0.1:8101"
    # A site URL set on purpose (a proxy in front, a real host name) is kept.
    kept = server_env("http://127.0.0.1:8101", {"QUORUM_SITE_URL": "https://demo.example.com"})
    assert kept["QUORUM_SITE_URL"] == "https://demo.example.com"
