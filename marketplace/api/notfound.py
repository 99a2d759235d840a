"""Under /api/, a path no route matches answers in the one error body ({"error": {"code",
"message", "details"}}), whatever DEBUG says and whatever the method.

Without DEBUG the site's handler404 (web/public/site.not_found) would already; with DEBUG on (as
`make demo` runs) Django answers a path no route matches with its own HTML page and never calls
that handler. So the root urlconf ends with a route that takes every /api/ path left over, and
this view answers it. Views under /api/ answer their own 404s (the exception handler).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.common import CommonMiddleware
from django.urls import Resolver404, resolve
from django.views.decorators.common import no_append_slash
from django.views.decorators.csrf import csrf_exempt

from marketplace.errors import error_body

MESSAGE = "No such API endpoint."
# As DRF writes its answers, so that every error body reads the same byte for byte.
COMPACT = {"separators": (",", ":")}

# CommonMiddleware redirects a path missing its slash only when nothing matches it, and this
# route matches everything under /api/; the view gives that redirect itself (as the admin's
# catch-all does), built by CommonMiddleware so it stays the same: the query kept.
_SLASH = CommonMiddleware(lambda request: HttpResponse())

# Only a read is redirected. A 301 (or 302) makes HTTP libraries send a POST again as a GET, so
# `POST /api/v1/jobs` listed the jobs and created nothing, silently; with DEBUG on Django raised
# instead (a 500 page). A 308 keeps the method, but it sends the body twice (an import twice
# 200 MiB), a streamed body cannot be sent again, and urllib does not follow it for a POST. So
# any other method is told the address it meant, once, and nothing is done.
_REDIRECTED = {"GET", "HEAD"}


@csrf_exempt  # an unknown address is a 404 for every method, before any CSRF check's 403
@no_append_slash  # `/api/nothing` + "/" matching this route is no reason to redirect
def api_not_found(request: HttpRequest) -> HttpResponse:
    if settings.APPEND_SLASH and not request.path_info.endswith("/"):
        try:
            match = resolve(f"{request.path_info}/", getattr(request, "urlconf", None))
        except Resolver404:
            pass
        else:
            if getattr(match.func, "should_append_slash", True):
                if request.method in _REDIRECTED:
                    return _SLASH.response_redirect_class(_SLASH.get_full_path_with_slash(request))
                return _missing_slash(request)
    return JsonResponse(error_body("not_found", MESSAGE), status=404, json_dumps_params=COMPACT)


def _missing_slash(request: HttpRequest) -> JsonResponse:
    meant = request.get_full_path(force_append_slash=True)
    message = f"No such API endpoint: the address ends with a slash. Send the {request.method} to {meant} instead."
    body = error_body("not_found", message, {"path": meant})
    return JsonResponse(body, status=404, json_dumps_params=COMPACT)
