"""`db_task`: a Celery task whose body runs between two `close_old_connections()` calls.

A Celery worker process lives for days, and nothing closes its database connection between
tasks as Django's request cycle does between requests: a connection PostgreSQL dropped meanwhile
(a restart, a failover) would fail the next task, and a connection past CONN_MAX_AGE would stay
open. Every task of the apps' tasks.py modules is made this way; the body stays a plain function
that tests and the embedded timers (marketplace/periodic.py) call themselves.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec

from celery import shared_task
from django.db import close_old_connections

P = ParamSpec("P")


def db_task(name: str) -> Callable[[Callable[P, Any]], Any]:
    """`db_task(NAME)(body)`: the shared task `NAME` (no result kept: results live in the
    database) that runs `body`, its connections checked before and closed after."""

    def make(body: Callable[P, Any]) -> Any:
        @functools.wraps(body)
        def run(*args: P.args, **kwargs: P.kwargs) -> None:
            close_old_connections()
            try:
                body(*args, **kwargs)
            finally:
                close_old_connections()

        return shared_task(name=name, ignore_result=True)(run)

    return make
