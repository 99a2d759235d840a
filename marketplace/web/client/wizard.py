"""The create-job wizard. A draft Job holds the state: step 1 (details, labels, instructions)
creates it, the next steps fill it (items, gold), the last prices every tier side by side and
publishes. Each step is a plain form that works without JavaScript; static/js/wizard.js adds
label rows, a live instructions preview and file checks on top.

Steps only open on the requester's own drafts (another organization's job is a 404, a
published one sends the client to its job page)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from marketplace import flows
from marketplace.accounts.models import User
from marketplace.web.access import client_required
from marketplace.accounts.models import Qualification
from marketplace.accounts.selectors import qualification_reach, qualifications_visible_to
from marketplace.billing.models import Tier
from marketplace.billing.pricing import expected_overlap
from marketplace.billing.selectors import job_quote, organization_balance, tier_list
from marketplace.billing.services import InsufficientFunds
from marketplace.errors import ApplicationError, NotFound
from marketplace.jobs.predicting import ModelSummary, prediction_models_of_job
from marketplace.jobs import editing, selectors, services
from marketplace.web.client import forms
from marketplace.jobs.importing import InvalidImport
from marketplace.jobs.predictions import model_name_check
from marketplace.jobs.markdown import instructions_check, instructions_render
from marketplace.jobs.models import Job, JobStatus
from marketplace.jobs.requirements import job_reach_check
from marketplace.quality.delivery import PromisePlan, promise_plan
from marketplace.quality.rules import rules_for

QUOTE_WORKERS = 10  # the crowd size quotes assume for the expected time
SAMPLE_ITEMS = 5

STEPS = (
    ("details", "Details"), ("labels", "Labels"), ("instructions", "Instructions"),
    ("items", "Items"), ("gold", "Gold"), ("publish", "Tier & publish"),
)


def instructions_html(job: Job) -> SafeString:
    """The job's instructions as rendered and sanitized when saved (jobs.markdown: nh3 drops
    scripts, handlers and javascript: URLs), so — and only so — they may be marked safe."""
    return mark_safe(job.instructions_html)  # noqa: S308 (sanitized by nh3 when saved)


def preview_html(text: str) -> tuple[SafeString, bool]:
    """Typed instructions rendered for the preview, if within the limits; else the reason, escaped.
    Unchecked text is never rendered: some Markdown takes seconds or crashes the renderer."""
    try:
        checked = instructions_check(text)
    except ApplicationError as exc:
        return format_html('<p class="error">{}</p>', exc.message), False
    return mark_safe(instructions_render(checked)), True  # noqa: S308 (sanitized by nh3)


def _steps(job: Job | None, current: str) -> list[dict[str, Any]]:
    urls = {
        "details": reverse("client-job-setup", args=[job.pk]) if job else reverse("job-create"),
        "items": reverse("client-job-setup-items", args=[job.pk]) if job else "",
        "gold": reverse("client-job-setup-gold", args=[job.pk]) if job else "",
        "publish": reverse("client-job-setup-publish", args=[job.pk]) if job else "",
    }
    urls["labels"] = urls["details"] + "#labels"
    urls["instructions"] = urls["details"] + "#instructions"
    order = [name for name, _ in STEPS]
    here = order.index(current)
    out = []
    for position, (name, label) in enumerate(STEPS):
        done = position < here or (job is not None and current == "details" and position < 3)
        out.append({"name": name, "label": label, "url": urls[name], "number": position + 1,
                    "current": name == current or (current == "details" and position < 3),
                    "done": done and name != current, "reachable": bool(urls[name])})
    return out


def _message(exc: ApplicationError | ValidationError) -> str:
    """A service's refusal as one line: ApplicationError's message, or a model check's."""
    if isinstance(exc, ApplicationError):
        return exc.message
    return " ".join(exc.messages)


def _draft_or_redirect(request: HttpRequest, job_id: int) -> Job | HttpResponse:
    try:
        job = selectors.job_get_for_owner(user=request.user, job_id=job_id)  # type: ignore[arg-type]
    except NotFound:
        raise Http404("No such job.") from None
    if job.status != JobStatus.DRAFT:
        messages.info(request, "This job is published already; its setup can no longer change.")
        return redirect("job-page", job_id=job.pk)
    return job


