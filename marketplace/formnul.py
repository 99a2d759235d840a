"""Form bodies holding a NUL character in a text field are refused before any view reads them.

PostgreSQL text cannot hold NUL (psycopg raises DataError: a 500), and many pages and API views
hand a field of the form straight to a service (instructions, reasons, notes). JSON bodies are
checked by the strict JSON parser (marketplace/parsing.py); this is the same rule for forms:
- URL-encoded bodies, the portal's and the API's: the middleware below, from the raw body.
- Multipart bodies on the portal's pages: the middleware below, from `request.POST` (the CSRF
  middleware after it parses the body at that point anyway).
- Multipart bodies of the API: `StrictMultiPartParser`, when a view first reads `request.data`.
  Not the middleware: an import view refuses an oversized upload before it is parsed, and a
  malformed body stays DRF's parse_error in the API's error format.
Uploaded files' contents are not checked here: each importer checks its own input, line by line
(and Django drops unprintable characters from a file's name).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse, QueryDict
from rest_framework.parsers import DataAndFiles, MultiPartParser

from marketplace.errors import ApplicationError, error_body

_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"
NUL = "\x00"


def holds_nul(body: bytes) -> bool:
    """A URL-encoded body with NUL in a name or value: %00 (a literal % is always %25) or raw."""
    return b"%00" in body or b"\x00" in body


def nul_field(fields: QueryDict) -> str | None:
    """The name of the first field whose name or a value holds NUL, shown escaped; None if none."""
    for name, values in fields.lists():
        if NUL in name or any(isinstance(value, str) and NUL in value for value in values):
            return name.replace(NUL, "\\x00")[:100]  # shown as \x00, not the character itself
    return None


def nul_message(field: str | None) -> str:
    where = f"The field '{field}'" if field is not None else "A field"
    return f"{where} holds a NUL character, which cannot be stored; remove it."


def _refusal(request: HttpRequest, field: str | None) -> HttpResponse:
    message = nul_message(field)
    if request.path.startswith("/api/"):
        details = {"field": field} if field is not None else {}
        return JsonResponse(error_body("invalid", message, details), status=400)
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


class FormNulRefusedMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            if request.content_type == _FORM and holds_nul(request.body):
                # Parsed only to name the field; an undecodable name falls back to "A field".
                return _refusal(request, nul_field(QueryDict(request.body, encoding=request.encoding)))
            # Django parses multipart into request.POST for POST only; the API has its parser.
            if (request.content_type == _MULTIPART and request.method == "POST"
                    and not request.path.startswith("/api/")):
                field = nul_field(request.POST)
                if field is not None:
                    return _refusal(request, field)
        return self.get_response(request)


class StrictMultiPartParser(MultiPartParser):
    """DRF's multipart parser refusing NUL in a text field (any method: POST, PUT and PATCH)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> DataAndFiles:
        parsed = super().parse(stream, media_type, parser_context)
        field = nul_field(parsed.data)
        if field is not None:
            raise ApplicationError(nul_message(field), details={"field": field})
        return parsed
