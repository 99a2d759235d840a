"""Worker portal: the work list and the labeling page, with its three JSON calls and the beacon a
closed page sends.

The labeling page answers with one round trip per item: `answer` submits the label *and* claims
the next item of the job in the same request, and `skip` releases and claims likewise (the REST
API's submit does the same when asked, `"next": true`). The page also keeps the item after the
one on screen fetched ahead (`ahead_of`: a worker holds at most two live leases in a job), so a
label key shows the next item at once; each answer then brings the item after that one.

The JSON calls use the session and Django's CSRF check (the page sends the token in a header),
and name the page load that sends them (`X-Quorum-Page`, its random id): a lease is that page's,
and only its beacon gives it back (labeling/returning.py: a reload keeps the worker's item).
They present leases as explicit dicts, like api/work.py: the item's data only, never its id
(gold is imported apart, so its ids form a block a worker would spot), so a gold item looks like
any other. The lease id is what the page acts on.

Every view checks the role before the method (`worker_required` outermost): a visitor is sent to
log in and a client or admin gets 404 even for a POST-only call, never a 405 that admits it exists.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from marketplace import flows
from marketplace.accounts.models import User
from marketplace.web.access import worker_required
from marketplace.errors import ApplicationError, Busy
from marketplace.errors import error_body
from marketplace.jobs.fields import item_data_for_workers
from marketplace.labeling.prelabels import lease_prelabel
from marketplace.jobs.models import Job
from marketplace.labeling import selectors, services
from marketplace.labeling.models import Lease
from marketplace.labelsets import MAX_LABELS
from marketplace.quality.progress import items_done_as_shown
from marketplace.quality.selectors import flagged_fast_workers
from marketplace.parsing import JsonRefused, json_loads

# Labels without a shortcut of their own get the digits 1..9, in order, where still free.
_DIGITS = "123456789"


def label_keys(job: Job) -> list[dict[str, str]]:
    """The job's labels with the key that chooses each: its shortcut, else the next free digit."""
    taken = {str(c.get("shortcut") or "").lower() for c in job.labels}
    free = iter(d for d in _DIGITS if d not in taken)
    out = []
    for choice in job.labels:
        key = str(choice.get("shortcut") or "") or next(free, "")
        out.append({"key": choice["key"], "name": choice.get("name") or choice["key"], "hotkey": key})
    return out


# --- pages


def pay_text(rate: Decimal) -> str:
    """Pay per answer (a 4-place rate) for people: 2 places, more only where they matter."""
    places = max(2, -rate.normalize().as_tuple().exponent)  # type: ignore[operator]
    return f"${rate:.{min(places, 4)}f}"


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


# Workers choose jobs by the hourly figure, so it waits for evidence: one fast worker's first
# handful of answers (a script, a lucky streak) once showed "$9000.00/h". 20 answers is where a
# median stops swinging with one outlier, and 3 workers means no single person sets the pace.
HOURLY_MIN_ANSWERS = 20
HOURLY_MIN_WORKERS = 3
# No human reads an item and answers in less; faster medians are priced at this.
HOURLY_MIN_SECONDS = 3.0


def hourly_text(rate: Decimal, seconds: float | None, *, answers: int, workers: int) -> str:
    """What an hour of this job pays at its median answer time ("$5.76"), or "" until that median
    is over HOURLY_MIN_ANSWERS answers by HOURLY_MIN_WORKERS workers. An estimate for people
    deciding what to work on, never money anyone is owed."""
    if not seconds or answers < HOURLY_MIN_ANSWERS or workers < HOURLY_MIN_WORKERS:
        return ""
    per_item = Decimal(str(max(seconds, HOURLY_MIN_SECONDS)))
    return f"${(rate * 3600 / per_item).quantize(Decimal('0.01'))}"


def _needs(missing: list[selectors.MissingRequirement]) -> list[dict[str, Any]]:
    return [
        {"qualification_id": m.qualification_id, "name": m.name, "min_score": m.min_score,
         "min_percent": f"{m.min_score * 100:.0f}", "has_exam": m.has_exam}
        for m in missing
    ]


