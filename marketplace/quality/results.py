"""Reads of consensus runs, and the results export that serves the latest succeeded run.

The jobs app streams results without knowing about consensus (jobs/exporting.py takes a lookup);
this module supplies the lookup, batch by batch: the latest succeeded run's label and
confidence per item, unless an expert settled the item (then the expert's label, confidence
1.0 and source "expert"). The API's results export (api/exports.py) uses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Count, QuerySet

from marketplace.accounts.models import User
from marketplace.errors import NotFound
from marketplace.jobs import exporting, selectors
from marketplace.jobs.models import Job
from marketplace.quality.models import ConsensusRun, ExpertReview, ItemResult
from marketplace.quality.runs_multi import label_set_of

SOURCE_CONSENSUS = "consensus"
SOURCE_EXPERT = "expert"


def runs_for_owner(*, user: User, job_id: int) -> QuerySet[ConsensusRun]:
    """The runs of a job the user manages (their organization's, or any for an admin), newest first."""
    job = selectors.job_get_for_owner(user=user, job_id=job_id)
    return ConsensusRun.objects.filter(job=job).order_by("-id")


def run_get_for_owner(*, user: User, job_id: int, run_id: int) -> ConsensusRun:
    run = runs_for_owner(user=user, job_id=job_id).filter(pk=run_id).first()
    if run is None:
        raise NotFound("Consensus run not found.")
    return run


def run_latest_succeeded(*, job_id: int) -> ConsensusRun | None:
    """The run exports use: the newest that succeeded (index run_job_latest)."""
    return (
        ConsensusRun.objects.filter(job_id=job_id, status=ConsensusRun.Status.SUCCEEDED)
        .order_by("-id")
        .first()
    )


def run_distribution(*, run: ConsensusRun, regular_only: bool = False) -> dict[str, int]:
    """Per label: how many items the run gave it (one GROUP BY); a multi-label run's: per label,
    the items whose set holds it. How sure the run was of them is no measure of how right they
    are (quality/estimate.py), so it is not reported here.

    `regular_only` leaves gold items out: their labels are the known answers, set by fiat."""
    results = ItemResult.objects.filter(run=run)
    if regular_only:
        results = results.filter(item__is_gold=False)
    if run.parameters.get("multi_label"):
        return _multi_distribution(results)
    rows = results.values("label").annotate(items=Count("id")).order_by("label")
    return {row["label"]: row["items"] for row in rows}


def consensus_lookup_for(*, job: Job) -> exporting.ConsensusLookup:
    """item ids -> (label, confidence, source) for one export batch: two indexed queries."""
    run = run_latest_succeeded(job_id=job.pk)
    if job.multi_label:
        return _multi_lookup(run)

    def lookup(item_ids: list[int]) -> Mapping[int, tuple[str, float, str]]:
        found: dict[int, tuple[str, float, str]] = {}
        if run is not None:
            rows = ItemResult.objects.filter(run=run, item_id__in=item_ids).values_list(
                "item_id", "label", "confidence"
            )
            found = {
                item_id: (label, confidence, SOURCE_CONSENSUS)
                for item_id, label, confidence in rows
            }
        settled = ExpertReview.objects.filter(
            job_id=job.pk, item_id__in=item_ids, status=ExpertReview.Status.SETTLED
        ).values_list("item_id", "label")
        for item_id, label in settled:  # an expert's word settles the item: certain, and marked so
            found[item_id] = (label, 1.0, SOURCE_EXPERT)
        return found

    return lookup


def _multi_lookup(run: ConsensusRun | None) -> exporting.ConsensusLookup:
    """A multi-label job's: item ids -> (label set, confidence, source, {label: probability})."""

    def lookup(item_ids: list[int]) -> Mapping[int, tuple[Any, ...]]:
        if run is None:
            return {}
        rows = ItemResult.objects.filter(run=run, item_id__in=item_ids).values_list(
            "item_id", "probabilities", "confidence"
        )
        return {
            item_id: (label_set_of(probabilities), confidence, SOURCE_CONSENSUS, probabilities)
            for item_id, probabilities, confidence in rows
        }

    return lookup


def _multi_distribution(results: QuerySet[ItemResult]) -> dict[str, int]:
    """Read in Python, one row per item (multi-label jobs run over ORM-read judgments anyway)."""
    found: dict[str, int] = {}
    for probabilities in results.values_list("probabilities", flat=True).iterator():
        for label in label_set_of(probabilities):
            found[label] = found.get(label, 0) + 1
    return dict(sorted(found.items()))
