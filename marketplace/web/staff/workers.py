"""Staff portal pages for worker quality: the review table and one worker's page, where an admin
blocks or unblocks them with a reason.

The table works without JavaScript: sorting and filtering are query parameters, each checked
against a whitelist; an unknown value falls back to the default instead of failing, so an old
bookmark or a hand-edited URL still shows the page. static/js/table.js only sorts the rows in
place when the whole result fits on one page.

Every view checks the role before the method (`staff_required` outermost), as in
web/staff/billing.py: a non-admin gets 404 for block/unblock, never a 405.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from marketplace import flows
from marketplace.web import charts
from marketplace.accounts import selectors as accounts_selectors
from marketplace.accounts.models import Role, User
from marketplace.web.access import staff_required
from marketplace.errors import ApplicationError
from marketplace.limits import MAX_REASON_CHARS
from marketplace.jobs.models import Job
from marketplace.quality import selectors
from marketplace.quality.evidence import evidence_read
from marketplace.quality.models import WorkerJobStats
from marketplace.quality.services import DELIVERED, BlockOutcome
from marketplace.billing.selectors import block_pay_withdrawn
from marketplace.money import money_text
from marketplace.quality.selectors import WorkerQuality

PER_PAGE = 50
MAX_SEARCH = 150

# (key, column title, numeric?) in table order; keys are the `sort` whitelist.
WORKER_COLUMNS = [
    ("worker", "Worker", False), ("gold", "Gold answers", True), ("accuracy", "Gold accuracy", True),
    ("ds", "Dawid-Skene", True), ("agreement", "Agreement", True), ("speed", "Median s/item", True),
    ("judgments", "Judgments", True), ("flags", "Flags", False), ("status", "Status", False),
]
DEFAULT_WORKER_SORT = "accuracy"  # worst gold accuracy first: the ones to review


# --- Table helpers (the jobs overview in web/staff/billing.py uses them too) ---------------

@dataclass(frozen=True)
class Sort:
    key: str
    descending: bool

    @property
    def param(self) -> str:
        return f"-{self.key}" if self.descending else self.key


def sort_parse(raw: str | None, *, allowed: set[str], default: str) -> Sort:
    """`sort=key` or `sort=-key`; anything outside `allowed` means the default."""
    raw = (raw or "").strip()
    key = raw.removeprefix("-")
    if key not in allowed:
        return Sort(default.removeprefix("-"), default.startswith("-"))
    return Sort(key, raw.startswith("-"))


def int_param(raw: str | None, *, default: int = 0, maximum: int = 1_000_000) -> int:
    raw = (raw or "").strip()
    return min(int(raw), maximum) if raw.isdigit() else default


def with_params(query: QueryDict, **changes: str | None) -> str:
    """The current query string with some parameters replaced (None removes one)."""
    params = query.copy()
    for name, value in changes.items():
        params.pop(name, None)
        if value not in (None, ""):
            params[name] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


def sort_headers(query: QueryDict, columns: list[tuple[str, str, bool]], sort: Sort) -> list[dict[str, Any]]:
    """One header per column: a link that sorts by it (a second click reverses), and aria-sort."""
    heads = []
    for key, title, numeric in columns:
        active = key == sort.key
        # A first click sorts ascending (worst accuracy, fastest answers first); again reverses.
        next_desc = (not sort.descending) if active else False
        heads.append({
            "key": key, "title": title, "num": numeric, "active": active,
            "url": with_params(query, sort=f"-{key}" if next_desc else key, page=None),
            "aria_sort": ("descending" if sort.descending else "ascending") if active else "none",
        })
    return heads


# --- The review table ---------------------------------------------------------------------

@staff_required
@require_GET
def workers(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    status = status if status in selectors.STAFF_STATUSES else ""
    min_gold = int_param(request.GET.get("min_gold"))
    search = request.GET.get("q", "").strip()[:MAX_SEARCH]
    sort = sort_parse(request.GET.get("sort"), allowed={k for k, _, _ in WORKER_COLUMNS}, default=DEFAULT_WORKER_SORT)

    filtered = selectors.staff_workers_filtered(status=status, min_gold=min_gold, search=search)
    if sort.key in selectors.STAFF_SQL_SORTS:
        paginator = Paginator(selectors.staff_workers_ordered(filtered, sort=sort.key, descending=sort.descending),
                              PER_PAGE)
        page = paginator.get_page(request.GET.get("page"))
        rows = selectors.staff_worker_rows(rows=list(page.object_list))
    else:
        # DS accuracy, agreement and speed are computed, not columns: sort every filtered row.
        everyone = selectors.staff_worker_rows(rows=list(filtered.order_by("worker_id")))
        paginator = Paginator(selectors.staff_rows_sorted(everyone, sort=sort.key, descending=sort.descending),
                              PER_PAGE)
        page = paginator.get_page(request.GET.get("page"))
        rows = list(page.object_list)

    accuracies = selectors.staff_accuracies(filtered)
    ctx = {
        "rows": rows, "page": page, "paginator": paginator,
        "headers": sort_headers(request.GET, WORKER_COLUMNS, sort),
        "sort": sort, "status": status, "min_gold": min_gold or "", "search": search,
        "statuses": selectors.STAFF_STATUSES,
        "complete": paginator.num_pages == 1,
        "prev_url": with_params(request.GET, page=str(page.previous_page_number())) if page.has_previous() else None,
        "next_url": with_params(request.GET, page=str(page.next_page_number())) if page.has_next() else None,
        "histogram": charts.histogram_svg(accuracies, title="Smoothed gold accuracy of the workers listed",
                                          x_title="gold accuracy", y_title="workers"),
        "with_gold": len(accuracies),
    }
    return render(request, "staff/workers.html", ctx)


# --- One worker ---------------------------------------------------------------------------

def _worker_get(worker_id: int) -> User:
    return get_object_or_404(User, pk=worker_id, role=Role.WORKER)


def _heatmaps(per_job: list[WorkerQuality], titles: dict[int, str], job_id: int | None) -> list[dict[str, Any]]:
    """One job's confusion matrix, or the matrices pooled over jobs sharing a label set
    (rows weighted by the judgments each run scored)."""
    with_matrix = [q for q in per_job if q.confusion and q.confusion_labels]
    if job_id is not None:
        chosen = [q for q in with_matrix if q.job_id == job_id]
        return [{
            "title": titles.get(q.job_id or 0, ""), "jobs": 1,
            "svg": charts.heatmap_svg(q.confusion or [], q.confusion_labels or [], q.confusion_labels or [],
                                      title=f"Confusion matrix in {titles.get(q.job_id or 0, '')}"),
        } for q in chosen]
    groups: dict[tuple[str, ...], list[WorkerQuality]] = {}
    for q in with_matrix:
        groups.setdefault(tuple(q.confusion_labels or []), []).append(q)
    out = []
    for labels, group in groups.items():
        weights = [max(q.agreement_judgments, 1) for q in group]
        total = sum(weights)
        size = len(labels)
        pooled = [[sum((q.confusion or [])[i][j] * w for q, w in zip(group, weights, strict=True)) / total
                   for j in range(size)] for i in range(size)]
        out.append({
            "title": ", ".join(labels), "jobs": len(group),
            "svg": charts.heatmap_svg(pooled, list(labels), list(labels),
                                      title=f"Confusion matrix pooled over {len(group)} job(s)"),
        })
    return out


# The gold history shows the first few data fields of each item, each value cut to a line.
GOLD_FIELDS_SHOWN = 3
GOLD_VALUE_CHARS = 80


def _field_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= GOLD_VALUE_CHARS else text[: GOLD_VALUE_CHARS - 1] + "…"


def _gold_row(j: Any) -> dict[str, Any]:
    """One gold answer as a reader wants it: the item's fields as name: value lines (escaped by the
    template like any text), and labels by their names with the key beside them."""
    data = j.item.data if isinstance(j.item.data, dict) else {"value": j.item.data}
    names = {c["key"]: c.get("name") or c["key"] for c in j.job.labels}
    expected = getattr(getattr(j.item, "gold", None), "label", None)
    return {
        "j": j,
        "fields": [(str(k), _field_text(v)) for k, v in list(data.items())[:GOLD_FIELDS_SHOWN]],
        "more_fields": max(len(data) - GOLD_FIELDS_SHOWN, 0),
        "expected": names.get(expected, expected) if expected is not None else None,
        "answered": names.get(j.label, j.label),
    }


def _worker_ctx(request: HttpRequest, worker: User, *, block_errors: list[str] | None = None,
                unblock_errors: list[str] | None = None, form: dict[str, str] | None = None) -> dict[str, Any]:
    per_job = selectors.worker_quality_by_job(worker_id=worker.pk)
    blocked = selectors.worker_blocked_job_ids(worker_id=worker.pk)
    job_ids = {q.job_id for q in per_job if q.job_id is not None} | blocked
    titles = dict(Job.objects.filter(pk__in=job_ids).values_list("pk", "title"))
    # Jobs that ended (completed, cancelled): a block there drops and withdraws nothing
    # (quality.services.DELIVERED), so the form must not say it does.
    ended = dict(Job.objects.filter(pk__in=job_ids - blocked, status__in=DELIVERED).values_list("pk", "status"))
    job_param = int_param(request.GET.get("job"), default=-1)
    heat_job = job_param if job_param in job_ids else None
    events = selectors.quality_events(worker_id=worker.pk)
    return {
        "worker": worker,
        "suspensions": list(accounts_selectors.suspensions_of(worker=worker)),
        "overall": selectors.worker_quality_overall(worker_id=worker.pk),
        "per_job": [{"q": q, "title": titles.get(q.job_id or 0, "")} for q in per_job],
        "heatmaps": _heatmaps(per_job, titles, heat_job),
        "heat_job": heat_job,
        "heat_choices": [(q.job_id, titles.get(q.job_id or 0, "")) for q in per_job if q.confusion],
        "gold_history": [_gold_row(j) for j in selectors.worker_gold_history(worker_id=worker.pk)],
        "events": [{"e": e, "job_title": titles.get(e.job_id or 0, f"job #{e.job_id}"),
                    "evidence": json.dumps(evidence_read(e.evidence), indent=2, sort_keys=True, default=str)} for e in events],
        "blockable": [(j, titles.get(j, "")) for j in sorted(job_ids - blocked)],
        # The select's rows: an ended job says so ("completed" or "cancelled"; "" while running).
        "blockable_rows": [(j, titles.get(j, ""), ended.get(j, "")) for j in sorted(job_ids - blocked)],
        "block_running": bool(job_ids - blocked - set(ended)), "block_ended": bool(ended),
        "blocked_jobs": [(j, titles.get(j, "")) for j in sorted(blocked)],
        "block_errors": block_errors or [], "unblock_errors": unblock_errors or [],
        "form": form or {}, "reason_limit": MAX_REASON_CHARS,
    }


def worker_ctx(request: HttpRequest, worker: User) -> dict[str, Any]:
    """The worker page's context (web/staff/appeals.py re-renders it after a refused suspension)."""
    return _worker_ctx(request, worker)