def _offer(offer: selectors.WorkOffer) -> dict[str, Any]:
    return {
        "job": offer.job, "items_left": offer.items_left, "pay": pay_text(offer.job.reward_per_judgment),
        "expected": duration_text(offer.expected_seconds),
        "hourly": hourly_text(offer.job.reward_per_judgment, offer.expected_seconds,
                              answers=offer.timed_answers, workers=offer.timed_workers),
        "missing": _needs(offer.missing),
    }


@worker_required
@require_GET
def work_list(request: HttpRequest) -> HttpResponse:
    offers = selectors.work_offers_for(
        worker=request.user, leave_out=flagged_fast_workers,  # type: ignore[arg-type]
        done_as_shown=items_done_as_shown,
    )
    ctx = {
        "ready": [_offer(o) for o in offers if not o.missing],
        "examinable": [_offer(o) for o in offers if o.missing],
    }
    return render(request, "worker/work_list.html", ctx)


@worker_required
@require_GET
def work_label(request: HttpRequest, job_id: int) -> HttpResponse:
    worker: User = request.user  # type: ignore[assignment]
    try:
        job = selectors.job_get_for_labeling(worker=worker, job_id=job_id)
    except ApplicationError:
        # A shared or bookmarked link to a job behind an exam says how to get in, not "no such job".
        gated = selectors.job_gated_for(worker=worker, job_id=job_id)
        if gated is None:
            raise Http404("No such job.") from None
        ctx = {"job": gated[0], "needs": _needs(gated[1])}
        return render(request, "worker/job_gated.html", ctx, status=403)
    labels = label_keys(job)
    ctx = {
        "job": job,
        "labels": labels,
        "pay": pay_text(job.reward_per_judgment),
        # Rendered and nh3-sanitized when the job was saved (scripts, handlers, javascript: gone).
        "instructions_html": mark_safe(job.instructions_html),  # noqa: S308
        "heartbeat_seconds": max(settings.QUORUM_PAGE_LEASE_SECONDS // 3, 5),
        # With one judgment per item every answer completes its item (a gold one is refused as
        # if it did: labeling/undoing.py), so undo could only ever fail: the page offers none.
        # (An item asked for more judgments may want a second; its undo is given up here.)
        "undo_seconds": settings.QUORUM_UNDO_SECONDS if job.overlap > 1 or job.is_dynamic else 0,
        # "u" undoes unless a label took it as its shortcut (Ctrl+Z always does).
        "undo_key": not any(label["hotkey"].lower() == "u" for label in labels),
    }
    return render(request, "worker/label.html", ctx)


@worker_required
@require_GET
def work_label_any(request: HttpRequest) -> HttpResponse:
    """/work/label/: straight to the job the worker is busy in, else the first open to them."""
    job = selectors.job_to_label_next(worker=request.user, now=timezone.now())  # type: ignore[arg-type]
    if job is None:
        messages.info(request, "There is no work for you right now. New jobs appear on this page.")
        return redirect("work-list")
    return redirect("work-label", job_id=job.pk)


# --- JSON calls of the labeling page


def _lease_json(lease: Lease) -> dict[str, Any]:
    """The item's data only, never its id (see the module). seconds_left, from the server's clock
    (the browser's may differ), is the time the worker has for the item: the job's whole lease from
    when it was taken, which the page's heartbeat renews the lease towards (the lease itself runs
    QUORUM_PAGE_LEASE_SECONDS)."""
    end = max(lease.expires_at, lease.created_at + timedelta(seconds=lease.job.lease_seconds))
    left = max((end - timezone.now()).total_seconds(), 0.0)
    body: dict[str, Any] = {
        "lease": lease.pk,
        "job": lease.job_id,
        "seconds_left": round(left, 1),
        # Only the fields the client chose to show (Job.worker_fields); metadata stays behind.
        "item": {"data": item_data_for_workers(lease.item.data, lease.job.worker_fields)},
    }
    suggested = lease_prelabel(lease=lease)  # None unless the job shows pre-labels
    if suggested is not None:
        body["suggestion"] = suggested  # a label key; the page names it from its label buttons
    return body


def _error(exc: ApplicationError) -> JsonResponse:
    return JsonResponse(error_body(exc.code, exc.message, exc.details), status=exc.status)


def _ahead_of(data: dict[str, Any]) -> int | None:
    """`ahead_of`: the lease on screen, when the page asks for the item after it (prefetch)."""
    value = data.get("ahead_of")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ApplicationError("ahead_of must be a lease id.")
    return value


def _page(request: HttpRequest) -> str | None:
    """The page load sending the call (X-Quorum-Page), None from a page that names none."""
    page = request.headers.get("X-Quorum-Page")
    if page is not None and not services.page_id_valid(page):
        raise ApplicationError("X-Quorum-Page must be the page's id: up to 64 letters, digits, - or _.")
    return page


def _next(worker: User, job_id: int, ahead_of: int | None = None, page: str | None = None) -> dict[str, Any]:
    """The next lease in the job (or the one after `ahead_of`) for the page, or why there is none."""
    try:
        lease = services.lease_claim(
            worker=worker, job=job_id, ahead_of=ahead_of, hold=settings.QUORUM_PAGE_LEASE_SECONDS, page=page
        )
        return {"next": _lease_json(lease), "message": ""}
    except ApplicationError as exc:  # NothingLeft (no_work) is the usual one: the job ran dry
        return _refused(exc)


def _next_of(following: services.NextLease | None) -> dict[str, Any]:
    """_next's answer for the lease a submit claimed in its own transaction (or why none)."""
    if following is not None and following.lease is not None:
        return {"next": _lease_json(following.lease), "message": ""}
    exc = (following and following.refused) or ApplicationError("No next item.")
    return _refused(exc)


def _refused(exc: ApplicationError) -> dict[str, Any]:
    """No next item, and why; `busy` carries `retry_after` (seconds): the page asks again then."""
    refused: dict[str, Any] = {"next": None, "message": exc.message, "code": exc.code}
    if isinstance(exc, Busy):
        refused["retry_after"] = exc.retry_after
    return refused


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json_loads((request.body or b"{}").decode("utf-8"))
    except JsonRefused as exc:
        raise ApplicationError(f"Send a JSON object ({exc.message})") from None
    except (ValueError, UnicodeDecodeError):
        raise ApplicationError("Send a JSON object.") from None
    if not isinstance(data, dict):
        raise ApplicationError("Send a JSON object.")
    return data


@worker_required
@require_POST
def label_next(request: HttpRequest, job_id: int) -> JsonResponse:
    """The worker's current item in the job (the same lease again on a reload), or why none."""
    worker: User = request.user  # type: ignore[assignment]
    try:
        job = selectors.job_get_for_labeling(worker=worker, job_id=job_id)
        ahead_of, page = _ahead_of(_body(request)), _page(request)
    except ApplicationError as exc:
        return _error(exc)
    return JsonResponse(_next(worker, job.pk, ahead_of, page))


@worker_required
@require_POST
def label_answer(request: HttpRequest, lease_id: int) -> JsonResponse:
    """Submit a label for the lease's item, then claim the job's next item: one round trip. With
    `ahead_of` (the item the page already shows, fetched ahead), the claim is the item after it.

    The claim runs last in the submit's transaction (flows.work_submit with `then`: one COMMIT),
    and a refused claim never loses the answer. Another worker's lease is not found (404).
    """
    worker: User = request.user  # type: ignore[assignment]
    try:
        data = _body(request)
        label, labels = data.get("label"), data.get("labels")
        if labels is None and (not isinstance(label, str) or not label):
            raise ApplicationError("label is required.")
        if labels is not None and (
            not isinstance(labels, list) or len(labels) > MAX_LABELS or not all(isinstance(k, str) for k in labels)
        ):
            raise ApplicationError("labels must be a list of label keys.")
        seconds = data.get("seconds_spent")
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, str))):
            raise ApplicationError("seconds_spent must be a decimal string.")
        ahead_of = _ahead_of(data)
        then = services.NextClaim(ahead_of=ahead_of, hold=settings.QUORUM_PAGE_LEASE_SECONDS, page=_page(request))
        outcome = flows.work_submit(
            worker=worker, lease_id=lease_id, label=label, seconds_spent=seconds, labels=labels, then=then
        )
    except ApplicationError as exc:
        return _error(exc)
    judgment = outcome.judgment
    return JsonResponse({
        "submitted": {
            "judgment": judgment.pk, "label": judgment.label, "feedback": outcome.feedback,
            **({} if judgment.labels is None else {"labels": judgment.labels}),
            # Whether Undo would take it back now (read after commit, as a click would find it),
            # so the page offers Undo only where it works; gold reads as regular (undoing.py). An
            # answer whose feedback showed the right label never can (quality judgment_unassess),
            # and saying so tells nothing the feedback did not.
            "undoable": outcome.feedback is None
            and selectors.judgment_undo_refusal(worker=worker, judgment_id=judgment.pk) is None,
        },
        **_next_of(outcome.next),
    })


