"""Dynamic overlap: after each judgment, is this item settled or does it need one more?

Labeling asks `OverlapJudge.more_wanted` under the item's row lock when a dynamic job's item
reaches the judgments it asked for. The item's posterior is a single-item Dawid-Skene E-step
(`consensus.item_posterior`) over its accepted judgments; the answer is `consensus.dynamic.
overlap_decision`, the one rule the replay (`manage.py replay --dynamic`) simulates too: settle
once the expected accuracy (the posterior's largest probability) reaches the job's target.

Each worker is weighed by `consensus.dynamic.worker_confusion`: their confusion matrix in the
job's latest succeeded run, pulled towards their global skill (quality/skills.py) by as much
evidence as they have elsewhere; else a one-coin matrix from their gold answers in this job and their
global skill, shaped like the crowd's errors; else the crowd (the run's average worker, or
`WorkerModel.crowd_accuracy` before a first run). Class priors come from the run or are uniform.
Items that reach the maximum overlap still below the target are remembered and, once the
submit's quality steps have run, queued for expert review by `queue_uncertain`.

Model predictions (jobs.models.Prediction) vote too, each model version weighed by the confusion
the job's latest run measured for it against the people (quality/predictions.py); before a run
has measured it a model counts as chance and its vote moves nothing. A model measured at least
as accurate as the run's typical worker (in a job with pre-labels: measured on the blind
judgments) also counts towards the minimum overlap (`overlap_decision`'s `model_votes`). The
submit asks the rule once an item has its minimum of human judgments, and below it after each
judgment of an item a model predicted (labeling/slots.py): there only a trusted model's vote can
settle it, so an item where the trusted model and the first person agree settles at one
judgment, never at none; without a trusted model the answer below the minimum is "more" at
the cost of the job's two small reads.

One submit = one judge: per-job data is cached on the instance, never across requests (a new
run or new gold answers must be seen by the next submit). A call costs at most 5 small queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db.models import FilteredRelation, Q

from marketplace.accounts.models import User
from marketplace.consensus import item_posterior
from marketplace.consensus.dynamic import (
    DEFAULT_MODEL,
    Crowd,
    Decision,
    Evidence,
    expected_accuracy,
    overlap_decision,
    worker_confusion,
)
from marketplace.consensus.types import FloatArray
from marketplace.jobs.models import Item, Job, Prediction
from marketplace.labeling.models import Judgment, JudgmentStatus
from marketplace.quality import experts
from marketplace.quality.models import ConsensusRun, WorkerResult
from marketplace.quality.skills import skill_expressions


@dataclass(frozen=True)
class JobModel:
    """What the judge needs from a job: its labels, overlap bounds, target and latest run."""

    job_id: int
    labels: tuple[str, ...]
    target: float
    min_overlap: int
    max_overlap: int
    run_id: int | None
    priors: FloatArray
    crowd: Crowd
    # model id -> (confusion, trusted) from the latest run's `models`; empty: no model measured
    models: dict[int, tuple[FloatArray, bool]] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """One item's posterior at this moment, with the votes it was computed from."""

    item_id: int
    job: JobModel
    votes: tuple[tuple[int, str], ...]  # (worker id, label), in judgment order
    posterior: FloatArray  # in job label order
    model_votes: int = 0  # trusted models' predictions among the votes weighed

    @property
    def confidence(self) -> float:
        return expected_accuracy(self.posterior)

    @property
    def label(self) -> str:
        return self.job.labels[int(np.argmax(self.posterior))]

    def probabilities(self) -> dict[str, float]:
        return {
            label: round(float(p), 6)
            for label, p in zip(self.job.labels, self.posterior, strict=True)
        }


