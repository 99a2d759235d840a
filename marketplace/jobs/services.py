"""Writes on jobs and items: create, edit while draft, status moves, bulk item creation."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from marketplace.accounts.models import Qualification, User
from marketplace.errors import ApplicationError, Conflict
from marketplace.jobs.fields import decimal_clean, fields_clean
from marketplace.jobs.models import (
    JOB_TRANSITIONS,
    GoldAnswer,
    Item,
    Job,
    JobQualification,
    JobStatus,
    JobTally,
    PredictionModel,
)
from marketplace.wording import a_or_an

def _dynamic_overlap_check(job: Job) -> None:
    if (job.max_overlap is None) != (job.target_confidence is None):
        raise ApplicationError("Dynamic overlap needs both max_overlap and target_confidence.")
    if job.max_overlap is not None and job.max_overlap < job.overlap:
        raise ApplicationError("max_overlap must be at least overlap (the minimum).")
    if job.max_overlap is not None and job.multi_label:
        # Its stopping rule reads one posterior per item; a multi-label item has one per label.
        raise ApplicationError("dynamic overlap is for single-label jobs")


@dataclass(frozen=True)
class Requirement:
    qualification_id: int
    min_score: Decimal = Decimal("0")


def _requirements_set(*, job: Job, requirements: Sequence[Requirement], user: User) -> None:
    ids = [r.qualification_id for r in requirements]
    if len(set(ids)) != len(ids):
        raise ApplicationError("A qualification is required twice.")
    visible = Qualification.objects.filter(pk__in=ids)
    if not user.is_admin:  # clients may require platform qualifications and their own
        visible = visible.filter(owner__isnull=True) | visible.filter(owner_id=user.organization_id)
    found = set(visible.values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        raise ApplicationError(f"Unknown qualification ids: {missing}.")
    JobQualification.objects.filter(job=job).delete()
    JobQualification.objects.bulk_create(
        JobQualification(
            job=job,
            qualification_id=r.qualification_id,
            min_score=decimal_clean(r.min_score, "min_score", places=4, low=Decimal(0), high=Decimal(1)),
        )
        for r in requirements
    )


def _prelabels_resolve(clean: dict[str, Any], *, organization_id: int) -> dict[str, Any]:
    """`show_prelabels` (a model name or None) as the job's prelabel_model: the organization's
    model version of that name, named now if its predictions come later."""
    if "show_prelabels" not in clean:
        return clean
    named = clean.pop("show_prelabels")
    if named is None:
        clean["prelabel_model"] = None
    else:
        PredictionModel.objects.bulk_create(  # race-safe: the unique constraint decides
            [PredictionModel(organization_id=organization_id, name=named.name,
                             version=named.version)],
            ignore_conflicts=True,
        )
        clean["prelabel_model"] = PredictionModel.objects.get(
            organization_id=organization_id, name=named.name, version=named.version
        )
    return clean


@transaction.atomic
def job_create(
    *, user: User, fields: dict[str, Any], requirements: Sequence[Requirement] = ()
) -> Job:
    if not user.is_client:
        raise ApplicationError("Only client accounts create jobs.")
    missing = [name for name in ("title", "labels") if name not in fields]
    if missing:
        raise ApplicationError(f"Missing job fields: {', '.join(missing)}.", details=dict.fromkeys(missing, "required"))
    clean = _prelabels_resolve(fields_clean(fields), organization_id=user.organization_id)
    job = Job(organization_id=user.organization_id, created_by=user, **clean)
    _dynamic_overlap_check(job)
    job.full_clean()
    job.save()
    _requirements_set(job=job, requirements=requirements, user=user)
    return job


@transaction.atomic
def job_update(
    *, job: Job, user: User, fields: dict[str, Any], requirements: Sequence[Requirement] | None = None
) -> Job:
    # Lock the job: a concurrent publish must not slip between our status check and write.
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.status != JobStatus.DRAFT:
        raise Conflict(f"Only draft jobs can be edited; this job is {job.status}.")
    clean = _prelabels_resolve(fields_clean(fields), organization_id=job.organization_id)
    if "labels" in clean and job.gold_item_count:
        keys = {choice["key"] for choice in clean["labels"]}
        used = set(GoldAnswer.objects.filter(item__job=job).values_list("label", flat=True).distinct())
        used.discard("")  # a multi-label job's gold: its sets are in `labels`
        for labels in GoldAnswer.objects.filter(item__job=job, labels__isnull=False).values_list("labels", flat=True):
            used.update(labels)
        if used - keys:
            raise ApplicationError(f"Gold items use labels missing from the new set: {sorted(used - keys)}.")
    for name, value in clean.items():
        setattr(job, name, value)
    _dynamic_overlap_check(job)
    job.full_clean()
    job.save()
    if requirements is not None:
        _requirements_set(job=job, requirements=requirements, user=user)
    return job


@transaction.atomic
def job_transition(*, job: Job, to: str, expected_from: frozenset[str] | None = None) -> Job:
    """Move a job along draft → open ⇄ paused → completed | cancelled, refusing anything else.

    `expected_from` narrows the legal starting states (resume only from paused, say).
    """
    # Lock the job: two clicks (pause, cancel) must not both read the old status. It also waits
    # for the submits in flight (they hold the job in KEY SHARE mode: labeling/submitting.py).
    job = Job.objects.select_for_update().get(pk=job.pk)
    # The tallied counts came with the statement's snapshot, taken before any wait for the lock:
    # forget them, so a reader (settlement) sums the tallies of every submit that committed.
    job.tally_counts_forget()
    if to not in JOB_TRANSITIONS[job.status] or (expected_from and job.status not in expected_from):
        raise Conflict(f"{a_or_an(job.status, capital=True)} job cannot become {to}.")
    if to == JobStatus.OPEN and job.status == JobStatus.DRAFT and job.item_count == 0:
        raise ApplicationError("Import at least one item before publishing.")
    now = timezone.now()
    job.status = to
    if to == JobStatus.OPEN and job.published_at is None:
        job.published_at = now
    if to in (JobStatus.COMPLETED, JobStatus.CANCELLED):
        job.finished_at = now
    job.save(update_fields=["status", "published_at", "finished_at", "updated_at"])
    return job


@transaction.atomic
def job_complete_if_done(*, job_id: int) -> bool:
    """Complete an open job whose tallies say every regular item is complete; True if it did.

    Called by the submit that completed an item when it sees the job done, after commit by the
    submit flow (two submits completing the last two items at once each miss the other's item,
    so neither completes the job: labeling/submitting.py), and by the periodic safety net. Locks
    the job (FOR UPDATE: it waits for submits in flight, which hold KEY SHARE), then sums the
    tallies in a new statement, which sees every submit committed meanwhile, and our own.
    """
    # Look first without a lock: most calls (an item completed, the job not) end here, and must
    # not queue behind the submits in flight that FOR UPDATE would wait for.
    seen = Job.objects.filter(pk=job_id).values_list("status", "item_count", "completed_item_count").first()
    if seen is None or seen[0] != JobStatus.OPEN or not seen[1] or seen[2] < seen[1]:
        return False
    locked = Job.objects.select_for_update().filter(pk=job_id).values_list("status", "item_count").first()
    if locked is None or locked[0] != JobStatus.OPEN or not locked[1]:
        return False
    completed = JobTally.objects.filter(job_id=job_id).aggregate(n=Coalesce(Sum("completed_items"), 0))["n"]
    if completed < locked[1]:
        return False
    job_transition(job=Job(pk=job_id), to=JobStatus.COMPLETED)
    return True


def jobs_complete_due(*, limit: int) -> list[int]:
    """Open jobs whose tallies say every item is complete (a read; job_complete_if_done checks
    again under the lock): what a crash between a submit's commit and its re-check leaves."""
    return list(
        Job.objects.filter(status=JobStatus.OPEN, item_count__gt=0, completed_item_count__gte=F("item_count"))
        .order_by("pk").values_list("pk", flat=True)[:limit]
    )