@staff_required
@require_GET
def worker(request: HttpRequest, worker_id: int) -> HttpResponse:
    return render(request, "staff/worker.html", _worker_ctx(request, _worker_get(worker_id)))


def _jobs_chosen(raw: str, *, allowed: set[int], allow_all: bool) -> list[int] | None:
    """The form's job choice as job ids: one of `allowed`, or every one for "all"; None if invalid."""
    if allow_all and raw == "all":
        return sorted(allowed) or None
    return [int(raw)] if raw.isdigit() and int(raw) in allowed else None


def _reason(request: HttpRequest) -> str:
    # Whole, never cut: a longer reason is refused with _reason_errors (cutting it at the limit
    # recorded a text the admin never wrote, silently).
    return request.POST.get("reason", "").strip()


def _reason_errors(reason: str) -> list[str]:
    """The block and unblock forms' reason rules, as the service (quality.services._reason_clean)
    and the API apply them, on the form beside the other errors."""
    if not reason:
        return ["A reason is required."]
    if len(reason) > MAX_REASON_CHARS:
        return [f"The reason is {len(reason):,} characters long; at most {MAX_REASON_CHARS:,} are allowed."]
    return []


@staff_required
@require_POST
def worker_block(request: HttpRequest, worker_id: int) -> HttpResponse:
    """Block from one job or from every job the worker works in and is not yet blocked from.
    Each job is its own flow call (its own transaction): a failure on one leaves the others done."""
    worker = _worker_get(worker_id)
    blocked = selectors.worker_blocked_job_ids(worker_id=worker.pk)
    worked = set(WorkerJobStats.objects.filter(worker=worker).values_list("job_id", flat=True))
    reason, raw_job = _reason(request), request.POST.get("job", "")
    errors = []
    chosen = _jobs_chosen(raw_job, allowed=worked - blocked, allow_all=True)
    if chosen is None:
        errors.append("Choose a job this worker works in and is not blocked from.")
    errors += _reason_errors(reason)
    if request.POST.get("confirm") != "yes":
        errors.append("Tick the box to confirm what the block does.")
    if errors or chosen is None:
        ctx = _worker_ctx(request, worker, block_errors=errors, form={"job": raw_job, "reason": reason})
        return render(request, "staff/worker.html", ctx, status=400)
    failed = []
    for job in Job.objects.filter(pk__in=chosen).order_by("pk"):
        try:
            outcome = flows.worker_block(job=job, worker=worker, reason=reason, actor=request.user)  # type: ignore[arg-type]
        except ApplicationError as error:
            failed.append(f"{job.title}: {error}")
            continue
        messages.success(request, _block_done(worker, job, outcome))
    for failure in failed:
        messages.error(request, failure)
    return redirect("staff-worker", worker_id=worker.pk)


