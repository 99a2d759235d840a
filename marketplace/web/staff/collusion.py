"""Staff page for collusion flags: pairs of workers whose answers agree, or whose submissions
fall in step, far beyond chance (quality/collusion.py), with the figures, grouped too.

An admin dismisses or confirms a flag. Confirming penalizes no one: the page then points at
each worker's staff page, where blocking is its own deliberate action with its own reason.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from marketplace.consensus.collusion import DEFAULT_ALPHA, DEFAULT_TIMING_WINDOW
from marketplace.errors import ApplicationError, Conflict
from marketplace.quality import collusion
from marketplace.quality.models import CollusionFlag
from marketplace.web.access import staff_required

PER_PAGE_MAX = 200  # the most significant flags first; more than this is a crisis, not a list


def _ctx(status: str, error: str = "") -> dict[str, Any]:
    listed = list(collusion.collusion_flags_listed(status=status)[:PER_PAGE_MAX])
    # Groups from everything still suspected (open or confirmed), whatever the filter shows.
    suspected = collusion.collusion_flags_listed(status="all").exclude(status=CollusionFlag.Status.DISMISSED)
    ctx = {
        "flags": listed, "status": status, "statuses": collusion.STATUS_FILTERS,
        "groups": collusion.collusion_groups_listed(suspected[:PER_PAGE_MAX * 5]),
        "note_max": collusion.NOTE_MAX, "error": error,
        "window": DEFAULT_TIMING_WINDOW, "alpha": DEFAULT_ALPHA,
    }
    return ctx


@staff_required
@require_GET
def flags(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "open")
    status = status if status in collusion.STATUS_FILTERS else "open"
    return render(request, "staff/collusion.html", _ctx(status))


@staff_required
@require_POST
def flag_review(request: HttpRequest, flag_id: int) -> HttpResponse:
    decision = request.POST.get("decision", "")
    note = request.POST.get("note", "")
    try:
        flag = collusion.collusion_flag_review(flag_id=flag_id, actor=request.user,  # type: ignore[arg-type]
                                               decision=decision, note=note)
    except ApplicationError as error:
        code = 409 if isinstance(error, Conflict) else 400
        return render(request, "staff/collusion.html", _ctx("open", str(error)), status=code)
    pair = f"{flag.worker_a.username} and {flag.worker_b.username}"
    if flag.status == CollusionFlag.Status.CONFIRMED:
        messages.success(request, f"Confirmed: {pair} in {flag.job.title}. Nobody was blocked; block each "
                                  "worker from their page if you decide to.")
    else:
        messages.success(request, f"Dismissed: {pair} in {flag.job.title}.")
    return redirect(reverse("staff-collusion") + f"?status={flag.status}")
