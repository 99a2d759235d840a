"""A request that waited QUORUM_DB_POOL_TIMEOUT seconds for a pooled connection gets a 503.

With the pool on (settings: QUORUM_DB_POOL_MAX), requests beyond the pool's size queue for a
connection; one still waiting after the timeout is refused with 503 and Retry-After, which
clients and load balancers retry, instead of the 500 (and the error report) of a crash.
psycopg_pool raises PoolTimeout, which Django wraps in its OperationalError.

Also here: the pool's check of a connection it hands out, made cheap (see `check_idle`).
"""

from __future__ import annotations

import select
from collections.abc import Callable
from typing import Any

import psycopg
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse, JsonResponse
from psycopg_pool import ConnectionPool, PoolTimeout

from marketplace.errors import error_body

RETRY_AFTER_SECONDS = 2
MESSAGE = "The server is busy (every database connection is in use); try again in a moment."


def pool_exhausted(exc: BaseException) -> bool:
    return isinstance(exc, PoolTimeout) or (
        isinstance(exc, OperationalError) and isinstance(exc.__cause__, PoolTimeout)
    )


class PoolTimeoutMiddleware:
    """Turns a view's pool timeout into a 503 (the API's error body under /api/)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not pool_exhausted(exception):
            return None
        response: HttpResponse
        if request.path.startswith("/api/"):
            response = JsonResponse(error_body("unavailable", MESSAGE), status=503)
        else:
            response = HttpResponse(MESSAGE, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


def check_idle(conn: psycopg.Connection[Any]) -> None:
    """The pool's check of an idle connection before handing it out, without a round trip.

    With CONN_HEALTH_CHECKS Django has the pool run psycopg's check, an empty query: one round
    trip at the first query of every request (two per judgment), only to learn what the socket
    already tells. An idle connection has nothing to read; when PostgreSQL restarts, or a backend
    is terminated, the server closes the socket and it turns readable (the goodbye, then EOF).
    Only then is the real check run, and a dead connection raises: the pool drops it and hands
    out another. Trade-off: a connection cut without the server closing it (a network
    partition, a host gone) looks alive here; its request fails once, and Django then discards
    it (errors_occurred, then is_usable fails at the request's end, and the pool replaces it)."""
    if conn.closed:
        raise psycopg.OperationalError("the connection is closed")
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    if poller.poll(0):
        ConnectionPool.check_connection(conn)


def _cheap_pool_checks(sender: type[BaseDatabaseWrapper], connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """Swap psycopg's check for check_idle in the pool Django built (its check is not a setting:
    Django passes psycopg's own whenever CONN_HEALTH_CHECKS is on)."""
    pool = getattr(connection, "pool", None)
    # A private attribute: if a psycopg_pool release renames it, nothing is swapped and the pool
    # keeps its own check (a round trip per request), rather than failing every connection.
    if pool is not None and getattr(pool, "_check", None) is ConnectionPool.check_connection:
        pool._check = check_idle


connection_created.connect(_cheap_pool_checks, dispatch_uid="quorum-cheap-pool-checks")