def job_terms_fix(*, job: Job, promised_accuracy: Decimal, rules: dict[str, Any]) -> bool:
    """Record the promise and quality rules a job is published under; once only (compare-and-set
    on a null promise), so a later call leaves the first terms alone. True when recorded."""
    return bool(
        Job.objects.filter(pk=job.pk, promised_accuracy__isnull=True).update(
            promised_accuracy=promised_accuracy, rules_at_publish=rules
        )
    )


class MultiLabelKeys(list[str]):
    """A multi-label job's label keys as the importers take them: a gold row's `label` is then a
    set ("cat|dog" in CSV, a list in JSON; empty: no label applies). Passed where the keys go,
    so the format parsers between the importer and jobs.importing_rows need no second argument."""


def import_label_keys(job: Job) -> list[str]:
    return MultiLabelKeys(job.label_keys) if job.multi_label else job.label_keys


@dataclass(frozen=True, slots=True)
class ItemRow:
    """One parsed line of an import: data plus, for gold, the known label."""

    data: dict[str, Any]
    external_id: str | None = None
    priority: int = 0
    gold_label: str | None = None
    # Multi-label jobs: the gold item's known set (gold_label is then ""), in the job's label order.
    gold_labels: list[str] | None = None
    explanation: str = ""
    line: int = 0
    item: int | None = None  # a JSON array's element, from 1 (a one-line array is all on line 1)
    extra: dict[str, Any] = field(default_factory=dict)
    # A model's prediction as the file gave it: (prediction, prediction_probabilities), checked
    # by the importer once it knows the model (jobs.predictions); from a Label Studio task's
    # `predictions` when `predicted_by_label_studio` (kept only if the import names a model).
    prediction_raw: tuple[Any, Any] | None = None
    predicted_by_label_studio: bool = False


