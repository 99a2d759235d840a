"""python manage.py demo_run: serve the demo with daphne and run a simulated crowd against it.

`make demo` calls this after migrating and seeding. Two child processes:
- daphne (the ASGI server) on HOST:PORT, its access log in var/demo-access.log;
- `manage.py simulate` with a small crowd (sim-worker-1 … N, think time ~1.5 s) labeling
  through the HTTP API, once the server answers /healthz, so the dashboards move.

Stopping, the robust way: both children run in sessions of their own, so a terminal's Ctrl-C
reaches only this launcher, which then stops them in order: the crowd first (it hands back its
leases and prints its report, reading consensus from the still-running server), then the
server. A second Ctrl-C skips the crowd's final reads. Each child also gets PR_SET_PDEATHSIG, so
even a killed launcher leaves no server or crowd behind (Linux).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketplace.demo.address import demo_host_port, demo_site_url, demo_url
from marketplace.demo.management.commands.seed_demo import PASSWORD

# The demo crowd: mostly decent workers, one spammer, one constant answerer, a colluding pair.
DEMO_MIX = "good=0.5,noisy=0.2,spammer=0.1,constant=0.05,colluding=0.15"
_PR_SET_PDEATHSIG = 1


def _child_setup() -> None:
    """In the child before exec: die with the launcher (Linux), and default SIGINT handling."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: the launcher's own stop path still stops the children


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310 (loopback)
            return bool(response.status == 200)
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes] | None, *, sig: int, wait: float) -> None:
    """Send `sig`, wait, then SIGKILL whatever is left."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def server_env(url: str, environ: dict[str, str]) -> dict[str, str]:
    """The server's environment: links in the demo's e-mails (QUORUM_SITE_URL, default port 8000)
    point at the address actually served, e.g. PORT=8101, unless the environment names one."""
    return {**environ, "QUORUM_SITE_URL": demo_site_url(url, environ)}


class Command(BaseCommand):
    help = "Serve the demo (daphne) with a simulated crowd labeling through the API; Ctrl-C stops both."

    def add_arguments(self, parser: CommandParser) -> None:
        host, port = demo_host_port()
        parser.add_argument("--host", default=host)
        parser.add_argument("--port", type=int, default=port)
        parser.add_argument("--crowd", type=int, default=12, help="Simulated workers (0: none).")
        parser.add_argument("--think-ms", type=float, default=1500.0, help="Their mean think time.")

    def handle(self, *args: Any, **options: Any) -> None:
        self._signals = 0
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        host, port = options["host"], options["port"]
        url = demo_url(host, port)
        access_log = Path(settings.BASE_DIR) / "var" / "demo-access.log"
        access_log.parent.mkdir(exist_ok=True)
        server = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "--access-log", str(access_log),
             "marketplace.asgi:application"],
            env=server_env(url, dict(os.environ)), start_new_session=True, preexec_fn=_child_setup,
        )
        crowd: subprocess.Popen[bytes] | None = None
        code = 0
        try:
            while not _healthy(url):
                if server.poll() is not None:
                    raise CommandError(f"the server exited with code {server.returncode}")
                if self._signals:
                    return
                time.sleep(0.3)
            # Only now: the server answers on its port (seed_demo printed the log-ins before it ran).
            self.stdout.write(self.style.SUCCESS(f"Quorum demo is ready. Log in at {url}/"))
            self.stdout.write(f"Serving {url}/ (API docs: {url}/api/docs/; access log: {access_log})")
            self.stdout.flush()  # a log file (not a terminal) would hold it back behind the crowd's
            if options["crowd"] > 0:
                crowd = self._crowd(url, options["crowd"], options["think_ms"])
            while not self._signals:
                if server.poll() is not None:
                    code = server.returncode or 1
                    self.stderr.write(f"the server exited with code {server.returncode}")
                    break
                if crowd is not None and crowd.poll() is not None:
                    self.stderr.write(f"the simulated crowd stopped (code {crowd.returncode}); still serving")
                    crowd = None
                time.sleep(0.3)
        finally:
            self.stdout.write("\nStopping the crowd, then the server…")
            self._stop_crowd(crowd)
            _stop(server, sig=signal.SIGINT, wait=10)
        if code:
            raise CommandError("the demo server stopped unexpectedly")

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._signals += 1

    def _crowd(self, url: str, workers: int, think_ms: float) -> subprocess.Popen[bytes]:
        self.stdout.write(f"Starting a simulated crowd of {workers} workers ({DEMO_MIX}); "
                          "Ctrl-C stops it and the server, and prints its report.")
        return subprocess.Popen(
            [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "simulate", "--url", url,
             "--workers", str(workers), "--think-ms", str(think_ms), "--mix", DEMO_MIX, "--keep-polling",
             "--progress", "log", "--client", f"client:{PASSWORD}"],
            start_new_session=True, preexec_fn=_child_setup,
        )

    def _stop_crowd(self, crowd: subprocess.Popen[bytes] | None) -> None:
        """One SIGINT: the crowd reports (reading consensus from the server, still up). Another
        Ctrl-C meanwhile is passed on, so it skips those reads; 60 s at most in all."""
        if crowd is None or crowd.poll() is not None:
            return
        seen = self._signals
        crowd.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 60
        while crowd.poll() is None and time.monotonic() < deadline:
            if self._signals > seen:
                seen = self._signals
                crowd.send_signal(signal.SIGINT)
            time.sleep(0.1)
        _stop(crowd, sig=signal.SIGTERM, wait=5)
