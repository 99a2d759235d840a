"""The create-job wizard. A draft Job holds the state: step 1 (details, labels, instructions)
creates it, the next steps fill it (items, gold), the last prices every tier side by side and
publishes (web/client/wizard_publish.py). Each step is a plain form that works without JavaScript; static/js/wizard.js adds
label rows, a live instructions preview and file checks on top.

Steps only open on the requester's own drafts (another organization's job is a 404, a
published one sends the client to its job page)."""

from __future__ import annotations

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
from marketplace.errors import ApplicationError, NotFound
from marketplace.jobs import editing, selectors, services
from marketplace.web.client import forms
from marketplace.jobs.importing import InvalidImport
from marketplace.jobs.predictions import model_name_check
from marketplace.jobs.markdown import instructions_check, instructions_render
from marketplace.jobs.models import Job, JobStatus

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


def wizard_steps(job: Job | None, current: str) -> list[dict[str, Any]]:
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


def refusal_message(exc: ApplicationError | ValidationError) -> str:
    """A service's refusal as one line: ApplicationError's message, or a model check's."""
    if isinstance(exc, ApplicationError):
        return exc.message
    return " ".join(exc.messages)


def draft_or_redirect(request: HttpRequest, job_id: int) -> Job | HttpResponse:
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
                  rows: list[forms.LabelRow], label_errors: list[str] | None = None,
                  preview: str | None = None, status: int = 200) -> HttpResponse:
    if preview is not None or form.is_bound:
        shown = preview_html(preview if preview is not None else form.data.get("instructions", ""))[0]
    else:
        shown = instructions_html(job) if job else SafeString("")
    ctx = {
        "job": job,
        "form": form,
        "label_rows": rows,
        "label_errors": label_errors or [],
        "preview_html": shown,
        "steps": wizard_steps(job, "details"),
        "max_labels": forms.MAX_LABELS,
    }
    return render(request, "client/wizard_details.html", ctx, status=status)


def _save_details(request: HttpRequest, job: Job | None) -> HttpResponse:
    form = forms.JobDetailsForm(request.POST)
    rows = forms.label_rows_from_post(request.POST)
    if "preview" in request.POST:  # the no-JavaScript preview: show it, save nothing
        return _details_page(request, job=job, form=form, rows=rows, preview=request.POST.get("instructions", ""))
    label_errors = forms.label_problems(rows)
    if not form.is_valid() or label_errors:  # every problem in one round, the labels' beside the rest
        return _details_page(request, job=job, form=form, rows=rows, label_errors=label_errors, status=400)
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
        message = refusal_message(exc)
        is_labels = "label" in message.lower()  # labels_validate's and job_update's label errors
        if not is_labels:
            form.add_error(None, message)
        return _details_page(request, job=job, form=form, rows=rows,
                             label_errors=[message] if is_labels else [], status=400)
    return redirect("client-job-setup-items", job_id=job.pk)


@client_required
def job_create(request: HttpRequest) -> HttpResponse:
    """/portal/jobs/new/: the first step; saving it creates the draft."""
    if request.method == "POST":
        return _save_details(request, None)
    return _details_page(request, job=None, form=forms.JobDetailsForm(), rows=forms.label_rows_empty())


@client_required
def setup_details(request: HttpRequest, job_id: int) -> HttpResponse:
    job = draft_or_redirect(request, job_id)
    if isinstance(job, HttpResponse):
        return job
    if request.method == "POST":
        return _save_details(request, job)
    form = forms.JobDetailsForm(initial={"title": job.title, "instructions": job.instructions, "multi_label": job.multi_label})
    return _details_page(request, job=job, form=form, rows=forms.label_rows_from_job(
        job.labels, keys_fixed=job.gold_item_count > 0))


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
    job = draft_or_redirect(request, job_id)
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
        "steps": wizard_steps(job, step),
        "next_url": reverse("client-job-setup-publish" if gold else "client-job-setup-gold", args=[job.pk]),
    }
    return render(request, "client/wizard_upload.html", ctx, status=status)


@client_required
def setup_items(request: HttpRequest, job_id: int) -> HttpResponse:
    return _upload_step(request, job_id, gold=False)


@client_required
def setup_gold(request: HttpRequest, job_id: int) -> HttpResponse:
    return _upload_step(request, job_id, gold=True)
