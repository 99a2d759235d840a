"""Real threads for locking tests on PostgreSQL: each side runs on its own connection, is held at
the point where two transactions cross, and reports what it returned or raised.

Nothing here waits for time: a side is released when the other has provably reached its lock
(`someone_waits_for_a_lock`), and WAIT only bounds a thread that is stuck, so a busy machine
slows these tests down without failing them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connection

from marketplace.billing import settlement
from marketplace.jobs.models import Job

T = TypeVar("T")
WAIT = 30  # seconds before a stuck thread fails the test instead of hanging it


def thread_recording(outcomes: dict[str, Any], name: str, action: Callable[[], Any]) -> threading.Thread:
    """A thread that stores `action()`'s result, or the exception it raised, in outcomes[name]."""

    def run() -> None:
        try:
            outcomes[name] = action()
        except BaseException as exc:  # noqa: BLE001 - the main thread reports it
            outcomes[name] = exc
        finally:
            connection.close()  # this thread's own connection

    return threading.Thread(target=run)


def hold_job_finalize(monkeypatch: Any, *, reached: threading.Event, go: threading.Event) -> None:
    """Make a completing submit stop just before it settles its job (holding every lock it has
    taken so far): it sets `reached`, then waits for `go`."""
    finalize = settlement.job_finalize

    def finalize_when_told(*, job: Job) -> None:
        reached.set()
        go.wait(WAIT)
        finalize(job=job)

    monkeypatch.setattr(settlement, "job_finalize", finalize_when_told)


def someone_waits_for_a_lock() -> bool:
    """Whether any session on this database is waiting for a lock (row, advisory, ...)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return bool(cursor.fetchone()[0])


def queue_behind(
    holder: threading.Thread, holding: threading.Event, waiter: threading.Thread, go: threading.Event, what: str
) -> None:
    """Run two transactions that cross: start `holder` until it reports `holding` (its locks taken,
    now paused on `go`), start `waiter`, wait until the database shows it queuing on a lock
    (`what` names that wait), then let the holder go on and both finish."""
    holder.start()
    assert holding.wait(WAIT), f"the holder never took its locks before {what}"
    waiter.start()
    until(someone_waits_for_a_lock, what)
    go.set()
    holder.join(WAIT)
    waiter.join(WAIT)


def until(condition: Callable[[], T], what: str, seconds: float = WAIT) -> T:
    """Poll a real condition (another thread or process announces nothing) until it holds, and
    return its value; fail naming `what` after `seconds`. The pause between looks only spares
    the CPU the other side needs."""
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, f"no {what} within {seconds:g} s"
        time.sleep(0.05)
    return value
