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

# CommonMiddleware redirects a path missing its slash only when nothing matches it, and this
# route matches everything under /api/; the view gives that redirect itself (as the admin's
# catch-all does), built by CommonMiddleware so it stays the same: the query kept, and with
# DEBUG on a POST, PUT, PATCH or DELETE refused rather than redirected as a GET.
_SLASH = CommonMiddleware(lambda request: HttpResponse())


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
                return _SLASH.response_redirect_class(_SLASH.get_full_path_with_slash(request))
    return JsonResponse(error_body("not_found", MESSAGE), status=404)
