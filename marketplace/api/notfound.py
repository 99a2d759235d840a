"""Under /api/, every 404 answers in the one error body ({"error": {"code", "message", "details"}}),
whatever DEBUG says.

Without DEBUG the site's handler404 (web/public/site.not_found) already does; with DEBUG on (as
`make demo` runs) Django answers a path no route matches with its own HTML page and never calls
that handler, so an API client following the README got HTML. Views under /api/ answer JSON
already; what is left is the path nothing resolves.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from marketplace.errors import error_body

MESSAGE = "No such API endpoint."


class ApiNotFoundMiddleware:
    """Listed after CommonMiddleware, so its slash redirect (APPEND_SLASH) still sees the 404."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 404
            and request.path.startswith("/api/")
            and not str(response.get("Content-Type", "")).startswith("application/json")
        ):
            return JsonResponse(error_body("not_found", MESSAGE), status=404)
        return response
