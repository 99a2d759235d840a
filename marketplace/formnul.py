"""Form bodies holding a NUL character are refused before any view reads them.

PostgreSQL text cannot hold NUL (psycopg raises DataError: a 500), and many pages hand a field
of `request.POST` straight to a service (instructions, reasons, notes). JSON bodies are checked
by the strict JSON parser (marketplace/parsing.py); this is the same rule for URL-encoded forms,
the portal's and the API's. Multipart bodies are left to Django's form fields (CharField refuses
NUL): reading them here would parse uploads before an import view sets its upload handlers.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from marketplace.errors import error_body

_FORM = "application/x-www-form-urlencoded"
_MESSAGE = "A field holds a NUL character, which cannot be stored; remove it."


def holds_nul(body: bytes) -> bool:
    """A URL-encoded body with NUL in a name or value: %00 (a literal % is always %25) or raw."""
    return b"%00" in body or b"\x00" in body


class FormNulRefusedMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD", "OPTIONS") and request.content_type == _FORM:
            if holds_nul(request.body):
                if request.path.startswith("/api/"):
                    return JsonResponse(error_body("invalid", _MESSAGE), status=400)
                return HttpResponseBadRequest(_MESSAGE, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
