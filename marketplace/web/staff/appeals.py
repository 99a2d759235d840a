"""Staff pages for appeals and held withdrawals (/staff/appeals/), and a worker's platform-wide
suspension (POSTs from the staff worker page).

Admins decide any job's appeal (web/appeal_forms.py, the same form as the client's), and the
withdrawals a rule's block held over QUORUM_WITHDRAW_REVIEW_SHARE (flows_appeals). Suspension
stops a worker everywhere: they claim and submit nothing (labeling.claiming, labeling.submitting).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from marketplace import flows_appeals
from marketplace.accounts import services as accounts
from marketplace.accounts.models import Role, User
from marketplace.billing import holding
from marketplace.errors import ApplicationError
from marketplace.quality import appeal_reads
from marketplace.quality.models import APPEAL_REASON_MAX, Appeal
from marketplace.web.access import staff_required
from marketplace.web.appeal_forms import appeal_decide_from_post, appeal_form_kept
from marketplace.web.staff import workers


def _ctx(request: HttpRequest) -> dict[str, Any]:
    raw = request.GET.get("status", "open")
    status = raw if raw in Appeal.Status.values else ""
    return {"appeals": appeal_reads.appeals_for_staff(status=status), "status": status,
            "statuses": Appeal.Status.choices, "reason_max": APPEAL_REASON_MAX,
            "reviews": appeal_reads.withdrawal_reviews(), "cap": settings.QUORUM_WITHDRAW_REVIEW_SHARE,
            "decide_url": "staff-appeal-decide", "staff": True}


@staff_required
@require_GET
def appeals(request: HttpRequest) -> HttpResponse:
    return render(request, "staff/appeals.html", _ctx(request))


@staff_required
@require_POST
def appeal_decide(request: HttpRequest, appeal_id: int) -> HttpResponse:
    status = appeal_decide_from_post(request, appeal_id)
    if status == 303:
        return redirect("staff-appeals")
    ctx = {**_ctx(request), "kept": appeal_form_kept(request, appeal_id)}  # the form as it was sent
    return render(request, "staff/appeals.html", ctx, status=status)


@staff_required
@require_POST
def withdrawal_decide(request: HttpRequest, review_id: int) -> HttpResponse:
    verdict, note = request.POST.get("verdict", ""), request.POST.get("note", "")
    if verdict not in ("approve", "dismiss") or len(note) > APPEAL_REASON_MAX:
        messages.error(request, f"Choose to withdraw or to keep the pay; a note is at most {APPEAL_REASON_MAX} characters.")
        return render(request, "staff/appeals.html", _ctx(request), status=400)
    try:
        review, decided = flows_appeals.withdrawal_review_decide(
            review_id=review_id, actor=request.user, approve=verdict == "approve", note=note,  # type: ignore[arg-type]
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return render(request, "staff/appeals.html", _ctx(request), status=error.status)
    messages.success(request, f"{review.worker.username}'s pay in {review.job.title}: " + _decided_words(decided))
    return redirect("staff-appeals")


def _decided_words(decided: holding.Decided) -> str:
    """What the decision moved, in the admin's words (billing/holding.py)."""
    if decided.released:
        return _moved_words(decided) + (
            f" {decided.released} of it had been released to the worker while under review and stays theirs: "
            "released pay is never taken back.")
    return _moved_words(decided)


def _moved_words(decided: holding.Decided) -> str:
    if decided.withdrawn and decided.settled:
        return (f"{decided.withdrawn} withdrawn. The job had settled, so this pay was held from the worker "
                "and went to Quorum with the settlement; it stays there.")
    if decided.withdrawn:
        return f"{decided.withdrawn} withdrawn back to the job's escrow."
    if decided.paid_by_quorum:
        return (f"{decided.kept} kept by the worker. The job had settled, so Quorum paid the held "
                f"{decided.paid_by_quorum} from its revenue into their available pay.")
    if decided.kept:
        return f"{decided.kept} kept by the worker."
    return "nothing was left to withdraw (the pay had been released or withdrawn already)."


@staff_required
@require_POST
def worker_suspend(request: HttpRequest, worker_id: int) -> HttpResponse:
    worker = get_object_or_404(User, pk=worker_id, role=Role.WORKER)
    try:
        flows_appeals.worker_suspend(worker=worker, actor=request.user,  # type: ignore[arg-type]
                                     reason=request.POST.get("reason", ""), evidence=request.POST.get("evidence", ""))
    except ApplicationError as error:  # the worker page again, with what to fix; nothing changed
        ctx = workers.worker_ctx(request, worker)
        ctx.update(suspend_errors=[error.message], suspend_form={
            "reason": request.POST.get("reason", "")[:2001], "evidence": request.POST.get("evidence", "")[:2001]})
        return render(request, "staff/worker.html", ctx, status=error.status)
    messages.success(request, f"{worker.username} is suspended: they can claim no work anywhere.")
    return redirect("staff-worker", worker_id=worker.pk)


@staff_required
@require_POST
def worker_unsuspend(request: HttpRequest, worker_id: int) -> HttpResponse:
    worker = get_object_or_404(User, pk=worker_id, role=Role.WORKER)
    try:
        accounts.user_unsuspend(worker=worker, actor=request.user,  # type: ignore[arg-type]
                                note=request.POST.get("note", "")[:2001])
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{worker.username}'s suspension is lifted.")
    return redirect("staff-worker", worker_id=worker.pk)
