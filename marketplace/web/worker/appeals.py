"""The worker's appeals at /work/appeals/: what they can still appeal (automatic blocks, missed
gold answers in jobs that show gold feedback, within QUORUM_APPEAL_DAYS), a form to file one,
and their appeals with each decision. Only the worker's own rows (quality.appeal_reads)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from marketplace.accounts.models import User
from marketplace.errors import ApplicationError
from marketplace.quality import appeal_reads
from marketplace.quality.appeals import appeal_file
from marketplace.quality.models import APPEAL_REASON_MAX
from marketplace.web.access import worker_required


def _ctx(worker: User, **extra: Any) -> dict[str, Any]:
    return {
        "appealable": appeal_reads.appealable_for(worker=worker),
        "appeals": appeal_reads.appeals_of_worker(worker=worker),
        "reason_max": APPEAL_REASON_MAX, "days": settings.QUORUM_APPEAL_DAYS, "form": {}, "error": "",
        **extra,
    }


@worker_required
@require_GET
def appeals(request: HttpRequest) -> HttpResponse:
    # ?subject=gold:<judgment> (the labeling page's feedback links it): that choice comes ticked.
    form = {"subject": request.GET.get("subject", "")[:40]}
    return render(request, "worker/appeals.html", _ctx(request.user, form=form))  # type: ignore[arg-type]


def _id(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None


@worker_required
@require_POST
def appeal_new(request: HttpRequest) -> HttpResponse:
    """File an appeal: `subject` is "block:<job id>" or "gold:<judgment id>" (one of the page's
    choices), `reason` the worker's words (at most APPEAL_REASON_MAX characters)."""
    worker: User = request.user  # type: ignore[assignment]
    kind, _, raw_id = request.POST.get("subject", "").partition(":")
    reason = request.POST.get("reason", "")
    subject_id = _id(raw_id)
    try:
        if kind not in ("block", "gold") or subject_id is None:
            raise ApplicationError("Choose what you are appealing.")
        appeal = appeal_file(
            worker=worker, kind=kind, reason=reason,
            job_id=subject_id if kind == "block" else None, judgment_id=subject_id if kind == "gold" else None,
        )
    except ApplicationError as error:
        ctx = _ctx(worker, error=error.message, form={"subject": request.POST.get("subject", "")[:40],
                                                      "reason": reason[:APPEAL_REASON_MAX + 1]})
        return render(request, "worker/appeals.html", ctx, status=error.status)
    messages.success(request, f"Appeal {appeal.pk} filed. The job's client or an admin will decide.")
    return redirect("worker-appeals")