def row_place(line: int | None, item: int | None = None) -> str:
    """Where an import's problem is, as every message says it: "line 3"; "item 7 (line 1)"."""
    if item is None:
        return f"line {line}"
    return f"item {item}" if line is None else f"item {item} (line {line})"


IMPORTABLE_STATUSES = (JobStatus.DRAFT, JobStatus.OPEN, JobStatus.PAUSED)
_BATCH = 5000
# What COPY writes per item, in this order; every other column has a database default (the id).
_COPY_FIELDS = (
    "job", "external_id", "data", "is_gold", "priority",
    "judgment_count", "started", "is_complete", "created_at",
)


@transaction.atomic
def item_bulk_create(*, job: Job, rows: Iterable[ItemRow], gold: bool) -> int:
    """Insert validated rows in one transaction and bump the job's counters; all or nothing.

    The caller validated every row (data, labels, external ids unique in the file). Under the
    job lock this re-checks what may have moved since: the job's status, its label set (gold)
    and the external ids already in the job. On PostgreSQL the rows go in through COPY, which
    writes 100k items in about a second where INSERTs built by the ORM take several.
    """
    # Lock the job: status, counters and the duplicate check must agree with the rows we insert;
    # it also serializes imports into one job, which the COPY path's id pairing relies on.
    job = Job.objects.select_for_update().get(pk=job.pk)
    if job.status not in IMPORTABLE_STATUSES:
        raise Conflict(f"Items cannot be added to {a_or_an(job.status)} job.")
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return 0
    if gold:
        _gold_labels_check(job=job, rows=rows)
    ext_ids = [r.external_id for r in rows if r.external_id is not None]
    if ext_ids:
        taken = _existing_external_ids(job=job, external_ids=ext_ids)
        if taken:
            first = next(r for r in rows if r.external_id in taken)
            raise ApplicationError(
                f"{row_place(first.line, first.item)}: external_id {first.external_id!r} already exists in this job.",
                details={"line": first.line, "item": first.item, "reason": "duplicate_external_id"},
            )
    if transaction.get_connection().vendor == "postgresql":
        _copy_items(job=job, rows=rows, gold=gold)
    else:
        _insert_items(job=job, rows=rows, gold=gold)
    counter = "gold_item_count" if gold else "item_count"
    Job.objects.filter(pk=job.pk).update(**{counter: F(counter) + len(rows)})
    return len(rows)


