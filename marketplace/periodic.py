"""Periodic jobs: work that must happen every few minutes, whether or not anyone makes a request.

JOBS is the one list. Where the jobs run follows QUORUM_TASKS:

- "celery" (production): Celery beat sends each job's task every period (celery.py builds beat's
  schedule from JOBS); run one beat per deployment beside the workers:
  `celery -A marketplace.celery beat`.
- "thread" (the embedded default, `make demo`): each server process runs one timer thread per
  job, started by the first request it answers (asgi.py and wsgi.py connect `timers_on_request`
  to Django's request_started, so management commands and test processes start none). A timer
  ticks at once, then every period, one tick at a time.
- "inline" (tests): no timer starts by itself; a test calls a tick or starts a timer itself.

Every job is safe to run in several places at once (each server's timers, a beat beside them):
its docstring says why. A job is named by dotted path, so this module imports no app.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils.module_loading import import_string

from marketplace.tasking import outage_failed, outage_kind, outage_worked

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periodic:
    name: str  # beat's entry, the timer thread's name
    task: str  # the Celery task beat sends: a shared_task in the app's tasks.py
    tick: str  # dotted path of what a timer calls: the task's body
    seconds: Callable[[Any], float]  # the period, read from settings; 0: never


JOBS: tuple[Periodic, ...] = (
    Periodic(
        name="earnings-release",
        task="billing.earnings_release",
        tick="marketplace.billing.tasks.earnings_release_tick",
        seconds=lambda s: 60.0 * s.QUORUM_EARNINGS_RELEASE_MINUTES,
    ),
    Periodic(
        name="pay-posting",
        task="billing.pay_post",
        tick="marketplace.billing.tasks.pay_post_tick",
        seconds=lambda s: float(s.QUORUM_PAY_POST_SECONDS),
    ),
    Periodic(
        name="consensus-sweep",
        task="quality.consensus_sweep",
        tick="marketplace.quality.tasks.consensus_sweep_tick",
        seconds=lambda s: float(s.QUORUM_CONSENSUS_SWEEP_SECONDS),
    ),
    Periodic(
        # Settles through billing; lives in notifications, which queues each job.completed.
        name="job-completion-sweep",
        task="notifications.job_completion_sweep",
        tick="marketplace.notifications.tasks.job_completion_sweep_tick",
        seconds=lambda s: float(s.QUORUM_JOB_COMPLETION_SWEEP_SECONDS),
    ),
    Periodic(
        name="tally-fold",
        task="jobs.tallies_fold",
        tick="marketplace.jobs.tasks.tallies_fold_tick",
        seconds=lambda s: float(s.QUORUM_TALLY_FOLD_SECONDS),
    ),
    Periodic(
        # The work list's "items left" in jobs hiding gold feedback, once per step of the cutoff.
        name="progress-snapshots",
        task="quality.progress_snapshots",
        tick="marketplace.quality.tasks.progress_snapshots_tick",
        seconds=lambda s: float(s.QUORUM_PROGRESS_SNAPSHOT_SECONDS),
    ),
    Periodic(
        name="notifications-sweep",
        task="notifications.sweep",
        tick="marketplace.notifications.tasks.notifications_sweep_tick",
        seconds=lambda s: float(s.QUORUM_NOTIFICATIONS_SWEEP_SECONDS),
    ),
)
_BY_NAME = {job.name: job for job in JOBS}

# Set after every tick of a job's timer: a test waits on it instead of sleeping.
ticked: dict[str, threading.Event] = {job.name: threading.Event() for job in JOBS}
_lock = threading.Lock()
_timers: dict[str, tuple[threading.Thread, threading.Event]] = {}
_started_by_request = False


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Celery beat's schedule: every job whose period is not 0."""
    schedule = {}
    for job in JOBS:
        seconds = job.seconds(settings)
        if seconds:
            # A tick missed while no worker listened is dropped, not queued up behind the next.
            schedule[job.name] = {"task": job.task, "schedule": seconds, "options": {"expires": seconds}}
    return schedule


def timer_start(name: str, *, every_seconds: float | None = None) -> bool:
    """Start this process's timer of one job unless it runs, Celery beat has the schedule, or its
    period is 0. `every_seconds` (tests) starts it whatever the mode. True when it started."""
    job = _BY_NAME[name]
    seconds = every_seconds if every_seconds is not None else job.seconds(settings)
    if every_seconds is None and (settings.QUORUM_TASKS != "thread" or not seconds):
        return False
    with _lock:
        running = _timers.get(name)
        if running is not None and running[0].is_alive():
            return False
        stop = threading.Event()
        thread = threading.Thread(
            target=_run, args=(job, seconds, stop), name=f"periodic-{name}", daemon=True
        )
        _timers[name] = (thread, stop)
        thread.start()
    return True


def timers_start() -> list[str]:
    """Start every job's timer that should run in this process; the names that started."""
    return [job.name for job in JOBS if timer_start(job.name)]


def timers_on_request(sender: Any, **kwargs: Any) -> None:
    """request_started receiver (asgi.py, wsgi.py): the first request starts the timers."""
    global _started_by_request
    if not _started_by_request:
        _started_by_request = True
        timers_start()


def timers_stop(*, timeout: float = 10.0) -> None:
    """Stop and join every timer of this process (a tick in progress finishes first)."""
    global _started_by_request
    with _lock:
        stopping = list(_timers.values())
        _timers.clear()
        _started_by_request = False
    for _, stop in stopping:
        stop.set()
    for thread, _ in stopping:
        thread.join(timeout)


def _run(job: Periodic, seconds: float, stop: threading.Event) -> None:
    tick = import_string(job.tick)
    while not stop.is_set():
        try:
            tick()
        except Exception as exc:  # the next tick tries again; each job's writes are atomic
            if (kind := outage_kind(exc)) is not None:  # an outage: one line per change, as Celery's
                outage_failed(job.name, kind, exc, what="periodic job")
            else:
                logger.exception("periodic job %s failed", job.name)
        else:
            outage_worked(job.name, what="periodic job")
        finally:
            connections.close_all()  # this thread's connection; CONN_MAX_AGE is 0 under ASGI
            ticked[job.name].set()
        stop.wait(seconds)
