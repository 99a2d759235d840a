"""Client portal edits after creation: remove a draft's items (one, or all to upload anew),
delete a draft, edit a running job's instructions as a new version, and choose the item data
fields workers see (jobs.editing).

Each is a POST that redirects back with a message; the job is looked up through the owner's
selector, so another organization's job is a 404 like a missing one.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from marketplace.accounts.models import User
from marketplace.errors import ApplicationError
from marketplace.jobs import editing
from marketplace.jobs.fields import MAX_WORKER_FIELDS
from marketplace.jobs.models import JobStatus
from marketplace.parsing import id_or_none
from marketplace.web.access import client_required
from marketplace.web.client.jobs import _own_job


@client_required
@require_POST
def items_remove(request: HttpRequest, job_id: int) -> HttpResponse:
    """The wizard's upload steps: `item` removes one item, `all` every item of that step's kind."""
    job = _own_job(request, job_id)
    gold = request.POST.get("gold") == "1"
    step = "client-job-setup-gold" if gold else "client-job-setup-items"
    raw = request.POST.get("item", "")
    try:
        if request.POST.get("all") == "1":
            if gold:  # gold only: the ids of this step's kind, every one of them
                ids = list(job.items.filter(is_gold=True).values_list("pk", flat=True))
                removed = editing.items_delete(job=job, item_ids=ids) if ids else 0
            else:
                removed = editing.items_delete(job=job)
        elif (item_id := id_or_none(raw)) is not None:
            removed = editing.items_delete(job=job, item_ids=[item_id])
        else:
            raise ApplicationError("Choose an item to remove.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        noun = "gold item" if gold else "item"
        messages.success(request, f"Removed {removed} {noun}{'' if removed == 1 else 's'}.")
    if job.status != JobStatus.DRAFT:
        return redirect("job-page", job_id=job.pk)
    return redirect(step, job_id=job.pk)


@client_required
def job_delete(request: HttpRequest, job_id: int) -> HttpResponse:
    """GET: what deleting a draft does, and a confirm button. POST: delete it."""
    job = _own_job(request, job_id)
    if request.method == "POST":
        try:
            editing.job_delete(job=job)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("job-page", job_id=job.pk)
        messages.success(request, f"Deleted the draft “{job.title}” and its items.")
        return redirect("client-dashboard")
    ctx = {"job": job, "can_delete": job.status == JobStatus.DRAFT and job.published_at is None}
    return render(request, "client/job_delete.html", ctx)


@client_required
def job_instructions(request: HttpRequest, job_id: int) -> HttpResponse:
    """GET: the running job's instructions in a form (on a page of its own: the job page shows
    only the rendered text). POST: save them as a new version workers see at once."""
    job = _own_job(request, job_id)
    if request.method != "POST":
        ctx = {"job": job, "can_edit": job.status in editing.RUNNING}
        return render(request, "client/job_instructions.html", ctx)
    user: User = request.user  # type: ignore[assignment]
    try:
        edited = editing.job_instructions_edit(
            job=job, user=user, instructions=request.POST.get("instructions", "")
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        if edited.instructions_version == job.instructions_version:
            messages.info(request, "The instructions are unchanged.")
        else:
            messages.success(request, f"Saved as version {edited.instructions_version}; workers see it now.")
    return redirect("job-page", job_id=job.pk)


@client_required
def job_worker_fields(request: HttpRequest, job_id: int) -> HttpResponse:
    """GET: the items' data fields with a box each, ticked for those workers see. POST: save the
    ticked ones (every box ticked is stored as "every field", so columns of later imports show
    too). `next=wizard` returns to the wizard's items step, else to the job page."""
    job = _own_job(request, job_id)
    names = editing.item_field_names(job=job)
    back = "client-job-setup-items" if request.POST.get("next") == "wizard" else "job-page"
    if request.method != "POST":
        shown = set(job.worker_fields or names)
        ctx = {"job": job, "fields": [(name, name in shown) for name in names]}
        return render(request, "client/job_worker_fields.html", ctx)
    chosen = [name for name in request.POST.getlist("fields") if name in names][: MAX_WORKER_FIELDS]
    try:
        if not chosen:
            raise ApplicationError("Tick at least one field: workers need something to label.")
        editing.job_worker_fields_set(job=job, fields=[] if set(chosen) == set(names) else chosen)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        hidden = len(names) - len(chosen)
        messages.success(request, "Workers see every field." if not hidden else
                         f"Workers see {', '.join(chosen)}; {hidden} field{'' if hidden == 1 else 's'} hidden.")
    return redirect(back, job_id=job.pk)