def _block_done(worker: User, job: Job, outcome: BlockOutcome) -> str:
    """What the block did, worded by the job's status when it was taken (a job that ended keeps
    its delivered results: quality.services.DELIVERED) and by the pay it withdrew."""
    withdrawn = block_pay_withdrawn(block_event_id=outcome.event.pk)
    said = f"{worker.username} is blocked from {job.title}"
    if outcome.drop.job_status in DELIVERED:
        pay = (f"; the {money_text(withdrawn)} of their pay held for a withdrawal review is withdrawn for good"
               if withdrawn else "; no pay is withdrawn")
        return (f"{said}, which has ended ({outcome.drop.job_status}): no judgment is dropped and no item "
                f"reopened, delivered results stay as they were{pay}. The block is recorded in their events.")
    dropped = outcome.drop.judgments + outcome.drop.gold_judgments
    return (f"{said}: {dropped} judgment{'s' if dropped != 1 else ''} dropped, {len(outcome.drop.reopened)} "
            f"item{'s' if len(outcome.drop.reopened) != 1 else ''} reopened, {money_text(withdrawn)} of pay "
            "still pending withdrawn.")


@staff_required
@require_POST
def worker_unblock(request: HttpRequest, worker_id: int) -> HttpResponse:
    worker = _worker_get(worker_id)
    blocked = selectors.worker_blocked_job_ids(worker_id=worker.pk)
    reason, raw_job = _reason(request), request.POST.get("job", "")
    errors = []
    chosen = _jobs_chosen(raw_job, allowed=blocked, allow_all=True)
    if chosen is None:
        errors.append("Choose a job this worker is blocked from.")
    errors += _reason_errors(reason)
    if errors or chosen is None:
        ctx = _worker_ctx(request, worker, unblock_errors=errors, form={"unblock_job": raw_job,
                                                                        "unblock_reason": reason})
        return render(request, "staff/worker.html", ctx, status=400)
    done = []
    for job in Job.objects.filter(pk__in=chosen).order_by("pk"):
        try:
            flows.worker_unblock(job=job, worker=worker, reason=reason, actor=request.user)  # type: ignore[arg-type]
            done.append(job.title)
        except ApplicationError as error:
            messages.error(request, f"{job.title}: {error}")
    if done:
        messages.success(request, f"{worker.username} is unblocked from {', '.join(done)}. Dropped judgments "
                                  "stay dropped; their gold record starts over.")
    return redirect("staff-worker", worker_id=worker.pk)
