"""Site-wide pages: the landing page, the health check, the portal's role home and its top bar."""

from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse

from marketplace.billing.selectors import tier_list
from marketplace.dbdown import database_down_response, database_unreachable
from marketplace.errors import error_body
from marketplace.health import healthz_response


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "public/home.html", {"tiers": tier_list()})


def healthz(request: HttpRequest) -> JsonResponse:
    """Answered by marketplace.health.HealthzMiddleware before this view; kept routed so that
    reverse("healthz") and a stack without the middleware answer the same."""
    return healthz_response()


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """API paths answer in the one error format; pages get the HTML 404."""
    if _wants_json(request):
        return JsonResponse(error_body("not_found", "No such API endpoint."), status=404,
                            json_dumps_params={"separators": (",", ":")})
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """Answers without the database: the error may be that it is down. Rendered without the request,
    so no context processor asks for the user; one that did failed again inside this view, and
    Django nested one traceback per middleware layer (2,400 lines a page view, outside its logging).
    A database outage raised outside a view (DatabaseUnavailableMiddleware sees those) is a 503 here."""
    exc = sys.exc_info()[1]  # set when Django calls this while handling the exception
    if exc is not None and database_unreachable(exc):
        return database_down_response(request, exc)
    if _wants_json(request):
        return JsonResponse(error_body("server_error", "Something went wrong on our side."), status=500)
    return HttpResponse(render_to_string("500.html"), status=500)


# The portal's sections by role: (URL name, label). Each app's `urls.py` defines its names.
_NAV: dict[str, list[tuple[str, str]]] = {
    "client": [("client-dashboard", "Jobs"), ("job-create", "New job"), ("client-qualifications", "Qualifications"),
               ("client-billing", "Billing"), ("client-webhooks", "Webhooks"), ("client-appeals", "Appeals"),
               ("tokens", "API tokens")],
    "worker": [("work-list", "Find work"), ("worker-earnings", "Earnings"), ("worker-quality", "My quality"),
               ("worker-appeals", "Appeals"), ("tokens", "API tokens")],
    "admin": [("staff-workers", "Workers"), ("staff-jobs", "Jobs"), ("staff-clients", "Clients"),
              ("staff-qualifications", "Qualifications"), ("staff-payouts", "Payouts"), ("staff-appeals", "Appeals"),
              ("staff-audit", "Audit"), ("staff-signups", "Sign-ups"), ("staff-collusion", "Collusion")],
}


def _role_of(user: Any) -> str | None:
    if not user.is_authenticated:
        return None
    return "admin" if user.is_admin else ("client" if user.is_client else "worker")


def portal_nav(request: HttpRequest) -> dict[str, Any]:
    """Template context: the top bar's links for the signed-in user's role."""
    role = _role_of(request.user)
    items = [{"url": reverse(name), "label": label, "active": False} for name, label in _NAV.get(role or "", [])]
    # Only the longest matching prefix is current (/portal/jobs/new/ is "New job", not also "Jobs").
    matches = [item for item in items if request.path.startswith(str(item["url"]))]
    if matches:
        max(matches, key=lambda item: len(str(item["url"])))["active"] = True
    return {"nav_items": items, "nav_role": role}


@login_required
def portal(request: HttpRequest) -> HttpResponse:
    """/portal/: each role's home."""
    return redirect({"admin": "staff-workers", "client": "client-dashboard"}.get(_role_of(request.user) or "", "work-list"))
