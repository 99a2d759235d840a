"""Edits after creation: a draft's items removed, a draft deleted, a running job's instructions
replaced by a new version.

Drafts hold no money: publishing is what opens the job's budget (billing.escrow), and a job never
becomes a draft again, so deleting a draft or its items touches no ledger. Each write locks the
job (SELECT FOR UPDATE), which is also what publishing and imports take, so a publish cannot slip
between the status check and the delete.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.db.models import Count, F, ProtectedError, Q
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import ApplicationError, Conflict
from marketplace.jobs.fields import worker_fields_validate
from marketplace.jobs.markdown import instructions_check, instructions_render
from marketplace.jobs.models import Item, Job, JobInstructions, JobStatus
from marketplace.parsing import ID_RULE, id_or_none

# Ids one request may name; "all" has no limit.
MAX_ITEM_IDS = 10_000
# Statuses whose instructions are edited as a new version (a draft is edited in place).
RUNNING = (JobStatus.OPEN, JobStatus.PAUSED)


def _draft_locked(*, job: Job, what: str) -> Job:
    """The job, locked; Conflict unless it is a draft that was never published."""
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.status != JobStatus.DRAFT or job.published_at is not None:
        raise Conflict(f"Only a draft's {what} can be deleted; this job is {job.status}.")
    return job


@transaction.atomic
def items_delete(*, job: Job, item_ids: Sequence[int] | None = None, include_gold: bool = False) -> int:
    """Delete chosen items of a draft (regular or gold), or with no ids every regular item (and
    every gold one too with include_gold); returns how many went. Unknown ids: 400, nothing
    deleted. The job's item counters move by what was deleted, under the job lock."""
    job = _draft_locked(job=job, what="items")
    items = Item.objects.filter(job=job)
    if item_ids is not None:
        ids = _ids_clean(item_ids)
        items = items.filter(pk__in=ids)
        found = set(items.values_list("pk", flat=True))
        missing = sorted(set(ids) - found)
        if missing:
            shown = ", ".join(str(i) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
            raise ApplicationError(f"No item of this job has the id {shown}.", details={"missing": missing[:100]})
    elif not include_gold:
        items = items.filter(is_gold=False)
    counts = items.aggregate(regular=Count("pk", filter=Q(is_gold=False)), gold=Count("pk", filter=Q(is_gold=True)))
    if not (counts["regular"] or counts["gold"]):
        return 0
    # A draft's items have no leases, judgments or results (nobody can claim a draft), so the
    # cascade only reaches the gold answers.
    items.delete()
    Job.objects.filter(pk=job.pk).update(
        item_count=F("item_count") - counts["regular"], gold_item_count=F("gold_item_count") - counts["gold"]
    )
    return int(counts["regular"] + counts["gold"])


def _ids_clean(item_ids: Sequence[int]) -> list[int]:
    if isinstance(item_ids, str | bytes) or not isinstance(item_ids, Sequence):
        raise ApplicationError("ids must be a list of item ids.")
    if not item_ids:
        raise ApplicationError("Name at least one item id (or delete all).")
    if len(item_ids) > MAX_ITEM_IDS:
        raise ApplicationError(f"At most {MAX_ITEM_IDS:,} ids at once; delete all to empty the draft.")
    if not all(type(i) is int and id_or_none(i) is not None for i in item_ids):
        raise ApplicationError(f"Each of ids must be {ID_RULE}.")
    return list(dict.fromkeys(item_ids))


@transaction.atomic
def job_delete(*, job: Job) -> None:
    """Delete a draft with its items. Anything published (a budget, judgments) is refused: 409."""
    job = _draft_locked(job=job, what="job")
    try:
        job.delete()
    except ProtectedError:  # a ledger row or budget names it: money moved, so it must stay
        raise Conflict("This job has money recorded against it and cannot be deleted; cancel it.") from None


@transaction.atomic
def job_instructions_edit(*, job: Job, user: User, instructions: str) -> Job:
    """Replace an open or paused job's instructions with a new version; workers read the job row,
    so they see it at once, and leases claimed from now on carry the new version number.

    The history (JobInstructions) starts at the first edit with version 1 as published. The same
    text again makes no version. Bad Markdown (jobs.markdown's limits) is a 400, nothing changed.
    """
    if not isinstance(instructions, str):
        raise ApplicationError("instructions must be text (Markdown).")
    text = instructions_check(instructions)
    # Lock the job: two edits must not both take the next version number, and a cancel must not
    # slip between the status check and the write.
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.status not in RUNNING:
        raise Conflict(
            f"Instructions are edited as a version only while the job runs; this job is {job.status}"
            + (" (edit the draft itself)." if job.status == JobStatus.DRAFT else ".")
        )
    if text == job.instructions:
        return job
    now = timezone.now()
    if not JobInstructions.objects.filter(job=job).exists():
        JobInstructions.objects.create(
            job=job, version=job.instructions_version, text=job.instructions, html=job.instructions_html,
            created_at=job.published_at or job.created_at, created_by_id=job.created_by_id,
        )
    job.instructions = text
    job.instructions_html = instructions_render(text)
    job.instructions_version += 1
    job.save(update_fields=["instructions", "instructions_html", "instructions_version", "updated_at"])
    JobInstructions.objects.create(
        job=job, version=job.instructions_version, text=job.instructions, html=job.instructions_html,
        created_at=now, created_by=user,
    )
    return job


@transaction.atomic
def job_worker_fields_set(*, job: Job, fields: list[str]) -> Job:
    """Choose the item data fields workers see (Job.worker_fields; empty: every field), for a
    draft or a running job: the labeling page and the worker API read it with each item, so the
    next item shown follows it. A finished job's is kept as it was (409)."""
    clean = worker_fields_validate(fields)
    # Lock the job: the status check and the write must not straddle a cancel or completion.
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.status not in (JobStatus.DRAFT, *RUNNING):
        raise Conflict(f"The fields workers see change only while the job is a draft or runs; it is {job.status}.")
    job.worker_fields = clean
    job.save(update_fields=["worker_fields", "updated_at"])
    return job


def item_field_names(*, job: Job, sample: int = 200) -> list[str]:
    """The data field names of the job's first `sample` regular items, in first-seen order: what a
    client chooses workers' fields from (a column every item has shows up in the first)."""
    names: dict[str, None] = {}
    for data in Item.objects.filter(job=job, is_gold=False).order_by("id").values_list("data", flat=True)[:sample]:
        if isinstance(data, dict):
            names.update(dict.fromkeys(str(key) for key in data))
    for name in job.worker_fields or []:  # a chosen field the sample lacks stays choosable
        names.setdefault(name, None)
    return list(names)
