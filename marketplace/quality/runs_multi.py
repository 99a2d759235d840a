"""A consensus run of a multi-label job: one binary consensus per label (consensus.multilabel).

Each ItemResult keeps the item's per-label probabilities in `probabilities` ({label key:
P(the label applies)}); its set is the labels at 0.5 or more (`label_set_of`); `label` is ""
(a set can be longer than the column, and no reader should mistake it for one label).
`confidence` is the probability that the whole set is right (the labels' decisions taken as
independent: the product over labels of max(p, 1 - p)); `agreement` is the share of the item's
(vote, label) decisions that agree with the consensus set. A gold item's `probabilities` are its
known set (consensus clamps gold); its `probabilities_without_answer` are what consensus gives it
without that answer, which measures the delivered sets on gold (quality/label_quality.py).

A worker's WorkerResult holds their accuracy as the mean over labels of their per-label accuracy
(each label's binary fit), and an empty confusion (pages that draw K×K matrices skip it); their
per-label sensitivity and specificity are in the run's parameters under "per_label".

The workers' global skill takes the run's share as a single-label run's does, measured per label
(consensus.multilabel.multi_run_evidence: a vote is one pseudo-judgment, right in the share of its
label decisions that agree with the posterior). The collusion scan runs after the commit as for
single-label runs: timing as it is, agreement per label (quality/collusion.py).

Not done for multi-label runs (yet): model predictions as voters (a prediction is one label).
Judgments are read through the ORM (one row object per judgment), not COPY.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from marketplace.consensus.multilabel import (
    THRESHOLD, MultiLabelResult, MultiVotes, aggregate_multi, binary_crowds, multi_run_evidence,
)
from marketplace.jobs.models import GoldAnswer
from marketplace.labeling.models import Judgment, JudgmentStatus
from marketplace.quality.models import ItemResult, WorkerResult
from marketplace.quality.skills import worker_run_shares_replace_from

PLACES = 6
_BATCH = 2_000


def label_set_of(probabilities: dict[str, float]) -> list[str]:
    """The labels an item takes: those at THRESHOLD or more, in the job's label order."""
    return [key for key, p in probabilities.items() if p >= THRESHOLD]


def multi_votes_read(*, job_id: int, label_set: list[str]) -> MultiVotes:
    """Accepted judgments of a multi-label job (gold included) as MultiVotes; keys no longer in
    the label set (a draft's edit) are dropped from a vote, the vote kept."""
    rows = list(
        Judgment.objects.filter(job_id=job_id, status=JudgmentStatus.ACCEPTED, labels__isnull=False)
        .order_by("id").values_list("item_id", "worker_id", "labels")
    )
    known = set(label_set)
    return MultiVotes.from_sets(
        np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=np.int64),
        [[key for key in r[2] if key in known] for r in rows], label_set=label_set,
    )


def multi_run_fit_store(*, run_id: int, job_id: int, keys: list[str], method: str,
                        options: dict[str, Any], started: float) -> dict[str, Any]:
    """Fit and write a multi-label run's results; returns the run row's fields to update."""
    votes = multi_votes_read(job_id=job_id, label_set=keys)
    gold = {
        item: set(labels)
        for item, labels in GoldAnswer.objects.filter(item__job_id=job_id, labels__isnull=False)
        .values_list("item_id", "labels")
    }
    read_seconds = time.perf_counter() - started
    fit_started = time.perf_counter()
    result = aggregate_multi(votes, method=method, gold=gold, **options)
    crowds = binary_crowds(votes)
    fit_seconds = time.perf_counter() - fit_started
    items = _items_write(run_id=run_id, result=result, votes=votes)
    workers, per_label = _workers_write(run_id=run_id, result=result)
    # The workers' global skill, in the run's transaction as a single-label run's (skills.py).
    worker_run_shares_replace_from(job_id=job_id, current=multi_run_evidence(result, votes, gold_items=list(gold)))
    first = next(iter(result.per_label.values()), None)
    return {
        "parameters": {
            "multi_label": True,
            "priors": {label: round(float(r.priors[1]), 6) for label, r in result.per_label.items()},
            "crowd": {"accuracy": None, "confusion": None},
            "per_label": per_label,
            "gold_items": len(gold),
            "timings": {"read": round(read_seconds, 4), "fit": round(fit_seconds, 4)},
        },
        "fit_seconds": fit_seconds, "judgments": len(votes), "items": items, "workers": workers,
        "gold_items": len(gold),
        "rounds": max((r.rounds for r in result.per_label.values()), default=0),
        "converged": all(r.converged for r in result.per_label.values()) if first else True,
        # Not a run field: what the collusion scan reads once the run commits (runs.py pops it).
        "scan": {"per_label": {label: (fit, crowds[label]) for label, fit in result.per_label.items()},
                 "gold_items": list(gold)},
    }


def _items_write(*, run_id: int, result: MultiLabelResult, votes: MultiVotes) -> int:
    chosen = result.chosen
    p = np.round(result.probabilities, PLACES)
    confidence = np.prod(np.maximum(result.probabilities, 1 - result.probabilities), axis=1)
    rows = np.searchsorted(result.items, votes.items)
    agree = np.bincount(rows, weights=(votes.ticks == chosen[rows]).mean(axis=1), minlength=len(result.items))
    counts = np.bincount(rows, minlength=len(result.items))
    # Gold items: each label's probability without the item's answer (what label quality measures).
    unaided = dict(zip(result.gold_items.tolist(), np.round(result.gold_unaided, PLACES).tolist(), strict=True))
    objects = [
        ItemResult(
            run_id=run_id, item_id=item, label="",
            confidence=round(float(confidence[i]), PLACES),
            probabilities=dict(zip(result.labels, p[i].tolist(), strict=True)),
            judgments=min(int(counts[i]), 32_767),
            agreement=round(float(agree[i] / counts[i]), PLACES) if counts[i] else None,
            probabilities_without_answer=(
                dict(zip(result.labels, unaided[item], strict=True)) if item in unaided else None
            ),
        )
        for i, item in enumerate(result.items.tolist())
    ]
    ItemResult.objects.bulk_create(objects, batch_size=_BATCH)
    return len(objects)


def _workers_write(*, run_id: int, result: MultiLabelResult) -> tuple[int, dict[str, Any]]:
    """One WorkerResult per worker (mean per-label accuracy), and per label each worker's
    sensitivity and specificity (rows of the binary confusion: true no/yes)."""
    accuracy: dict[int, list[float]] = {}
    judgments: dict[int, int] = {}
    per_label: dict[str, Any] = {}
    for label, fit in result.per_label.items():
        per_label[label] = {}
        for w, worker in enumerate(fit.workers.tolist()):
            accuracy.setdefault(worker, []).append(float(fit.worker_accuracy[w]))
            judgments[worker] = int(fit.worker_judgments[w])
            per_label[label][str(worker)] = {
                "sensitivity": round(float(fit.confusions[w, 1, 1]), PLACES),
                "specificity": round(float(fit.confusions[w, 0, 0]), PLACES),
            }
    WorkerResult.objects.bulk_create(
        [
            WorkerResult(run_id=run_id, worker_id=worker, accuracy=round(sum(a) / len(a), PLACES),
                         confusion=[], judgments=judgments[worker])
            for worker, a in accuracy.items()
        ],
        batch_size=_BATCH,
    )
    return len(accuracy), per_label
