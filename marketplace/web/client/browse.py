"""The data browser in the client portal, under a job's page: /portal/jobs/<id>/data/.

A table of the job's items with their consensus (quality/browsing.py does the reading, a cursor
page at a time), an item's page with every judgment, and the actions: more judgments (a quote
page first, then the flow, which escrows the cost), expert review, "run consensus now", and the
filter as CSV. For the job's client and for admins; another organization's job is a 404.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from marketplace import flows_experts, flows_more
from marketplace.billing import escrow, idempotency
from marketplace.errors import ApplicationError, NotFound
from marketplace.jobs import selectors
from marketplace.jobs.models import Job, JobStatus
from marketplace.jobs.staff_looks import STAFF_READ_ONLY
from marketplace.labeling.reopening import MORE_MAX
from marketplace.quality import browse_params, browsing
from marketplace.quality.browse_model import job_models
from marketplace.quality.item_details import item_detail
from marketplace.quality.models import ConsensusRun
from marketplace.quality.runs import consensus_run
from marketplace.quality.tasks import consensus_schedule
from marketplace.money import money_text
from marketplace.web.access import client_or_admin_required, live_socket, staff_look

SELECTION_MAX = 1_000
_FILTER_NAMES = ("label", "confidence_min", "confidence_max", "agreement_below", "gold", "expert",
                 "judged", "external_id", "q", "sort", "model", "model_agrees")


def _job(request: HttpRequest, job_id: int) -> Job:
    try:
        return selectors.job_get_for_owner(user=request.user, job_id=job_id)  # type: ignore[arg-type]
    except NotFound:
        raise Http404("No such job.") from None


def _filter_params(source: QueryDict) -> dict[str, str]:
    """Only the filter's own parameters, so a form post's other fields never reach the parser."""
    return {name: source[name] for name in _FILTER_NAMES if source.get(name)}


def _page_fields(source: QueryDict) -> dict[str, str]:
    """The page of the table a form was sent from (cursor, page size), to show that page again."""
    return {name: source[name] for name in browse_params.PAGE_KEYS if source.get(name)}


def _query(params: dict[str, str], **extra: str) -> str:
    query = QueryDict(mutable=True)
    query.update({**params, **extra})
    return query.urlencode()


def _latest_run_any(job: Job) -> ConsensusRun | None:
    """The newest run whatever its status, so a running or failed one is visible."""
    return ConsensusRun.objects.filter(job_id=job.pk).order_by("-id").first()


@client_or_admin_required
def data_page(request: HttpRequest, job_id: int) -> HttpResponse:
    """/portal/jobs/<id>/data/: the items table, its filter, a page at a time."""
    job = _job(request, job_id)
    staff_look(request, job)
    return _data_page(request, job, request.GET)


def _data_page(request: HttpRequest, job: Job, source: QueryDict, *, kept: dict[str, Any] | None = None,
               status: int = 200) -> HttpResponse:
    """The table for the filter and page in `source`: the page's query, or an action's form
    refused (`kept`: its error and what was chosen — items, scope, number — shown again as sent)."""
    params = _filter_params(source)
    ctx: dict[str, Any] = {"job": job, "params": params, "labels": job.labels, "error": None, "rows": [],
                           "live_socket": live_socket(request), "kept": kept or {}}
    try:
        if kept is None:  # an action's form carries its own fields besides the filter's
            browse_params.browse_keys_check(source, paged=True)  # a typo'd filter would show everything
        filters = browse_params.browse_filter_parse(params, labels=job.label_keys)
        cursor = browse_params.cursor_parse(source, sort=filters.sort)
        size = browse_params.page_size_parse(source)
    except ApplicationError as exc:
        ctx["error"] = exc.message
        return render(request, "client/data.html", ctx, status=400)
    try:
        page = browsing.items_browse(job=job, filters=filters, cursor=cursor, page_size=size)
    except ApplicationError as exc:  # a model that did not predict this job's items
        ctx["error"] = exc.message
        return render(request, "client/data.html", ctx, status=400)
    base = reverse("client-job-data", args=[job.pk])
    ctx.update(
        rows=page.rows, run=page.run, last_run=_latest_run_any(job), searched_to=page.searched_to,
        first_url=f"{base}?{_query(params)}" if cursor else "",
        next_url=f"{base}?{_query(params, cursor=page.next_cursor.encode())}" if page.next_cursor else "",
        csv_url=f"{reverse('client-job-data-export', args=[job.pk])}?{_query(params)}",
        filter_query=_query(params), can_reopen=job.status in (JobStatus.OPEN, JobStatus.PAUSED),
        sorts=browse_params.SORTS, experts=browse_params.EXPERT, model=page.model,
        models=job_models(job=job) if page.model else [],
        # The form sends the page it was on, so a refused action shows the same rows again.
        page_fields=_page_fields(source),
    )
    return render(request, "client/data.html", ctx, status=status)


def _kept(request: HttpRequest, job: Job, message: str, *, status: int) -> HttpResponse:
    """An action refused for what was chosen: the data page again with the message beside the
    actions and every choice as sent (ticked items, scope, the number asked for), not a fresh
    page that drops them."""
    post = request.POST
    ticked = {int(v) for v in post.getlist("items")[:SELECTION_MAX] if v.isascii() and v.isdigit() and len(v) < 19}
    kept = {"error": message, "items": ticked, "scope": post.get("scope", "selection"),
            "more": post.get("more", "")[:8]}
    return _data_page(request, job, post, kept=kept, status=status)


@client_or_admin_required
def item_page(request: HttpRequest, job_id: int, item_id: int) -> HttpResponse:
    """/portal/jobs/<id>/data/<item>/: the item, every judgment, the posterior of every label."""
    job = _job(request, job_id)
    staff_look(request, job)
    try:
        detail = item_detail(job=job, item_id=item_id)
    except NotFound:
        raise Http404("No such item.") from None
    names = {choice["key"]: choice.get("name", choice["key"]) for choice in job.labels}
    posterior = [
        {"key": key, "name": names.get(key, key), "p": p, "percent": p * 100}
        for key, p in sorted(detail.probabilities.items(), key=lambda kv: -kv[1])
    ]
    back = request.GET.get("back", "")
    ctx = {
        "job": job, "detail": detail, "posterior": posterior, "names": names,
        # JSON, as the list's preview and the exports write it (|pprint showed a Python repr).
        "data_json": json.dumps(detail.item.data, ensure_ascii=False, indent=2),
        "back": back if back.startswith(reverse("client-job-data", args=[job.pk])) else "",
    }
    return render(request, "client/data_item.html", ctx)


@client_or_admin_required
def data_export(request: HttpRequest, job_id: int) -> HttpResponse:
    """The CSV of exactly what the filter shows, streamed."""
    job = _job(request, job_id)
    staff_look(request, job)
    try:
        browse_params.browse_keys_check(request.GET)
        filters = browse_params.browse_filter_parse(_filter_params(request.GET), labels=job.label_keys)
        chunks = browsing.items_browse_csv(job=job, filters=filters)
    except ApplicationError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="job-{job.pk}-items.csv"'
    response["Cache-Control"] = "no-store"
    return response


def _selection(job: Job, post: QueryDict) -> tuple[list[int], str]:
    """The items an action names, and how to say so: the ticked ones, or the whole filter."""
    if post.get("scope") == "filter":
        filters = browse_params.browse_filter_parse(_filter_params(post), labels=job.label_keys)
        ids = browsing.items_browse_ids(job=job, filters=filters)
        return ids, "every item the filter shows"
    raw = post.getlist("items")
    if not raw:
        raise ApplicationError("Tick some items first, or choose the whole filter.")
    if len(raw) > SELECTION_MAX or not all(value.isascii() and value.isdigit() and len(value) < 19 for value in raw):
        raise ApplicationError(f"Choose at most {SELECTION_MAX} items.")
    return [int(value) for value in raw], "the ticked items"


def _sent(post: QueryDict, ids: list[int], **rest: int) -> dict[str, Any]:
    """The request the form's key names, as the API stores it (api/browse.py): the filter as
    sent, not the items it finds now (which change as judgments arrive), or the ticked items."""
    if post.get("scope") == "filter":
        return {"filter": _filter_params(post), **rest}
    return {"items": ids, **rest}


def _form_key(post: QueryDict) -> str:
    """The key the confirm page made for this one form (a new one each time the page is shown):
    the same form sent again (a reload, a double click) replays its first answer."""
    key = post.get("key", "")
    if not escrow.KEY.match(key):
        raise ApplicationError("This form is out of date: choose the items again on the data page.")
    return key


# What a page says when its form's key already made another request: never the API's wording,
# which names a header the page's user never typed.
RESENT_OTHERWISE = ("This form was already sent with other choices, so nothing more was done. "
                    "Choose the items again on the data page to make a new request.")


def _back(job: Job, post: QueryDict) -> HttpResponse:
    return redirect(f"{reverse('client-job-data', args=[job.pk])}?{_query(_filter_params(post))}")


@client_or_admin_required
@require_POST
def more_judgments(request: HttpRequest, job_id: int) -> HttpResponse:
    """Without `confirm`: a page saying what the judgments hold, with a confirm button. With it:
    the flow (items reopen, the hold moves into the job's escrow) and back to the table."""
    job = _job(request, job_id)
    post = request.POST
    if staff_look(request, job):
        messages.error(request, STAFF_READ_ONLY)
        return _back(job, post)
    if post.get("back") == "1":  # the confirm page's Back: the table as it was left
        return _kept(request, job, "", status=200)
    try:
        ids, scope = _selection(job, post)
        raw = post.get("more", "").strip()
        if not (raw.isascii() and raw.isdigit() and len(raw) < 3 and 1 <= int(raw) <= MORE_MAX):
            raise ApplicationError(f"Ask for 1 to {MORE_MAX} more judgments per item.")
        more = int(raw)
        if post.get("confirm") != "1":
            regular = job.items.filter(pk__in=ids, is_gold=False).count()
            quote = flows_more.items_more_judgments_quote(job=job, user=request.user, items=regular, more=more)  # type: ignore[arg-type]
            ctx = {"job": job, "quote": quote, "more": more, "scope": scope, "ids": ids if post.get("scope") != "filter" else [],
                   "params": _filter_params(post), "whole_filter": post.get("scope") == "filter",
                   "page_fields": _page_fields(post), "key": uuid.uuid4().hex}
            return render(request, "client/data_more.html", ctx)
        done = flows_more.items_more_judgments(
            job=job, user=request.user, item_ids=ids, more=more, key=_form_key(post),  # type: ignore[arg-type]
            request=_sent(post, ids, more=more),
        )
    except idempotency.RequestConflict:
        messages.error(request, RESENT_OTHERWISE)
        return _back(job, post)
    except ApplicationError as exc:
        return _kept(request, job, exc.message, status=exc.status)
    if done.replayed:
        messages.info(request, "That request was already done.")
    else:
        messages.success(request, f"{done.items} item{'s' if done.items != 1 else ''} reopened for {more} more "
                                  f"judgment{'s' if more != 1 else ''} each; {money_text(done.hold)} moved into the job's escrow.")
    return _back(job, post)


@client_or_admin_required
@require_POST
def expert_review(request: HttpRequest, job_id: int) -> HttpResponse:
    """Without `confirm`: a page saying what the reviews hold (items × the price), with a confirm
    button. With it: the flow (reviews open, the hold moves into the job's escrow), then back."""
    job = _job(request, job_id)
    post = request.POST
    if staff_look(request, job):
        messages.error(request, STAFF_READ_ONLY)
        return _back(job, post)
    if post.get("back") == "1":  # the confirm page's Back: the table as it was left
        return _kept(request, job, "", status=200)
    try:
        ids, scope = _selection(job, post)
        if post.get("confirm") != "1":
            quote = flows_experts.expert_reviews_quote(job=job, user=request.user, item_ids=ids)  # type: ignore[arg-type]
            ctx = {"job": job, "quote": quote, "scope": scope, "ids": ids if post.get("scope") != "filter" else [],
                   "params": _filter_params(post), "whole_filter": post.get("scope") == "filter",
                   "page_fields": _page_fields(post), "key": uuid.uuid4().hex}
            return render(request, "client/data_expert.html", ctx)
        done = flows_experts.expert_reviews_ask(
            job=job, user=request.user, item_ids=ids, key=_form_key(post),  # type: ignore[arg-type]
            request=_sent(post, ids),
        )
    except idempotency.RequestConflict:
        messages.error(request, RESENT_OTHERWISE)
        return _back(job, post)
    except ApplicationError as exc:
        return _kept(request, job, exc.message, status=exc.status)
    if done.replayed:
        messages.info(request, "That request was already done.")
    else:
        messages.success(request, f"{done.items} item{'s' if done.items != 1 else ''} of {scope} sent to expert "
                                  f"review; {money_text(done.hold)} moved into the job's escrow.")
    return _back(job, post)


@client_or_admin_required
@require_POST
def consensus_now(request: HttpRequest, job_id: int) -> HttpResponse:
    """Start a consensus run now (queued like the API's; inline when tasks run inline)."""
    job = _job(request, job_id)
    target = request.POST.get("next", "")
    back = target if target.startswith(f"/portal/jobs/{job.pk}/") else reverse("job-page", args=[job.pk])
    if staff_look(request, job):
        messages.error(request, STAFF_READ_ONLY)
        return redirect(back)
    try:
        if settings.QUORUM_TASKS == "inline":
            run = consensus_run(job=job)
        else:
            run = consensus_schedule(job=job, trigger=ConsensusRun.Trigger.MANUAL)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Consensus run #{run.pk} {'finished' if run.finished_at else 'started'}.")
    return redirect(back)
