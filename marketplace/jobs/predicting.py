"""Writes and reads of model predictions: a model version's label for items of a job.

Validation is jobs.predictions (the same for imports and the API); this module resolves the
items inside the job (tenancy: never an item of another job), names the model within the job's
organization and upserts the predictions, all or nothing. The model's votes reach consensus
through quality.reading and dynamic overlap through quality.overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from marketplace.errors import ApplicationError, Conflict
from marketplace.jobs.models import Item, Job, JobStatus, Prediction, PredictionModel
from marketplace.jobs.predictions import MAX_PREDICTIONS_PER_REQUEST, ModelName, PredictionRow

_BATCH = 5000


@dataclass(frozen=True, slots=True)
class PredictionEntry:
    """One entry of an API batch: its item by id or by external id, what the model says of it
    and/or the item's new serving priority (checked by the caller: jobs.importing_rows.PRIORITY_RANGE)."""

    prediction: PredictionRow | None
    item_id: int | None = None
    external_id: str | None = None
    priority: int | None = None


@dataclass(frozen=True, slots=True)
class PredictionsSaved:
    saved: int  # predictions added or replaced
    prioritized: int  # items whose priority was set
    worker_id: int  # the model's pseudo-worker id


def prediction_model_get_or_create(*, job: Job, model: ModelName) -> PredictionModel:
    """The organization's model version of that name; created on first use (race-safe: the
    unique constraint decides, and the loser reads the winner's row)."""
    PredictionModel.objects.bulk_create(
        [PredictionModel(organization_id=job.organization_id, name=model.name,
                         version=model.version)],
        ignore_conflicts=True,
    )
    return PredictionModel.objects.get(
        organization_id=job.organization_id, name=model.name, version=model.version
    )


def _upsert(*, job: Job, model: PredictionModel, pairs: Sequence[tuple[int, PredictionRow]]) -> None:
    now = timezone.now()
    for start in range(0, len(pairs), _BATCH):
        Prediction.objects.bulk_create(
            [
                Prediction(job=job, item_id=item_id, model=model, label=row.label,
                           probabilities=row.probabilities, updated_at=now)
                for item_id, row in pairs[start : start + _BATCH]
            ],
            update_conflicts=True,
            unique_fields=["item", "model"],
            update_fields=["label", "probabilities", "updated_at"],
        )


def predictions_import(
    *, job: Job, model: ModelName, item_ids: Sequence[int], predictions: Sequence[PredictionRow]
) -> int:
    """The predictions of a file's new items (`item_ids` in file order, paired with
    `predictions`); the caller's transaction holds the job lock that made the items."""
    pairs = list(zip(item_ids, predictions, strict=True))
    if not pairs:
        return 0
    _upsert(job=job, model=prediction_model_get_or_create(job=job, model=model), pairs=pairs)
    return len(pairs)


def _priorities_set(priorities: dict[int, int]) -> int:
    """Set items' serving priority (claims read it through the item_serving_order index)."""
    # In id order: two batches touching the same items lock their rows in one order, never a cycle.
    items = [Item(pk=pk, priority=priorities[pk]) for pk in sorted(priorities)]
    Item.objects.bulk_update(items, ["priority"], batch_size=1000)
    return len(items)


@transaction.atomic
def predictions_set(
    *, job: Job, model: ModelName, entries: Sequence[PredictionEntry]
) -> PredictionsSaved:
    """Add or replace `model`'s predictions for items of `job`, and set the priorities the
    entries give (an active-learning loop reorders pending items): every entry or none.

    Items are looked up inside the job only, so an id of another job (or organization) is an
    unknown item (400, nothing written). One entry per item per batch. No lock on the job: the
    upsert on (item, model) is what keeps two batches for one item consistent (last one wins),
    and a priority is one column a claim only reads (last one wins too).
    """
    # A completed job takes them too: a run then scores the model against the crowd's labels.
    if job.status == JobStatus.CANCELLED:
        raise Conflict("Predictions cannot be added to a cancelled job.")
    if not entries:
        raise ApplicationError("Send at least one prediction.", details={"reason": "empty"})
    if len(entries) > MAX_PREDICTIONS_PER_REQUEST:
        raise ApplicationError(
            f"At most {MAX_PREDICTIONS_PER_REQUEST:,} predictions per request; send batches.",
            details={"reason": "too_many_predictions"},
        )
    by_id = {e.item_id for e in entries if e.item_id is not None}
    by_ext = {e.external_id for e in entries if e.external_id is not None}
    items = Item.objects.filter(job=job)
    found_ids = set(items.filter(pk__in=by_id).values_list("pk", flat=True)) if by_id else set()
    ext_map = (
        dict(items.filter(external_id__in=by_ext).values_list("external_id", "pk"))
        if by_ext else {}
    )
    pairs: list[tuple[int, PredictionRow]] = []
    priorities: dict[int, int] = {}
    seen: dict[int, int] = {}
    for index, entry in enumerate(entries):
        item_id = entry.item_id if entry.item_id in found_ids else ext_map.get(entry.external_id)
        if item_id is None:
            which = (f"item {entry.item_id}" if entry.item_id is not None
                     else f"external_id {entry.external_id!r}")
            raise ApplicationError(
                f"predictions[{index}]: {which} is not an item of this job.",
                details={"index": index, "reason": "unknown_item"},
            )
        if item_id in seen:
            raise ApplicationError(
                f"predictions[{index}]: the same item as predictions[{seen[item_id]}].",
                details={"index": index, "reason": "duplicate_item"},
            )
        seen[item_id] = index
        if entry.prediction is not None:
            pairs.append((item_id, entry.prediction))
        if entry.priority is not None:
            priorities[item_id] = entry.priority
    named = prediction_model_get_or_create(job=job, model=model)
    _upsert(job=job, model=named, pairs=pairs)
    prioritized = _priorities_set(priorities) if priorities else 0
    return PredictionsSaved(saved=len(pairs), prioritized=prioritized, worker_id=named.worker_id)


@dataclass(frozen=True, slots=True)
class ModelSummary:
    """A model version that predicted items of a job, and how many."""

    worker_id: int  # its pseudo-worker id in consensus (negative)
    name: str
    version: str
    predictions: int


def prediction_models_of_job(*, job_id: int) -> list[ModelSummary]:
    """The model versions with predictions in a job, oldest first (one grouped query)."""
    rows = (
        Prediction.objects.filter(job_id=job_id)
        .values("model_id", "model__name", "model__version")
        .annotate(n=Count("id"))
        .order_by("model_id")
    )
    return [
        ModelSummary(-row["model_id"], row["model__name"], row["model__version"], row["n"])
        for row in rows
    ]
