"""`make serve`'s runner stops its processes gracefully: on SIGTERM each process gets as long as
gunicorn gives open requests (graceful_timeout) before honcho would SIGKILL it, not honcho's own 5 s.

When one process has stopped, honcho stops the others and SIGKILLs what is left after its wait.
A Procfile process that needs 7 s to finish after SIGTERM (an open request, a Celery task) finishes
and writes its file; under plain honcho it was killed at 5 s and wrote nothing."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "deploy" / "honcho_graceful.py"

SLOW_STOPPER = (
    "import signal, sys, time\n"
    "def stop(*_):\n"
    "    time.sleep(7)\n"
    "    open('stopped', 'w').write('clean')\n"
    "    sys.exit(0)\n"
    "signal.signal(signal.SIGTERM, stop)\n"
    "open('ready', 'w').write('1')\n"
    "signal.pause()  # until SIGTERM\n"
)


def _wait_for(path: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.05)
    return False


def test_the_runner_waits_as_long_as_gunicorns_graceful_timeout(tmp_path: Path) -> None:
    configured = re.search(r"^graceful_timeout = (\d+)", (ROOT / "gunicorn.conf.py").read_text(), re.M)
    runner_text = RUNNER.read_text()
    assert configured and f"GRACEFUL_TIMEOUT = {configured.group(1)}" in runner_text


def test_a_process_that_takes_seven_seconds_to_stop_is_let_finish(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(SLOW_STOPPER)
    (tmp_path / "quick.py").write_text("import signal\nopen('quick-ready', 'w').write('1')\nsignal.pause()\n")
    # Two processes: honcho's kill clock starts when the first one (quick, which SIGTERM ends at
    # once) has stopped, and slow is still finishing.
    (tmp_path / "Procfile").write_text(f"slow: {sys.executable} slow.py\nquick: {sys.executable} quick.py\n")
    runner = subprocess.Popen(
        [sys.executable, str(RUNNER), "start", "-f", str(tmp_path / "Procfile"), "-d", str(tmp_path)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert _wait_for(tmp_path / "ready", 60) and _wait_for(tmp_path / "quick-ready", 60), "never started"
        runner.send_signal(signal.SIGTERM)
        output, _ = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
    stopped = tmp_path / "stopped"
    assert stopped.exists() and stopped.read_text() == "clean", f"killed before it finished stopping:\n{output}"
    assert "SIGKILL" not in output, output