class OverlapJudge:
    """Decides, one submit at a time, whether an item of a dynamic job needs another judgment."""

    def __init__(self) -> None:
        self._jobs: dict[int, JobModel] = {}
        self._matrices: dict[tuple[int, int], FloatArray] = {}  # (job id, worker id) -> confusion
        self._uncertain: dict[int, Verdict] = {}  # item id -> verdict at maximum overlap

    def more_wanted(self, item_id: int, judgments: int, max_overlap: int) -> bool:
        """True to collect one more judgment; False to let the item complete.

        Called by labeling with the item's row lock held and the new judgment already written.
        An item at `max_overlap` still below the target completes, and is remembered for
        `queue_uncertain`.
        """
        rows = self._rows(item_id)
        if not rows:  # no accepted judgment left (all dropped): nothing to weigh
            return judgments < max_overlap
        job = self._job(rows[0][0])
        if judgments < job.min_overlap and not any(trusted for _, trusted in job.models.values()):
            return True  # below the minimum only a trusted model's vote may settle an item
        verdict = self._verdict(item_id, rows, job)
        decision = overlap_decision(
            posterior=verdict.posterior,
            judgments=judgments,
            min_overlap=verdict.job.min_overlap,
            max_overlap=max_overlap,
            target=verdict.job.target,
            model_votes=verdict.model_votes,
        )
        if decision is Decision.UNCERTAIN:
            self._uncertain[item_id] = verdict
        return decision is Decision.MORE

    def queue_uncertain(self) -> None:
        """Send the items remembered at maximum overlap to expert review (idempotent per item).

        Runs after the submit's quality steps: an item they reopened (its worker was blocked
        and the judgment dropped) is not complete any more and goes back to the crowd instead.
        """
        if not self._uncertain:
            return
        complete = set(
            Item.objects.filter(pk__in=list(self._uncertain), is_complete=True).values_list(
                "pk", flat=True
            )
        )
        for item_id, verdict in sorted(self._uncertain.items()):
            if item_id in complete:
                experts.expert_review_queue(
                    item_id=item_id,
                    job_id=verdict.job.job_id,
                    confidence=verdict.confidence,
                    reason=uncertain_reason(
                        max_overlap=verdict.job.max_overlap, target=verdict.job.target
                    ),
                    evidence={
                        "item": item_id,
                        "judgments": [{"worker": w, "label": label} for w, label in verdict.votes],
                        "posterior": verdict.probabilities(),
                        "confidence": round(verdict.confidence, 6),
                        "target_confidence": verdict.job.target,
                        "max_overlap": verdict.job.max_overlap,
                        "run": verdict.job.run_id,
                    },
                )
        self._uncertain.clear()

    def verdict(self, *, item_id: int) -> Verdict | None:
        """The item's posterior from its accepted judgments, or None if it has none."""
        rows = self._rows(item_id)
        return self._verdict(item_id, rows, self._job(rows[0][0])) if rows else None

    @staticmethod
    def _rows(item_id: int) -> list[tuple[int, int, str]]:
        return list(
            Judgment.objects.filter(item_id=item_id, status=JudgmentStatus.ACCEPTED, is_gold=False)
            .order_by("id")
            .values_list("job_id", "worker_id", "label")
        )

    def _verdict(self, item_id: int, rows: list[tuple[int, int, str]], job: JobModel) -> Verdict:
        position = {label: k for k, label in enumerate(job.labels)}
        votes = [(worker, position[label]) for _, worker, label in rows if label in position]
        matrices = self._worker_matrices(job, [worker for worker, _ in votes])
        trusted = 0
        if job.models:  # a job whose run measured no model skips the query
            for model_id, label in Prediction.objects.filter(item_id=item_id).values_list(
                "model_id", "label"
            ):
                if model_id in job.models and label in position:
                    matrix, counts = job.models[model_id]
                    matrices[-model_id] = matrix  # pseudo-worker ids are negative
                    votes.append((-model_id, position[label]))
                    trusted += counts
        posterior = item_posterior(matrices, job.priors, votes)
        return Verdict(
            item_id=item_id,
            job=job,
            votes=tuple((worker, label) for _, worker, label in rows),
            posterior=posterior,
            model_votes=trusted,
        )

    def _job(self, job_id: int) -> JobModel:
        if job_id not in self._jobs:
            self._jobs[job_id] = job_model(job_id=job_id)
        return self._jobs[job_id]

    def _worker_matrices(self, job: JobModel, workers: Sequence[int]) -> dict[int, FloatArray]:
        """Each worker's confusion matrix (consensus.dynamic.worker_confusion), cached per judge."""
        missing = [w for w in set(workers) if (job.job_id, w) not in self._matrices]
        k = len(job.labels)
        fitted: dict[int, tuple[FloatArray, int]] = {}
        if missing and job.run_id is not None:
            for worker, confusion, judgments in WorkerResult.objects.filter(
                run_id=job.run_id, worker_id__in=missing
            ).values_list("worker_id", "confusion", "judgments"):
                matrix = matrix_or_none(confusion, k)
                if matrix is not None:
                    fitted[worker] = (matrix, judgments)
        if missing:
            records = worker_records(job_id=job.job_id, worker_ids=missing)
            for worker in missing:
                record = records.get(worker, WorkerRecord())
                matrix, judgments = fitted.get(worker, (None, 0))
                self._matrices[(job.job_id, worker)] = worker_confusion(
                    n_labels=k,
                    crowd=job.crowd,
                    skill=record.skill,
                    job=record.gold + record.run,
                    job_gold=record.gold,
                    run_confusion=matrix,
                    run_judgments=judgments,
                    model=DEFAULT_MODEL,
                )
        return {w: self._matrices[(job.job_id, w)] for w in workers}


@dataclass(frozen=True)
class WorkerRecord:
    """What the product knows of a worker for one job: their global skill (gold answers plus every
    job's latest run share), their gold answers here, and this job's latest run share."""

    skill: Evidence = Evidence()
    gold: Evidence = Evidence()
    run: Evidence = Evidence()