def _gold_labels_check(*, job: Job, rows: list[ItemRow]) -> None:
    keys = job.label_keys
    allowed = set(keys)
    if job.multi_label:
        bad = next((r for r in rows if r.gold_labels is None or not set(r.gold_labels) <= allowed), None)
        if bad is not None:
            raise ApplicationError(
                f"{row_place(bad.line, bad.item)}: a gold item of a multi-label job needs its set of labels "
                f"(each one of {', '.join(keys)})",
                details={"line": bad.line, "item": bad.item, "reason": "unknown_label"},
            )
        return
    bad = next((r for r in rows if r.gold_label not in allowed), None)
    if bad is not None:
        raise ApplicationError(
            f"{row_place(bad.line, bad.item)}: unknown label {bad.gold_label!r} "
            f"(expected one of {', '.join(keys)})",
            details={"line": bad.line, "item": bad.item, "reason": "unknown_label"},
        )


def _insert_items(*, job: Job, rows: list[ItemRow], gold: bool) -> None:
    """The portable path (SQLite): ORM bulk inserts in batches."""
    for start in range(0, len(rows), _BATCH):
        batch = rows[start : start + _BATCH]
        items = Item.objects.bulk_create(
            Item(job=job, external_id=r.external_id, data=r.data, priority=r.priority, is_gold=gold)
            for r in batch
        )
        if gold:
            GoldAnswer.objects.bulk_create(
                GoldAnswer(item=item, label=row.gold_label or "", labels=row.gold_labels,
                           explanation=row.explanation)
                for item, row in zip(items, batch, strict=True)
            )


def _copy_items(*, job: Job, rows: list[ItemRow], gold: bool) -> None:
    """PostgreSQL: COPY the items in; for gold, pair the new ids with the rows, COPY the answers.

    Caller holds the job lock, so no other import adds items to this job meanwhile: the job's
    gold items without an answer are exactly the ones just copied, and since one session draws
    their ids from the sequence in COPY order, sorted by id they line up with `rows`.
    """
    connection = transaction.get_connection()
    quote = connection.ops.quote_name
    data_field = Item._meta.get_field("data")
    columns = ", ".join(quote(Item._meta.get_field(name).column) for name in _COPY_FIELDS)
    now = timezone.now()
    with connection.cursor() as cursor:
        # COPY is psycopg 3's API on the raw cursor; Django's cursor wrapper does not expose it.
        table = quote(Item._meta.db_table)
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for r in rows:
                data = data_field.get_db_prep_save(r.data, connection)
                copy.write_row((job.pk, r.external_id, data, gold, r.priority, 0, False, False, now))
        if not gold:
            return
        # Fetched in full before the next COPY: a connection runs nothing else while copying.
        new_ids = list(
            Item.objects.filter(job=job, is_gold=True, gold__isnull=True)
            .order_by("id")
            .values_list("id", flat=True)
        )
        answers = quote(GoldAnswer._meta.db_table)
        if job.multi_label:  # the sets as jsonb text; single-label gold keeps the COPY below
            with cursor.cursor.copy(f"COPY {answers} (item_id, label, labels, explanation) FROM STDIN") as copy:
                for item_id, row in zip(new_ids, rows, strict=True):
                    copy.write_row((item_id, "", json.dumps(row.gold_labels or []), row.explanation))
            return
        with cursor.cursor.copy(f"COPY {answers} (item_id, label, explanation) FROM STDIN") as copy:
            for item_id, row in zip(new_ids, rows, strict=True):
                copy.write_row((item_id, row.gold_label or "", row.explanation))


def _existing_external_ids(*, job: Job, external_ids: list[str]) -> set[str]:
    with_ids = Item.objects.filter(job=job, external_id__isnull=False)
    if not with_ids.exists():  # a fresh job (the usual import) needs no lookup at all
        return set()
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        # One array parameter: ten times faster than the ORM's IN lists of 5,000 placeholders.
        sql = "SELECT {ext} FROM {table} WHERE {job} = %s AND {ext} = ANY(%s)".format(
            ext=connection.ops.quote_name(Item._meta.get_field("external_id").column),
            table=connection.ops.quote_name(Item._meta.db_table),
            job=connection.ops.quote_name(Item._meta.get_field("job").column),
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [job.pk, external_ids])
            return {external_id for (external_id,) in cursor.fetchall()}
    taken: set[str] = set()
    for start in range(0, len(external_ids), _BATCH):
        chunk = external_ids[start : start + _BATCH]
        taken.update(with_ids.filter(external_id__in=chunk).values_list("external_id", flat=True))
    return taken
