"""The one place where errors become HTTP responses.

Every API error has the same body: {"error": {"code", "message", "details"}}.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.log import log_response
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import exception_handler

from marketplace.errors import ApplicationError, Busy, NothingLeft, Unavailable, error_body


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            inner = _first_message(value)
            return inner if key == "non_field_errors" else f"{key}: {inner}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def _per_field(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """A serializer's errors as {field: [messages]}, nested fields as dotted paths ("events.0"),
    errors of no one field under non_field_errors: one level, whatever the serializer's nesting."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = str(key) if not prefix or key == "non_field_errors" else f"{prefix}.{key}"
            flat.update(_per_field(value, name))
        return flat
    items = detail if isinstance(detail, list) else [detail]
    if any(isinstance(item, dict | list) for item in items):  # a list of nested serializers' errors
        flat = {}
        for index, item in enumerate(items):
            if item:
                flat.update(_per_field(item, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    return {prefix or "non_field_errors": [str(item) for item in items]}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        response = Response(error_body(exc.code, exc.message, exc.details), status=exc.status)
        if isinstance(exc, Unavailable | Busy):  # ask again after that many seconds
            response["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, NothingLeft | Busy):
            # Answers of routine traffic (a crowd asking for work), not problems: Django would log
            # each as a WARNING ("Not Found: /api/v1/work/next/"), dozens a minute near a job's end.
            log_response("%s: %s", response.reason_phrase, context["request"].path, response=response,
                         request=context["request"], level="debug")
        return response
    if isinstance(exc, SuspiciousOperation):
        return _suspicious(exc)
    if isinstance(exc, DjangoValidationError):
        details = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = drf.ValidationError(details)
    elif isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, drf.ValidationError):
        response.data = error_body("invalid", _first_message(exc.detail), _per_field(exc.detail))
    elif isinstance(exc, drf.UnsupportedMediaType):
        response.data = _unsupported_media_type(context)
    elif isinstance(exc, drf.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        response.data = error_body(code, str(exc.detail))
    return response


def _unsupported_media_type(context: dict[str, Any]) -> dict[str, Any]:
    """A body this operation cannot read (a form where JSON is read): the 415 names the types it reads."""
    request = context.get("request")
    sent = (getattr(request, "content_type", "") or "").split(";")[0].strip()[:100]
    accepted = [parser.media_type for parser in getattr(request, "parsers", None) or []]
    message = f"This operation does not read {sent or 'that body'}: send {' or '.join(accepted) or 'no body'}."
    return error_body("unsupported_media_type", message, {"Content-Type": sent, "accepted": accepted})


# Django's own refusals of a body it reads for a view (too many multipart fields): its message
# says which limit. Any other suspicious request is not described back to its sender.
_SAID = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)


def _suspicious(exc: SuspiciousOperation) -> Response:
    """A 400 in the error format, not Django's HTML page (with DEBUG on, its debug page); logged
    where Django logs it, for whoever watches django.security."""
    logging.getLogger(f"django.security.{exc.__class__.__name__}").error(str(exc))
    message = str(exc) if isinstance(exc, _SAID) else "The request was refused as malformed."
    return Response(error_body("invalid", message), status=400)
