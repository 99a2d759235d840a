"""Every 4xx under /api/ is the one error body, whoever answered it.

Views answer through the exception handler (api/exceptions.py) and unmatched paths through
api/notfound.py; this catches what answers before or around them in Django's own shape: an HTML
"Bad Request (400)" for a bad Host header, a refusal of a middleware, the debug page with DEBUG on.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from marketplace.errors import error_body

_CODES = {400: "invalid", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
          405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type", 429: "throttled"}


class ApiErrorShapeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (request.path_info.startswith("/api/") and 400 <= response.status_code < 500
                and not response.get("Content-Type", "").startswith("application/json")):
            code = _CODES.get(response.status_code, "error")
            body = error_body(code, f"{response.reason_phrase}: the request was refused before the API read it.")
            replaced = JsonResponse(body, status=response.status_code, json_dumps_params={"separators": (",", ":")})
            for header in ("Retry-After", "Allow", "WWW-Authenticate"):
                if header in response:
                    replaced[header] = response[header]
            return replaced
        return response
