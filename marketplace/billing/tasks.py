"""The release schedule: earnings past the hold period become available every few minutes.

Nothing else releases earnings, and a payout draws only on available ones, so this schedule is
what lets workers be paid. Where it runs follows QUORUM_TASKS:

- "celery" (production): Celery beat sends `billing.earnings_release` every
  QUORUM_EARNINGS_RELEASE_MINUTES (settings.CELERY_BEAT_SCHEDULE); run one beat per deployment,
  `celery -A marketplace.celery beat`, beside the workers.
- "thread" (the embedded default, `make demo`): each server process runs a timer thread,
  started with the first request it answers (asgi.py and wsgi.py connect the start to Django's
  request_started signal, so management commands and test processes never start one). It
  releases at once, then every QUORUM_EARNINGS_RELEASE_MINUTES.
- "inline" (tests): no thread; tests call earnings_release_due themselves.

Any number of runs may overlap (several server processes, a beat and a timer): each run claims
its rows with SKIP LOCKED and a released earning is no longer pending, so no earning moves twice.
Each release is one ledger transaction per worker, referenced by the earnings it moves.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from decimal import Decimal
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import close_old_connections, connections

from marketplace.billing.payouts import Released, earnings_release

logger = logging.getLogger(__name__)

CELERY_TASK = "billing.earnings_release"
BATCH = 5_000  # earnings per database transaction: short locks, bounded memory

_timer_lock = threading.Lock()
_timer: threading.Thread | None = None
_stop = threading.Event()
# Set after every tick of the timer: a test waits on it instead of sleeping.
tick_done = threading.Event()


def earnings_release_due(*, now: datetime | None = None) -> Released:
    """Release every earning past the hold, BATCH at a time, each batch its own transaction."""
    earnings, workers, amount = 0, 0, Decimal("0.00")
    while True:
        batch = earnings_release(now=now, limit=BATCH)
        earnings, workers, amount = earnings + batch.earnings, workers + batch.workers, amount + batch.amount
        if batch.earnings < BATCH:  # the rest is released, or held by a concurrent run
            return Released(earnings=earnings, workers=workers, amount=amount)


@shared_task(name=CELERY_TASK, ignore_result=True)
def earnings_release_task() -> None:
    """The Celery entry point that beat schedules (marketplace/celery.py)."""
    close_old_connections()
    try:
        _release_and_log()
    finally:
        close_old_connections()


def _release_and_log() -> None:
    released = earnings_release_due()
    if released.earnings:
        logger.info("released %s earnings (%s) of %s workers",
                    released.earnings, released.amount, released.workers)


def release_timer_start(*, every_seconds: float | None = None) -> bool:
    """Start this process's release timer unless one runs, Celery beat has the schedule, or the
    period is 0. True when it started. Ticks run in the timer's thread, one at a time."""
    global _timer
    minutes = settings.QUORUM_EARNINGS_RELEASE_MINUTES
    if every_seconds is None and (settings.QUORUM_TASKS != "thread" or not minutes):
        return False
    with _timer_lock:
        if _timer is not None and _timer.is_alive():
            return False
        _stop.clear()
        period = every_seconds if every_seconds is not None else minutes * 60.0
        _timer = threading.Thread(
            target=_run, args=(period,), name="earnings-release", daemon=True
        )
        _timer.start()
    return True


def release_timer_on_request(sender: Any, **kwargs: Any) -> None:
    """request_started receiver (asgi.py, wsgi.py): the first request starts the timer."""
    if _timer is None:
        release_timer_start()


def release_timer_stop(*, timeout: float = 10.0) -> None:
    global _timer
    _stop.set()
    with _timer_lock:
        if _timer is not None:
            _timer.join(timeout)
        _timer = None


def _run(period: float) -> None:
    while not _stop.is_set():
        try:
            _release_and_log()
        except Exception:  # the next tick tries again; a failed tick moved nothing (atomic)
            logger.exception("earnings release failed")
        finally:
            connections.close_all()  # this thread's connection; CONN_MAX_AGE is 0 under ASGI
            tick_done.set()
        _stop.wait(period)
