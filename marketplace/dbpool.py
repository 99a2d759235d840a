"""A request that waited QUORUM_DB_POOL_TIMEOUT seconds for a pooled connection gets a 503.

With the pool on (settings: QUORUM_DB_POOL_MAX), requests beyond the pool's size queue for a
connection; one still waiting after the timeout is refused with 503 and Retry-After, which
clients and load balancers retry, instead of the 500 (and the error report) of a crash.
psycopg_pool raises PoolTimeout, which Django wraps in its OperationalError.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from psycopg_pool import PoolTimeout

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
