"""`make serve`'s process runner: honcho, given as long to stop its processes as gunicorn gives
open requests (gunicorn.conf.py's graceful_timeout) plus 5 s, instead of honcho's fixed 5 s before
SIGKILL, which cut requests and Celery's warm shutdown short on every Ctrl-C or SIGTERM.

Run as `python deploy/honcho_graceful.py start ...` (honcho's own arguments)."""

from __future__ import annotations

import sys

import honcho.manager
from honcho.command import main

GRACEFUL_TIMEOUT = 30  # gunicorn.conf.py's graceful_timeout (tests/test_serve_runner.py keeps them equal)

if __name__ == "__main__":
    honcho.manager.KILL_WAIT = GRACEFUL_TIMEOUT + 5  # read by Manager.loop when it stops its processes
    sys.exit(main())
