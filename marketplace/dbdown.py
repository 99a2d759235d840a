"""While PostgreSQL cannot be reached, or every pooled connection is in use, a request answers 503.

DatabaseUnavailableMiddleware is the one place that chooses between the two answers.

Without this a page view during an outage failed at its first query (for a signed-in user, the
session), and Django logged the whole chained traceback of a connection failure, one per request;
the answer is the same for every request and the traceback says nothing the first line does not.
Here an error that means "no connection to the database" (refused, the database missing, the
server shutting down or gone mid-request) answers 503 with Retry-After: the API's error body under
/api/, else a standalone page rendered without the database (templates/503.html). The log gets
one ERROR line per request naming the path and psycopg's message. Any other database error
(a deadlock, a cancelled statement, a constraint) is left to Django's 500 handling, traceback and
all.

With the pool on (QUORUM_DB_POOL_MAX) a request cannot see the outage itself: it waits
QUORUM_DB_POOL_TIMEOUT seconds for a connection the pool never makes. While the pool cannot
connect at all (dbpool.pool_down) a request is answered this 503 before its view runs, at once,
and a timeout is answered it too. A timeout while the pool connects is the other 503: busy,
every connection in use, Retry-After 2 s, not logged (a load peak, not a fault).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import psycopg
from psycopg_pool import PoolTimeout
from django.db import Error as DjangoDatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from marketplace.dbpool import pool_down, pool_exhausted
from marketplace.errors import error_body

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
MESSAGE = "The database cannot be reached at the moment; try again in a minute."
BUSY_RETRY_AFTER_SECONDS = 2
BUSY_MESSAGE = "The server is busy (every database connection is in use); try again in a moment."

# psycopg's own OperationalError (no SQLSTATE) is a failed connect or a connection lost mid-query;
# among the server's codes only these mean "no connection", not "this statement failed".
_UNREACHABLE_SQLSTATES = {"57P01", "57P02", "57P03", "53300"}  # shutdown, crash, starting, too many clients


def database_unreachable(exc: BaseException) -> bool:
    """Whether `exc` (Django's wrapper or psycopg's error) says the database cannot be reached."""
    if isinstance(exc, DjangoDatabaseError) and exc.__cause__ is not None:
        exc = exc.__cause__
    if isinstance(exc, PoolTimeout):  # an OperationalError too, but the pool's: see pool_down
        return False
    if isinstance(exc, psycopg.InterfaceError):  # "the connection is closed"
        return True
    if not isinstance(exc, psycopg.OperationalError):
        return False
    sqlstate = exc.sqlstate
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in _UNREACHABLE_SQLSTATES


def database_down_response(request: HttpRequest, exc: BaseException | str) -> HttpResponse:
    """The 503, logged here in one line (Django would log the traceback again: marked as logged).
    `exc`: the error that says the database is unreachable, or the reason in words."""
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body("unavailable", MESSAGE), status=503)
    else:
        # No request: no context processor runs, so nothing asks the database for the user.
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    cause = exc if isinstance(exc, str) else exc.__cause__ or exc
    reason = " ".join(str(cause).split())[:300]  # psycopg's message spans lines
    logger.error("Service Unavailable: %s %s: database unreachable: %s", request.method, request.path, reason)
    response._has_been_logged = True  # type: ignore[attr-defined]  # read by django.utils.log.log_response
    return response


def pool_busy_response(request: HttpRequest) -> HttpResponse:
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body("unavailable", BUSY_MESSAGE), status=503)
    else:
        response = HttpResponse(BUSY_MESSAGE, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
    return response


def _pool_down_reason(since: float) -> str:
    started = time.strftime("%H:%M:%S", time.gmtime(since))
    return f"the connection pool cannot connect (every attempt since {started} UTC failed)"


class DatabaseUnavailableMiddleware:
    """The database's 503s, outage or busy pool (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (since := pool_down()) is not None:
            return database_down_response(request, _pool_down_reason(since))
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if pool_exhausted(exception):
            if (since := pool_down()) is not None:
                return database_down_response(request, _pool_down_reason(since))
            return pool_busy_response(request)
        return database_down_response(request, exception) if database_unreachable(exception) else None