# Step 1-3: details, labels, instructions (one form, three sections) ---------------------------

def _details_page(request: HttpRequest, *, job: Job | None, form: forms.JobDetailsForm,
                  rows: list[forms.LabelRow], label_error: str = "", preview: str | None = None,
                  status: int = 200) -> HttpResponse:
    if preview is not None or form.is_bound:
        shown = preview_html(preview if preview is not None else form.data.get("instructions", ""))[0]
    else:
        shown = instructions_html(job) if job else SafeString("")
    ctx = {
        "job": job,
        "form": form,
        "label_rows": rows,
        "label_error": label_error,
        "preview_html": shown,
        "steps": _steps(job, "details"),
        "max_labels": forms.MAX_LABELS,
    }
    return render(request, "client/wizard_details.html", ctx, status=status)


def _save_details(request: HttpRequest, job: Job | None) -> HttpResponse:
    form = forms.JobDetailsForm(request.POST)
    rows = forms.label_rows_from_post(request.POST)
    if "preview" in request.POST:  # the no-JavaScript preview: show it, save nothing
        return _details_page(request, job=job, form=form, rows=rows, preview=request.POST.get("instructions", ""))
    if not form.is_valid():
        return _details_page(request, job=job, form=form, rows=rows, status=400)
    fields = {**form.cleaned_data, "labels": forms.labels_payload(rows)}
    user: User = request.user  # type: ignore[assignment]
    try:
        if job is None:
            job = services.job_create(user=user, fields=fields)
            messages.success(request, "Draft saved. Next, upload the items to label.")
        else:
            job = services.job_update(job=job, user=user, fields=fields)
            messages.success(request, "Draft updated.")
    except (ApplicationError, ValidationError) as exc:
        message = _message(exc)
        is_labels = "label" in message.lower()  # labels_validate's and job_update's label errors
        if not is_labels:
            form.add_error(None, message)
        return _details_page(request, job=job, form=form, rows=rows,
                             label_error=message if is_labels else "", status=400)
    return redirect("client-job-setup-items", job_id=job.pk)


@client_required
def job_create(request: HttpRequest) -> HttpResponse:
    """/portal/jobs/new/: the first step; saving it creates the draft."""
    if request.method == "POST":
        return _save_details(request, None)
    return _details_page(request, job=None, form=forms.JobDetailsForm(), rows=forms.label_rows_empty())


