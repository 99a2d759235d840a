"""The client's appeals at /portal/appeals/: workers' appeals in the organization's jobs, open
ones first, each with the decision form (web/appeal_forms.py). Another organization's appeal is
a 404 (the flow's scoping), like every other object of theirs."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from marketplace.accounts.models import User
from marketplace.quality import appeal_reads
from marketplace.quality.models import APPEAL_REASON_MAX, Appeal
from marketplace.web.access import client_required
from marketplace.web.appeal_forms import appeal_decide_from_post, appeal_form_kept


def _status(raw: str | None) -> str:
    return raw if raw in Appeal.Status.values else ""


def _ctx(request: HttpRequest) -> dict[str, Any]:
    user: User = request.user  # type: ignore[assignment]
    status = _status(request.GET.get("status"))
    return {"appeals": appeal_reads.appeals_for_organization(user=user, status=status), "status": status,
            "statuses": Appeal.Status.choices, "reason_max": APPEAL_REASON_MAX,
            "decide_url": "client-appeal-decide", "staff": False}


@client_required
@require_GET
def appeals(request: HttpRequest) -> HttpResponse:
    return render(request, "client/appeals.html", _ctx(request))


@client_required
@require_POST
def appeal_decide(request: HttpRequest, appeal_id: int) -> HttpResponse:
    status = appeal_decide_from_post(request, appeal_id)
    if status == 303:
        return redirect("client-appeals")
    ctx = {**_ctx(request), "kept": appeal_form_kept(request, appeal_id)}  # the form as it was sent
    return render(request, "client/appeals.html", ctx, status=status)
