"""Log lines an operator can follow: a UTC time, the level, the logger, the process, and the id of
the request each line was written for (README, "Logs").

RequestIdMiddleware (outermost) takes the request's X-Request-ID when it is sane (a proxy or load
balancer set it: one id across their logs and ours), else makes one, and echoes it in the
response. The id lives in a context variable: under ASGI each request runs in its own task, and
asgiref copies the context into the threads running sync code, so every line logged for the
request carries it. Lines logged after the middleware returned (Django logs a 4xx/5xx answer
there) find the id on the request the line names. A 5xx line also names the signed-in user.

With ACCESS_LOG set, the middleware also writes the access log: one line per request on the
logger "marketplace.access" (its address, method, path, status and milliseconds), in the format
of every other line and so with its request id. It replaces the server's own access log
(gunicorn's and uvicorn's lines had neither a time nor the id to find a request's other lines by).
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

HEADER = "X-Request-ID"
# Sane: short, and no character that could forge a log line or a header (no spaces, no newlines).
SANE = re.compile(r"[A-Za-z0-9._:=+/@-]{1,100}")
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
access_logger = logging.getLogger("marketplace.access")


def request_id_of(request: HttpRequest) -> str:
    given = request.headers.get(HEADER, "")
    return given if SANE.fullmatch(given) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Gives each request an id, logged with every line of it and sent back as X-Request-ID."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if iscoroutinefunction(self):
            return self._acall(request)
        token = self._begin(request)
        try:
            return self._end(request, self.get_response(request))
        finally:
            _request_id.reset(token)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        token = self._begin(request)
        try:
            return self._end(request, await self.get_response(request))
        finally:
            _request_id.reset(token)

    @staticmethod
    def _begin(request: HttpRequest) -> contextvars.Token[str]:
        request.started = time.monotonic()  # type: ignore[attr-defined]
        request.request_id = request_id_of(request)  # type: ignore[attr-defined]
        return _request_id.set(request.request_id)  # type: ignore[attr-defined]

    @staticmethod
    def _end(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        response[HEADER] = request.request_id  # type: ignore[attr-defined]
        if access_logger.isEnabledFor(logging.INFO):  # ACCESS_LOG set (settings_logging.py)
            milliseconds = (time.monotonic() - request.started) * 1000  # type: ignore[attr-defined]
            access_logger.info('%s "%s %s %s" %d %.0f ms', request.META.get("REMOTE_ADDR", "-"), request.method,
                               request.get_full_path(), request.META.get("SERVER_PROTOCOL", "HTTP/1.1"),
                               response.status_code, milliseconds)
        return response


class RequestContextFilter(logging.Filter):
    """Adds request_id (or "-") to every record, and " user=<id>" to a 5xx line of a signed-in user."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or _request_id.get()
        record.user = ""
        if getattr(record, "status_code", 0) >= 500 and request is not None:
            record.user = f" user={_user_id(request)}"
        return True


def _user_id(request: Any) -> str:
    # Only a user already read: loading one here would query the database, which may be why it failed.
    user = getattr(request, "__dict__", {}).get("user")
    if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
        return "-"
    try:
        return str(user.pk) if user.is_authenticated else "anonymous"
    except Exception:  # a log line must never fail
        return "-"


class UtcFormatter(logging.Formatter):
    """ISO 8601 times in UTC with milliseconds, e.g. 2026-12-07T21:48:54.380Z."""

    converter = time.gmtime
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"