def worker_records(*, job_id: int, worker_ids: Sequence[int]) -> dict[int, WorkerRecord]:
    """Each worker's record for the job, in one query (a worker nobody knows is absent)."""
    rows = (
        User.objects.filter(pk__in=list(worker_ids))
        .annotate(
            here=FilteredRelation("job_stats", condition=Q(job_stats__job_id=job_id)),
            share=FilteredRelation("run_shares", condition=Q(run_shares__job_id=job_id)),
            **skill_expressions(),
        )
        .values_list(
            "pk", "skill_right", "skill_seen", "here__gold_correct", "here__gold_seen",
            "share__right", "share__seen",
        )
    )
    records = {}
    for pk, *values in rows:
        skill_right, skill_seen, gold_right, gold_seen, run_right, run_seen = (float(v or 0) for v in values)
        records[pk] = WorkerRecord(
            skill=Evidence(skill_right, skill_seen), gold=Evidence(gold_right, gold_seen),
            run=Evidence(run_right, run_seen),
        )
    return records


def job_model(*, job_id: int) -> JobModel:
    """The job's labels, target and latest succeeded run (two small queries at most)."""
    job = Job.objects.only("labels", "target_confidence", "max_overlap", "overlap").get(pk=job_id)
    labels = tuple(job.label_keys)
    run = (
        ConsensusRun.objects.filter(job_id=job_id, status=ConsensusRun.Status.SUCCEEDED)
        .order_by("-id")
        .values_list("id", "parameters")
        .first()
    )
    run_id, parameters = run if run is not None else (None, {})
    # A job that is not dynamic has no target: its items complete at overlap (never asked).
    target = float(job.target_confidence) if job.target_confidence is not None else 0.0
    priors = _priors(parameters, len(labels))
    crowd = _crowd(parameters, len(labels), priors)
    return JobModel(
        job_id=job_id,
        labels=labels,
        target=target,
        min_overlap=job.overlap,
        max_overlap=job.max_overlap or job.overlap,
        run_id=run_id,
        priors=priors,
        crowd=crowd,
        models=_models(parameters, len(labels), crowd),
    )


def _models(parameters: Any, k: int, crowd: Crowd) -> dict[int, tuple[FloatArray, bool]]:
    """Each model the run measured: its confusion, and whether it is trusted to count towards
    the minimum overlap (at least as accurate as the typical worker). In a job with pre-labels
    the measure on the blind judgments (`blind`) stands instead: people who saw the model's
    label agree with it more than its accuracy earns."""
    raw = parameters.get("models") if isinstance(parameters, dict) else None
    found: dict[int, tuple[FloatArray, bool]] = {}
    for measured in raw if isinstance(raw, list) else []:
        if not isinstance(measured, dict) or not isinstance(measured.get("model_id"), int):
            continue
        entry = {"model_id": measured["model_id"], **measured["blind"]} if isinstance(measured.get("blind"), dict) else measured
        matrix = matrix_or_none(entry.get("confusion"), k)
        accuracy = entry.get("accuracy")
        if matrix is None or not isinstance(accuracy, int | float):
            continue
        found[entry["model_id"]] = (matrix, bool(entry.get("items")) and accuracy >= crowd.accuracy)
    return found


def uncertain_reason(*, max_overlap: int, target: float) -> str:
    """The same words for every item of a job, so clients can count reviews by reason."""
    return (
        f"Reached the maximum of {max_overlap} judgments with a consensus confidence below "
        f"the target {target:g}."
    )


def _priors(parameters: Any, k: int) -> FloatArray:
    """The run's class priors when it recorded usable ones, else uniform."""
    raw = parameters.get("priors") if isinstance(parameters, dict) else None
    try:
        priors = np.asarray(raw, dtype=np.float64) if raw is not None else None
    except (TypeError, ValueError):
        priors = None
    if (
        priors is None
        or priors.shape != (k,)
        or not np.all(np.isfinite(priors))
        or priors.sum() <= 0
    ):
        return np.full(k, 1.0 / k) if k else np.empty(0)
    return priors / priors.sum()


def _crowd(parameters: Any, k: int, priors: FloatArray) -> Crowd:
    """The run's typical worker when it recorded one, else the stated prior of the model."""
    raw = parameters.get("crowd") if isinstance(parameters, dict) else None
    if not isinstance(raw, dict):
        return Crowd(accuracy=DEFAULT_MODEL.crowd_accuracy)
    try:
        accuracy = float(raw.get("accuracy"))
    except (TypeError, ValueError):
        return Crowd(accuracy=DEFAULT_MODEL.crowd_accuracy)
    if not 0.0 <= accuracy <= 1.0:
        return Crowd(accuracy=DEFAULT_MODEL.crowd_accuracy)
    return Crowd(
        accuracy=accuracy, confusion=matrix_or_none(raw.get("confusion"), k), priors=priors
    )


def matrix_or_none(confusion: Any, k: int) -> FloatArray | None:
    """A run's confusion matrix if it fits the job's labels (a run of another label set does not)."""
    try:
        matrix = np.asarray(confusion, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if matrix.shape != (k, k) or not np.all(np.isfinite(matrix)):
        return None
    return matrix
