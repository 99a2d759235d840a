"""Staff: who signed up lately (workers and clients), newest first, so admins notice a wave of new
accounts, a client waiting for a first top-up, or a worker to welcome or to watch."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from marketplace.accounts.models import Role, User
from marketplace.web.access import staff_required

# The windows the page offers, in days; anything else reads as the default.
WINDOWS = (7, 30, 90, 365)
DEFAULT_WINDOW = 30
PER_PAGE = 50


def _signups(*, days: int, role: str) -> QuerySet[User]:
    since = timezone.now() - timedelta(days=days)
    qs = User.objects.filter(date_joined__gte=since).exclude(role=Role.ADMIN)
    if role in (Role.WORKER, Role.CLIENT):
        qs = qs.filter(role=role)
    return qs.select_related("organization").order_by("-date_joined", "-id")


@staff_required
@require_GET
def signups(request: HttpRequest) -> HttpResponse:
    """/staff/signups/?days=30&role=worker: new accounts in the window, a page at a time."""
    raw_days = request.GET.get("days", "")
    days = int(raw_days) if raw_days.isdigit() and int(raw_days) in WINDOWS else DEFAULT_WINDOW
    role = request.GET.get("role", "")
    role = role if role in (Role.WORKER, Role.CLIENT) else ""
    qs = _signups(days=days, role=role)
    page = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    ctx: dict[str, Any] = {
        "page": page, "days": days, "role": role, "windows": WINDOWS, "total": page.paginator.count,
        "roles": [("", "Workers and clients"), (Role.WORKER, "Workers"), (Role.CLIENT, "Clients")],
    }
    return render(request, "staff/signups.html", ctx)
