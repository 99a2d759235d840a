"""Real threads for locking tests on PostgreSQL: each side runs on its own connection, is held at
the point where two transactions cross, and reports what it returned or raised.

Nothing here waits for time: a side is released when the other has provably reached its lock
(`someone_waits_for_a_lock`), and WAIT only bounds a thread that is stuck, so a busy machine
slows these tests down without failing them.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
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

    return threading.Thread(target=run, name=name)


def run_together(actions: Mapping[str, Callable[[], Any]], *, seconds: float = WAIT) -> dict[str, Any]:
    """Run each action in a thread of its own, named by its key (so its own database connection,
    closed when it ends), all released at once by a barrier; return what each returned or raised,
    by name. A thread still running after `seconds` fails the test rather than hanging it."""
    start = threading.Barrier(len(actions))
    outcomes: dict[str, Any] = {}

    def released(action: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            start.wait(seconds)
            return action()

        return run

    threads = [thread_recording(outcomes, name, released(action)) for name, action in actions.items()]
    deadline = time.monotonic() + seconds
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [thread.name for thread in threads if thread.is_alive()]
    assert not stuck, f"{len(stuck)} thread(s) still running after {seconds:g} s, the first {stuck[0]}"
    return outcomes


def run_while_one_is_held(actions: Mapping[str, Callable[[], Any]], *, first: str, held: threading.Event,
                          go: threading.Event) -> dict[str, Any]:
    """Start actions[first] alone until it reports `held` (paused inside its transaction, see
    hold_thread_in), run all the others together meanwhile (run_together), then `go`: every
    outcome by name."""
    outcomes: dict[str, Any] = {}
    holder = thread_recording(outcomes, first, actions[first])
    holder.start()
    try:
        assert held.wait(WAIT), f"{first} never reached the point where it is held"
        outcomes |= run_together({name: action for name, action in actions.items() if name != first})
    finally:
        go.set()
        holder.join(WAIT)
    return outcomes


def failures(outcomes: Mapping[str, Any]) -> dict[str, str]:
    """The tracebacks of the outcomes that are exceptions, by name."""
    return {name: "".join(traceback.format_exception(outcome))
            for name, outcome in outcomes.items() if isinstance(outcome, BaseException)}


def hold_thread_in(monkeypatch: Any, owner: object, name: str, *, thread: str,
                   after: bool = False) -> tuple[threading.Event, threading.Event]:
    """Make the thread named `thread` stop in `owner.name` (before the call, or just after it with
    `after`), holding every lock its transaction has taken so far: (held, go), it sets `held`
    there, then waits for `go`. Other threads pass straight through."""
    held, go = threading.Event(), threading.Event()
    original = getattr(owner, name)

    def holding(**kwargs: Any) -> Any:
        holds = threading.current_thread().name == thread
        if holds and not after:
            held.set()
            go.wait(WAIT)
        result = original(**kwargs)
        if holds and after:
            held.set()
            go.wait(WAIT)
        return result

    monkeypatch.setattr(owner, name, holding)
    return held, go


# Row locks a session is waiting for right now: the waiter holds the tuple lock of the row it
# queues on (PostgreSQL's row-lock protocol), so its relation names the contended table. Not a
# wait for a row: a table's extension lock ("extend"), the moment in which two writers both need
# a new page of, say, labeling_lease; it names every relation the waiter has touched.
_ROW_WAITS = """
SELECT l.relation::regclass::text FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE a.datname = current_database() AND a.wait_event_type = 'Lock' AND a.wait_event <> 'extend'
  AND l.locktype IN ('tuple', 'relation') AND l.relation IS NOT NULL
"""


@contextmanager
def row_waits_watched() -> Iterator[list[str]]:
    """Yield a list that, until the block ends, collects the table of every row lock a session on
    this database waited for (a watcher thread reads pg_locks throughout, on its own connection)."""
    waits: list[str] = []
    done = threading.Event()

    def watch() -> None:
        try:
            with connection.cursor() as cursor:
                while not done.is_set():
                    cursor.execute(_ROW_WAITS)
                    waits.extend(row[0] for row in cursor.fetchall())
        finally:
            connection.close()

    watcher = threading.Thread(target=watch, name="watcher")
    watcher.start()
    try:
        yield waits
    finally:
        done.set()
        watcher.join(WAIT)


def lock_timeout_set(seconds: int) -> None:
    """Make this thread's connection fail a statement that waits more than `seconds` for a lock."""
    with connection.cursor() as cursor:
        cursor.execute(f"SET lock_timeout = '{int(seconds)}s'")


class Crowd:
    """What the threads of a simulated crowd tell each other, so that a worker with nothing to claim
    waits for another's change instead of polling: the last items are in others' hands, and only
    a submit, a release, a lease given up (or a claim that skipped a row it found locked) can
    change that.

    Each thread calls `changed()` after every transaction it commits and `left()` when it stops.
    One that found nothing calls `wait_for_change(since=...)` with what `seen()` returned before
    its claim: it returns at once if anything changed since (no change is missed), and fails when
    every thread still in the crowd is waiting (nothing can change any more) or at the deadline.
    One that walks away for a moment calls `let_others_move`: a few of the others' commits pass
    before it comes back, counted rather than slept for.
    """

    def __init__(self, size: int, *, deadline: float) -> None:
        self._changes = threading.Condition()
        self._count = 0
        self._present = size
        self._waiting = 0
        self._aside = 0  # threads in let_others_move
        self.deadline = deadline

    def seen(self) -> int:
        with self._changes:
            return self._count

    def changed(self) -> None:
        with self._changes:
            self._count += 1
            self._changes.notify_all()

    def left(self) -> None:
        with self._changes:
            self._present -= 1
            self._count += 1
            self._changes.notify_all()

    def wait_for_change(self, *, since: int) -> None:
        with self._changes:
            self._waiting += 1
            self._changes.notify_all()  # threads stepping aside stop once all others wait
            try:
                while self._count == since:
                    assert self._waiting < self._present, "every worker waits for another: nothing left to change"
                    remaining = self.deadline - time.monotonic()
                    assert remaining > 0, "the crowd was still waiting for work at the deadline"
                    self._changes.wait(remaining)
            finally:
                self._waiting -= 1

    def let_others_move(self, *, since: int, changes: int) -> None:
        """Return once `changes` more changes were announced after `since` (what `seen()` returned),
        or as soon as every other thread still in the crowd waits or steps aside too (none can
        move any more). A thread stepping aside is not out of work: others' waits count on it."""
        with self._changes:
            self._aside += 1
            self._changes.notify_all()
            try:
                while self._count < since + changes and self._waiting + self._aside < self._present:
                    remaining = self.deadline - time.monotonic()
                    assert remaining > 0, "the crowd had not moved at the deadline"
                    self._changes.wait(remaining)
            finally:
                self._aside -= 1


def hold_job_finalize(monkeypatch: Any, *, reached: threading.Event, go: threading.Event) -> None:
    """Make a completing submit stop just before it settles its job (holding every lock it has
    taken so far): it sets `reached`, then waits for `go`."""
    finalize = settlement.job_finalize

    def finalize_when_told(*, job: Job) -> None:
        reached.set()
        go.wait(WAIT)
        finalize(job=job)

    monkeypatch.setattr(settlement, "job_finalize", finalize_when_told)


def sessions_waiting_for_a_lock() -> int:
    """How many sessions on this database are waiting for a lock (row, advisory, ...) now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def someone_waits_for_a_lock() -> bool:
    """Whether any session on this database is waiting for a lock (row, advisory, ...)."""
    return sessions_waiting_for_a_lock() > 0


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