@worker_required
@require_POST
def label_skip(request: HttpRequest, lease_id: int) -> JsonResponse:
    """Give the item back (it is never offered to this worker again) and claim the next one."""
    worker: User = request.user  # type: ignore[assignment]
    try:
        ahead_of, page = _ahead_of(_body(request)), _page(request)
        lease = services.lease_release(worker=worker, lease_id=lease_id)
    except ApplicationError as exc:
        return _error(exc)
    return JsonResponse({"skipped": lease.pk, **_next(worker, lease.job_id, ahead_of, page)})


@worker_required
@require_POST
def label_undo(request: HttpRequest, judgment_id: int) -> JsonResponse:
    """Undo the last answer (flows.work_undo: within QUORUM_UNDO_SECONDS, while its item is
    open): its item comes back as `next`, to show again. `ahead` (the item the page fetched after
    the one now on screen) is given back, so the page still holds two leases at most: the undone
    item and the one on screen, which becomes the one fetched ahead. Refusals are 409s."""
    worker: User = request.user  # type: ignore[assignment]
    try:
        data = _body(request)
        ahead = data.get("ahead")
        if ahead is not None and (isinstance(ahead, bool) or not isinstance(ahead, int) or ahead < 1):
            raise ApplicationError("ahead must be a lease id.")
        withdrawal = flows.work_undo(
            worker=worker, judgment_id=judgment_id, hold=settings.QUORUM_PAGE_LEASE_SECONDS, page=_page(request)
        )
    except ApplicationError as exc:
        return _error(exc)
    if ahead is not None:
        with suppress(ApplicationError):  # answered or gone: left alone
            services.lease_release(worker=worker, lease_id=ahead)
    lease = Lease.objects.select_related("job", "item").get(pk=withdrawal.lease.pk)
    return JsonResponse({"undone": withdrawal.judgment.pk, "next": _lease_json(lease)})


