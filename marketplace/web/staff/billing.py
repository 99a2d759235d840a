"""Staff portal pages for money and jobs: the jobs overview across organizations, payout batch
review (each worker's quality beside the amount), and the billing audit.

Billing sits downstream of quality, so these pages may read quality's selectors; the worker
pages live in web/staff/workers.py, whose table helpers (sort whitelist, query strings) are reused.

Every view checks the role before the method (`staff_required` outermost): a visitor is sent to
log in and a non-admin gets 404 even for a POST-only action, never a 405 that admits it exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import F, FloatField, Q
from django.db.models.functions import Cast, Greatest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from marketplace.web.access import staff_required
from marketplace.billing import audit, payouts, statements
from marketplace.billing.models import (
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Payout,
    PayoutBatch,
)
from marketplace.billing.selectors import payout_batch_rows
from marketplace.errors import ApplicationError, Conflict
from marketplace.jobs.models import Job, JobStatus
from marketplace.quality import selectors as quality
from marketplace.quality.estimate import jobs_accuracy_estimates
from marketplace.web.staff.workers import sort_headers, sort_parse, with_params

PER_PAGE = 50
ZERO = Decimal("0.00")

# --- Jobs overview ------------------------------------------------------------------------

JOB_COLUMNS = [
    ("job", "Job", False), ("org", "Organization", False), ("tier", "Tier", False), ("status", "Status", False),
    ("progress", "Progress", True), ("judgments", "Judgments", True), ("escrow", "Escrow left", True),
    ("consensus", "Expected accuracy", True), ("created", "Created", True),
]
# Every column but the two read from other tables sorts in SQL; those two are not sortable.
_JOB_SQL = {
    "job": "title", "org": "organization__name", "tier": "tier", "status": "status",
    "progress": "progress", "judgments": "judgment_count", "created": "created_at",
}


@staff_required
@require_GET
def jobs(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    status = status if status in JobStatus.values else ""
    search = request.GET.get("q", "").strip()[:150]
    sort = sort_parse(request.GET.get("sort"), allowed=set(_JOB_SQL), default="-created")
    rows = Job.objects.select_related("organization").annotate(
        progress=Cast(F("completed_item_count"), FloatField()) / Greatest(F("item_count"), 1),
    )
    if status:
        rows = rows.filter(status=status)
    if search:
        rows = rows.filter(Q(title__icontains=search) | Q(organization__name__icontains=search))
    field = _JOB_SQL[sort.key]
    paginator = Paginator(rows.order_by(f"-{field}" if sort.descending else field, "-id"), PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    ids = [job.pk for job in page.object_list]
    escrow = dict(LedgerAccount.objects.filter(kind=AccountKind.CLIENT_ESCROW, job_id__in=ids)
                  .values_list("job_id", "balance"))
    consensus = jobs_accuracy_estimates(job_ids=ids)  # the figure each job's page shows
    headers = sort_headers(request.GET, JOB_COLUMNS, sort)
    for h in headers:
        h["sortable"] = h["key"] in _JOB_SQL
    ctx = {
        "rows": [{
            "job": job, "percent": round(100 * job.completed_item_count / job.item_count, 1) if job.item_count else 0,
            "escrow": escrow.get(job.pk), "consensus": consensus.get(job.pk),
        } for job in page.object_list],
        "page": page, "paginator": paginator, "headers": headers, "sort": sort,
        "status": status, "search": search, "statuses": JobStatus.choices,
        "prev_url": with_params(request.GET, page=str(page.previous_page_number())) if page.has_previous() else None,
        "next_url": with_params(request.GET, page=str(page.next_page_number())) if page.has_next() else None,
    }
    return render(request, "staff/jobs.html", ctx)


# --- Payouts ------------------------------------------------------------------------------

def _quality_by_worker(worker_ids: list[int]) -> dict[int, quality.StaffWorkerRow]:
    rows = quality.workers_overview().filter(worker_id__in=worker_ids)
    return {row.worker_id: row for row in quality.staff_worker_rows(rows=list(rows))}


@staff_required
@require_GET
def payout_list(request: HttpRequest) -> HttpResponse:
    waiting = list(Payout.objects.filter(status=Payout.Status.REQUESTED, batch__isnull=True)
                   .select_related("worker").order_by("id"))
    scores = _quality_by_worker([p.worker_id for p in waiting])
    paginator = Paginator(statements.payout_batches().select_related("created_by", "reviewed_by"), 20)
    page = paginator.get_page(request.GET.get("page"))
    ctx = {
        "waiting": [{"payout": p, "q": scores.get(p.worker_id)} for p in waiting],
        "waiting_total": sum((p.amount for p in waiting), ZERO),
        "batches": page.object_list, "page": page, "paginator": paginator,
        "prev_url": with_params(request.GET, page=str(page.previous_page_number())) if page.has_previous() else None,
        "next_url": with_params(request.GET, page=str(page.next_page_number())) if page.has_next() else None,
    }
    return render(request, "staff/payouts.html", ctx)


@staff_required
@require_POST
def payout_batch_create(request: HttpRequest) -> HttpResponse:
    try:
        batch = payouts.payout_batch_create(admin=request.user)  # type: ignore[arg-type]
    except ApplicationError as error:
        messages.error(request, str(error))
        return redirect("staff-payouts")
    messages.success(request, f"Batch #{batch.pk} gathers {batch.payouts.count()} payout request(s) for review.")
    return redirect("staff-payout", batch_id=batch.pk)


def _batch_get(batch_id: int) -> PayoutBatch:
    return get_object_or_404(PayoutBatch.objects.select_related("created_by", "reviewed_by"), pk=batch_id)


@staff_required
@require_GET
def payout_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    return _payout_page(request, _batch_get(batch_id))


def _payout_page(request: HttpRequest, batch: PayoutBatch, *, reject_error: str = "",
                 reason: str = "") -> HttpResponse:
    rows = payout_batch_rows(batch=batch)
    scores = _quality_by_worker([row.worker_id for row in rows])
    ctx = {
        "batch": batch, "rows": [{"row": row, "q": scores.get(row.worker_id)} for row in rows],
        "can_review": batch.status == PayoutBatch.Status.PENDING,
        "can_reject": batch.status in (PayoutBatch.Status.PENDING, PayoutBatch.Status.APPROVED),
        "can_export": batch.status in (PayoutBatch.Status.APPROVED, PayoutBatch.Status.PAID),
        # Shown once approved (the page may predate the export, a download that leaves it as it
        # was); the service refuses a batch never exported, and the page says to export first.
        "can_pay": batch.status == PayoutBatch.Status.APPROVED,
        "reject_error": reject_error, "reason": reason,  # a refused rejection keeps what was typed
    }
    return render(request, "staff/payout.html", ctx, status=400 if reject_error else 200)


@staff_required
@require_POST
def payout_action(request: HttpRequest, batch_id: int, action: str) -> HttpResponse:
    """approve, reject (a reason is required) or paid; a status that forbids it is a message.

    Post/Redirect/Get: every outcome but a refused rejection (a form that keeps the reason
    typed) redirects to the batch page, so reloading it never posts the action again."""
    batch = _batch_get(batch_id)
    admin = request.user
    try:
        if action == "approve":
            payouts.payout_batch_approve(admin=admin, batch=batch)  # type: ignore[arg-type]
            messages.success(request, f"Batch #{batch.pk} is approved: export it for the payment provider.")
        elif action == "reject":
            reason = request.POST.get("reason", "").strip()[:2000]
            if not reason:
                return _payout_page(request, batch, reject_error="A reason is required to reject a batch.")
            try:
                payouts.payout_batch_reject(admin=admin, batch=batch, reason=reason,  # type: ignore[arg-type]
                                            provider_declined=request.POST.get("provider_declined") == "1")
            except Conflict as error:  # e.g. exported: the page asks again, the reason kept
                return _payout_page(request, batch, reject_error=str(error), reason=reason)
            messages.success(request, f"Batch #{batch.pk} is rejected ({reason}); "
                                      "every amount is back with its worker.")
        elif action == "paid":
            # Never exported, or no longer approved: ApplicationError below says which, as a message.
            payouts.payout_batch_mark_paid(admin=admin, batch=batch)  # type: ignore[arg-type]
            messages.success(request, f"Batch #{batch.pk} is marked paid.")
    except ApplicationError as error:
        messages.error(request, str(error))
    return redirect("staff-payout", batch_id=batch.pk)


@staff_required
@require_POST
def payout_export(request: HttpRequest, batch_id: int) -> HttpResponse:
    """The provider's CSV. A POST: exporting stamps the batch's exported_at."""
    batch = _batch_get(batch_id)
    try:
        body = payouts.payout_batch_export_csv(admin=request.user, batch=batch)  # type: ignore[arg-type]
    except ApplicationError as error:
        messages.error(request, str(error))
        return redirect("staff-payout", batch_id=batch.pk)
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="payout-batch-{batch.pk}.csv"'
    return response


# --- Audit --------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckResult:
    title: str
    violations: list[str]

    @property
    def ok(self) -> bool:
        return not self.violations


# The checks of `manage.py billing_audit`, run one at a time so each gets its own verdict.
# audit.ledger_audit runs the same functions in this order; they are private there for now
# (asked the billing owner for a public list of checks).
AUDIT_CHECKS = audit.CHECKS


@staff_required
@require_GET
def audit_page(request: HttpRequest) -> HttpResponse:
    ctx: dict[str, Any] = {"ran": False}
    if request.GET.get("run") == "1":
        report = audit.AuditReport()
        report.transactions = LedgerTransaction.objects.count()
        report.entries = LedgerEntry.objects.count()
        report.accounts = LedgerAccount.objects.count()
        checks = []
        for title, check in AUDIT_CHECKS:
            before = len(report.violations)
            check(report)
            checks.append(CheckResult(title=title, violations=report.violations[before:][:50]))
        ctx = {"ran": True, "report": report, "checks": checks, "totals": sorted(report.totals.items())}
    return render(request, "staff/audit.html", ctx)
