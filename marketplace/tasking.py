"""`db_task`: a Celery task whose body runs between two `close_old_connections()` calls, and
whose failures in an outage are one line each way rather than a traceback per run.

A Celery worker process lives for days, and nothing closes its database connection between
tasks as Django's request cycle does between requests: a connection PostgreSQL dropped meanwhile
(a restart, a failover) would fail the next task, and a connection past CONN_MAX_AGE would stay
open. Every task of the apps' tasks.py modules is made this way; the body stays a plain function
that tests and the embedded timers (marketplace/periodic.py) call themselves.

During a database (or broker) outage every run of every periodic task failed, and Celery logged
each with its whole chained traceback ("raised unexpected", some 60 lines) every tick. Here a
run that failed because the database or the broker cannot be reached logs one WARNING line when
that task first fails so, DEBUG lines while it goes on, and one INFO line when a run of it works
again (per worker process); the run ends as Celery's Ignore, which it logs at INFO without a
traceback. Nothing is lost that a traceback would have kept: the periodic task's next tick (or
the sweeps, for a consensus run) does the work again, as after any failure. Any other error is
raised as before, traceback and all.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, ParamSpec

from celery import shared_task
from celery.exceptions import Ignore
from django.db import close_old_connections

from marketplace.beat import broker_unreachable
from marketplace.dbdown import database_unreachable

P = ParamSpec("P")
logger = logging.getLogger(__name__)

# (task name, failure kind) of the outages this process has said and not yet seen end.
_failing: set[tuple[str, str]] = set()
_lock = threading.Lock()


def outage_kind(exc: BaseException) -> str | None:
    """"database" or "broker" when `exc` says that service cannot be reached, else None."""
    if database_unreachable(exc):
        return "database"
    if broker_unreachable(exc):
        return "broker"
    return None


def outage_failed(name: str, kind: str, exc: BaseException, *, what: str = "task") -> None:
    """A run of `name` failed for an outage of `kind`: one WARNING the first time, then DEBUG."""
    with _lock:
        first = (name, kind) not in _failing
        _failing.add((name, kind))
    if first:
        reason = " ".join(str(exc.__cause__ or exc).split())[:300]  # psycopg's message spans lines
        logger.warning("%s %s failed: the %s is unreachable; said once until a run works (%s)", what, name, kind,
                       reason)
    else:
        logger.debug("%s %s failed: the %s is unreachable", what, name, kind)


def outage_worked(name: str, *, what: str = "task") -> None:
    """A run of `name` worked: one INFO line per outage it had said."""
    with _lock:
        ended = sorted(kind for task, kind in _failing if task == name)
        _failing.difference_update((name, kind) for kind in ended)
    for kind in ended:
        logger.info("%s %s works again: the %s answers", what, name, kind)


def db_task(name: str) -> Callable[[Callable[P, Any]], Any]:
    """`db_task(NAME)(body)`: the shared task `NAME` (no result kept: results live in the
    database) that runs `body`, its connections checked before and closed after."""

    def make(body: Callable[P, Any]) -> Any:
        @functools.wraps(body)
        def run(*args: P.args, **kwargs: P.kwargs) -> None:
            close_old_connections()
            try:
                body(*args, **kwargs)
            except Exception as exc:
                if (kind := outage_kind(exc)) is None:
                    raise
                outage_failed(name, kind, exc)
                raise Ignore() from None  # Celery's INFO "ignored": no traceback, the run not a success
            else:
                outage_worked(name)
            finally:
                close_old_connections()

        return shared_task(name=name, ignore_result=True)(run)

    return make