@worker_required
@require_POST
def label_return(request: HttpRequest) -> HttpResponse:
    """A labeling page being closed gives back the items it held (navigator.sendBeacon on
    pagehide: a form with `leases`, "12,13", `page`, its id, and the CSRF token), so a job's last
    items are not held by a closed tab until their leases expire; only those still that page's
    (labeling/returning.py). 204: the page is gone, nobody reads it. A page of before page ids
    sends no `page`: 400, and its leases run out by themselves (their heartbeat stopped)."""
    raw, page = request.POST.get("leases", ""), request.POST.get("page", "")
    parts = raw.split(",") if len(raw) <= 40 else []
    if not 1 <= len(parts) <= services.PAGE_LEASES_MAX or not all(
        part.isascii() and part.isdigit() and len(part) <= 18 for part in parts
    ):
        return _error(ApplicationError("leases must be one or two lease ids, comma-separated."))
    if not services.page_id_valid(page):
        return _error(ApplicationError("page must be the closing page's id (reload the page)."))
    services.leases_return(worker=request.user, lease_ids=[int(p) for p in parts], page=page)  # type: ignore[arg-type]
    return HttpResponse(status=204)


@worker_required
@require_POST
def label_heartbeat(request: HttpRequest) -> JsonResponse:
    """An open labeling page renews the items it holds ({"leases": [on screen, fetched ahead]}),
    every third of QUORUM_PAGE_LEASE_SECONDS; a lease that ran out is not revived."""
    try:
        ids = _body(request).get("leases")
        if not isinstance(ids, list) or not 1 <= len(ids) <= services.PAGE_LEASES_MAX or not all(
            type(lease_id) is int and 0 < lease_id < 2**63 for lease_id in ids
        ):
            raise ApplicationError("leases must be a list of one or two lease ids.")
    except ApplicationError as exc:
        return _error(exc)
    ends = services.leases_extend(
        worker=request.user, lease_ids=ids, hold=settings.QUORUM_PAGE_LEASE_SECONDS  # type: ignore[arg-type]
    )
    return JsonResponse({"extended": sorted(ends)})
