"""The production command's start (gunicorn.conf.py on_starting): it refuses DEBUG in one line,
comes up when PostgreSQL does not answer (reporting 503 until it does), and keeps its pid file
and control socket under the project's var/, named by its port (README, "Running in production")."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.live_server import ROOT, free_port, serving

REDIS = os.environ.get("REDIS_URL", "")


def _env(port: int, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUORUM_", "CELERY_"))}
    env.update(DEBUG="0", SECRET_KEY=settings.SECRET_KEY, ALLOWED_HOSTS="127.0.0.1,localhost",
               WEB_CONCURRENCY="1", HOST="127.0.0.1", PORT=str(port), LOG_LEVEL="INFO",
               QUORUM_TASKS="celery")
    env.update(overrides)
    return env


def test_gunicorn_refuses_to_serve_with_debug_on_and_says_so_in_one_line(tmp_path: Path) -> None:
    port = free_port()
    env = _env(port, DEBUG="1")
    del env["SECRET_KEY"]  # what the review ran: DEBUG on, the repository's development key
    log = tmp_path / "server.log"
    with pytest.raises(RuntimeError, match="the server exited"), \
            serving(["-m", "gunicorn", "marketplace.asgi:application"], env=env, log=log, port=port,
                    stop_seconds=30):
        pass
    text = log.read_text()
    assert "DEBUG is on: gunicorn is the production server and refuses to serve with DEBUG=1" in text
    assert "Traceback" not in text
    assert not (ROOT / "var" / f"gunicorn-{port}.pid").exists()  # nothing left for the next start


@pytest.mark.skipif(not REDIS.startswith("redis"), reason="the server's cache and broker: set REDIS_URL")
def test_with_postgresql_unreachable_at_boot_gunicorn_comes_up_unhealthy_and_says_why_once(tmp_path: Path) -> None:
    port = free_port()
    missing = "postgres://postgres:not-in-the-log@127.0.0.1:5432/quorum_no_such_database"
    env = _env(port, DATABASE_URL=missing, QUORUM_DB_POOL_MAX="2", QUORUM_DB_POOL_TIMEOUT="1")
    log = tmp_path / "server.log"
    pidfile, control = ROOT / "var" / f"gunicorn-{port}.pid", ROOT / "var" / f"gunicorn-{port}.ctl"
    with serving(["-m", "gunicorn", "marketplace.asgi:application"], env=env, log=log, port=port,
                 stop_seconds=30) as url:
        import httpx

        health = httpx.get(f"{url}/healthz", timeout=60)
        assert health.status_code == 503
        assert health.json()["down"] == ["database"]
        # The master's pid, and its control socket, are this deployment's own.
        master = int(pidfile.read_text().strip())
        assert b"gunicorn" in Path(f"/proc/{master}/cmdline").read_bytes()
        assert stat.S_ISSOCK(control.stat().st_mode)
    start = log.read_text().split("Listening at")[0]
    said = [line for line in start.splitlines() if "DATABASE_URL" in line]
    assert len(said) == 1
    assert "quorum_no_such_database" in said[0]
    assert "not-in-the-log" not in start
    assert "Traceback" not in start
    # Stopped, it leaves neither behind for the next start.
    assert not pidfile.exists()
    assert not control.exists()


def test_the_pid_file_and_control_socket_are_per_port_under_var() -> None:
    import runpy

    os.environ["PORT"], before = "8123", os.environ.get("PORT")
    try:
        conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        if before is None:
            del os.environ["PORT"]
        else:
            os.environ["PORT"] = before
    assert conf["pidfile"] == str(ROOT / "var" / "gunicorn-8123.pid")
    assert conf["control_socket"] == str(ROOT / "var" / "gunicorn-8123.ctl")


def test_a_web_worker_loads_the_application_without_pandas_scipy_or_crowd_kit() -> None:
    """They are a consensus fit's (and an interval's) and cost seconds of every worker's boot,
    which a reload waits out (README, "Reloads and restarts"); they load at first use."""
    import subprocess

    probe = ("import sys, django; django.setup(); import marketplace.asgi; "
             "print(sorted(m for m in ('pandas', 'scipy', 'crowdkit') if m in sys.modules))")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "marketplace.settings", "SECRET_KEY": settings.SECRET_KEY}
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
