"""The quality promise's evidence: how accurate a finished job's delivered labels are, estimated on
gold items held back from the fit (marketplace/consensus/delivered.py says how and why)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from marketplace.consensus import Votes
from marketplace.consensus.delivered import DeliveredAccuracy, delivered_accuracy
from marketplace.jobs.models import GoldAnswer, Item, Job
from marketplace.quality.models import ConsensusRun
from marketplace.quality.reading import judgment_arrays
from marketplace.quality.runs import DEFAULT_METHOD, consensus_options

#: Below this many judged gold items the interval is too wide to hold anyone to a promise.
MIN_GOLD_ITEMS = 10


@dataclass(frozen=True)
class DeliveryCheck:
    estimate: DeliveredAccuracy | None
    note: str  # why there is no estimate, or "" when there is one


def job_delivered_accuracy(*, job_id: int) -> DeliveryCheck:
    """Read the job's accepted judgments and gold answers and estimate its delivered accuracy.

    Deterministic per job (the draws are seeded by the job id), so a repeated check agrees with
    the first. Reads only: the caller decides what the figure triggers (billing's quality credit).
    """
    labels = [choice["key"] for choice in Job.objects.values_list("labels", flat=True).get(pk=job_id)]
    arrays = judgment_arrays(job_id=job_id, label_set=labels)
    gold = dict(GoldAnswer.objects.filter(item__job_id=job_id, label__in=labels).values_list("item_id", "label"))
    judged_gold = int(np.isin(np.fromiter(gold, dtype=np.int64), arrays.items).sum()) if gold else 0
    if judged_gold < MIN_GOLD_ITEMS:
        return DeliveryCheck(None, f"not measured: {judged_gold} gold items were judged; the estimate "
                                   f"needs at least {MIN_GOLD_ITEMS}")
    counts = list(Item.objects.filter(job_id=job_id, is_gold=False, is_complete=True)
                  .values_list("judgment_count", flat=True).iterator(chunk_size=10_000))
    votes = Votes(items=arrays.items, workers=arrays.workers, codes=arrays.codes, label_set=tuple(labels))
    # The labels delivered are the latest run's: estimate that method, with its settings.
    run = (ConsensusRun.objects.filter(job_id=job_id, status=ConsensusRun.Status.SUCCEEDED)
           .order_by("-id").values_list("method", "parameters").first())
    method, parameters = run if run is not None else (DEFAULT_METHOD, {})
    estimate = delivered_accuracy(votes, gold=gold, labels=labels, regular_counts=counts, seed=job_id,
                                  method=method, options=consensus_options(parameters))
    return DeliveryCheck(estimate, "")