@client_required
def setup_details(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _draft_or_redirect(request, job_id)
    if isinstance(job, HttpResponse):
        return job
    if request.method == "POST":
        return _save_details(request, job)
    form = forms.JobDetailsForm(initial={"title": job.title, "instructions": job.instructions, "multi_label": job.multi_label})
    return _details_page(request, job=job, form=form, rows=forms.label_rows_from_job(job.labels))


@client_required
@require_POST
def instructions_preview(request: HttpRequest) -> HttpResponse:
    """The live preview: Markdown in, sanitized HTML out (a fragment wizard.js shows)."""
    html, _ = preview_html(request.POST.get("instructions", ""))  # over a limit: the reason, shown
    return HttpResponse(html, content_type="text/html; charset=utf-8")


# Steps 4-5: items and gold uploads -------------------------------------------------------------

def _sample(job: Job, *, gold: bool) -> list[dict[str, Any]]:
    items = job.items.filter(is_gold=gold).select_related("gold")
    out = []
    for item in items.order_by("id")[:SAMPLE_ITEMS]:
        data = item.data if isinstance(item.data, dict) else {"value": item.data}
        out.append({
            "id": item.pk,
            "external_id": item.external_id or "",
            "fields": [(str(k), str(v)[:200]) for k, v in list(data.items())[:6]],
            "label": item.gold.label if gold and hasattr(item, "gold") else "",
        })
    return out


def _worker_fields(job: Job) -> list[tuple[str, bool]]:
    """The items' data fields, each with whether workers see it (all, until the client chooses)."""
    names = editing.item_field_names(job=job)
    shown = set(job.worker_fields or names)
    return [(name, name in shown) for name in names]


def _problem(error: dict[str, Any]) -> dict[str, Any]:
    """An importer problem for the page: where apart ("line 3", "item 7 (line 1)"), the message
    without that prefix."""
    line, item, message = error.get("line"), error.get("item"), str(error.get("message", ""))
    where = services.row_place(line, item) if line or item else None
    prefix = f"{where}: "
    return {"where": where, "message": message[len(prefix):] if where and message.startswith(prefix) else message}


def _upload_step(request: HttpRequest, job_id: int, *, gold: bool) -> HttpResponse:
    job = _draft_or_redirect(request, job_id)
    if isinstance(job, HttpResponse):
        return job
    step = "gold" if gold else "items"
    errors: list[dict[str, Any]] = []
    status = 200
    if request.method == "POST":
        form = forms.ImportForm(request.POST, request.FILES, gold=gold)
        if form.is_valid():
            fmt = form.file_format()
            if fmt is None:
                errors = [{"where": None, "message": "Cannot tell the file's format from its name: "
                           "choose CSV, JSON or JSONL, or name the file .csv, .json or .jsonl."}]
            else:
                try:
                    named = form.cleaned_data["model"] or form.cleaned_data["model_version"]
                    model = model_name_check(form.cleaned_data["model"],
                                             form.cleaned_data["model_version"]) if named else None
                    count = flows.items_import(job=job, payload=form.cleaned_data["file"], fmt=fmt,
                                               gold=gold, model=model)
                except InvalidImport as exc:
                    errors = [_problem(e) for e in exc.details.get("errors") or [{"message": exc.message}]]
                except ApplicationError as exc:
                    errors = [{"where": None, "message": exc.message}]
                else:
                    noun = "gold item" if gold else "item"
                    messages.success(request, f"Imported {count} {noun}{'' if count == 1 else 's'}.")
                    return redirect(f"client-job-setup-{step}", job_id=job.pk)
        status = 400
    else:
        form = forms.ImportForm(gold=gold)
    job.refresh_from_db()
    ctx = {
        "job": job,
        "form": form,
        "gold": gold,
        "errors": errors,
        "file_name": request.FILES["file"].name if errors and "file" in request.FILES else "",
        "count": job.gold_item_count if gold else job.item_count,
        "sample": _sample(job, gold=gold),
        "worker_fields": [] if gold else _worker_fields(job),
        "label_keys": job.label_keys,
        "steps": _steps(job, step),
        "next_url": reverse("client-job-setup-publish" if gold else "client-job-setup-gold", args=[job.pk]),
    }
    return render(request, "client/wizard_upload.html", ctx, status=status)


@client_required
def setup_items(request: HttpRequest, job_id: int) -> HttpResponse:
    return _upload_step(request, job_id, gold=False)


@client_required
def setup_gold(request: HttpRequest, job_id: int) -> HttpResponse:
    return _upload_step(request, job_id, gold=True)


# Step 6: tier choice with every tier's quote, then publish -------------------------------------

def _duration(hours: Decimal) -> str:
    """Hours as a person reads them: '25 min', '3.5 h', '2.1 days'."""
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def _tier_fields(tier: Tier) -> dict[str, Any]:
    """The job takes the tier's overlap, gold rate and pay, so its price is the quoted one."""
    return {
        "tier": tier.slug,
        "overlap": tier.overlap,
        "max_overlap": tier.max_overlap,
        "target_confidence": tier.target_confidence,
        "gold_rate": tier.gold_rate,
        "reward_per_judgment": tier.pay_per_judgment,
    }


@client_required
def setup_publish(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _draft_or_redirect(request, job_id)
    if isinstance(job, HttpResponse):
        return job
    user: User = request.user  # type: ignore[assignment]
    tiers = tier_list()
    by_slug = {tier.slug: tier for tier in tiers}
    required = job.requirements.first()
    skills = list(qualifications_visible_to(user=user))
    models = {-m.worker_id: m for m in prediction_models_of_job(job_id=job.pk)}  # by model id
    chosen_model = job.prelabel_model
    if chosen_model is not None and chosen_model.pk not in models:  # named before its predictions
        models[chosen_model.pk] = ModelSummary(-chosen_model.pk, chosen_model.name,
                                               chosen_model.version, 0)
    form = forms.TierForm(request.POST or None, tiers=[(t.slug, t.name) for t in tiers],
                          qualifications=[(q.pk, q.name) for q in skills],
                          models=[(pk, f"{m.name} {m.version} ({m.predictions:,} item"
                                       f"{'' if m.predictions == 1 else 's'} predicted)")
                                  for pk, m in models.items()],
                          initial={"tier": job.tier if job.tier in by_slug else "standard",
                                   "qualification": required.qualification_id if required else None,
                                   "min_score": required.min_score if required else Decimal("0.80"),
                                   "gold_feedback": rules_for(job=job).gold_feedback,
                                   "prelabel_model": job.prelabel_model_id})
    shortfall: dict[str, str] | None = None
    error = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                chosen_skill = form.cleaned_data["qualification"]
                requirements = [services.Requirement(
                    qualification_id=chosen_skill, min_score=form.cleaned_data["min_score"] or Decimal("0"),
                )] if chosen_skill else []
                rules = {**job.quality_rules, "gold_feedback": form.cleaned_data["gold_feedback"]}
                shown = models.get(form.cleaned_data["prelabel_model"])
                prelabels = None if shown is None else {"model": shown.name,
                                                        "model_version": shown.version}
                # flows: the tier and its pay are checked as the API checks them
                job = flows.job_update(job=job, user=user, requirements=requirements,
                                       fields={**_tier_fields(by_slug[form.cleaned_data["tier"]]),
                                               "quality_rules": rules,
                                               "show_prelabels": prelabels})
                job = flows.job_publish(job=job, user=user)
            except InsufficientFunds as exc:
                shortfall = {key: str(exc.details.get(key, "")) for key in ("needed", "balance", "missing")}
                error = exc.message
                status = 402
            except (ApplicationError, ValidationError) as exc:
                error = _message(exc)
                status = 400
            else:
                messages.success(request, f"Published on the {by_slug[job.tier].name} tier. Workers can start now.")
                for warning in job_reach_check(job=job):  # published: only warnings are left
                    messages.warning(request, warning)
                return redirect("job-page", job_id=job.pk)
        else:
            status = 400
        job.refresh_from_db()
    balance = organization_balance(organization=user.organization)  # type: ignore[arg-type]
    quotes = job_quote(items=job.item_count, workers=QUOTE_WORKERS) if job.item_count else []
    chosen = form["tier"].value() or job.tier
    ctx = {
        "job": job,
        "form": form,
        "quotes": [
            # Publishing escrows q.escrow (the price, or dynamic overlap's worst case): that is what
            # the balance must cover, though only completed items × price is ever charged.
            {"quote": q, "tier": by_slug[q.tier], "affordable": q.escrow <= balance, "chosen": q.tier == chosen,
             "short_by": max(q.escrow - balance, Decimal("0.00")),
             "expected_pct": f"{q.expected_accuracy * 100:.1f}", "promised_pct": f"{q.promised_accuracy * 100:.1f}",
             "expected_time": _duration(q.expected_hours), "promise": _promise_plan(job, by_slug[q.tier])}
            for q in quotes if q.tier in by_slug
        ],
        "workers": QUOTE_WORKERS,
        "balance": balance,
        "shortfall": shortfall,
        "error": error,
        "steps": _steps(job, "publish"),
        "reach": _reach_rows(skills),
    }
    return render(request, "client/wizard_publish.html", ctx, status=status)


def _promise_plan(job: Job, tier: Tier) -> PromisePlan:
    """Whether this tier's promise will be measured on this job (enough of its gold judged)."""
    overlap = expected_overlap(overlap=tier.overlap, max_overlap=tier.max_overlap)
    return promise_plan(regular_items=job.item_count, gold_items=job.gold_item_count,
                        overlap=float(overlap), gold_rate=float(tier.gold_rate))


def _reach_rows(skills: list[Qualification]) -> list[dict[str, Any]]:
    """Each qualification the client may require, with how many workers hold it and whether
    workers can earn it by an exam: what decides whether a gated job ever starts."""
    reach = qualification_reach(qualification_ids=[q.pk for q in skills])
    return [{"name": q.name, "holders": reach[q.pk].holders, "has_exam": reach[q.pk].has_exam,
             "mine": q.owner_id is not None} for q in skills]
