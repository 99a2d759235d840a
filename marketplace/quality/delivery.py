"""The quality promise's evidence: how accurate a finished job's delivered labels are, estimated on
gold items held back from the fit (marketplace/consensus/delivered.py says how and why)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from marketplace.consensus import Votes
from marketplace.consensus.delivered import DeliveredAccuracy, delivered_accuracy
from marketplace.consensus.multilabel import BINARY, NO, YES, binary_crowds
from marketplace.jobs.models import GoldAnswer, Item, Job
from marketplace.quality.estimate import MIN_HELDOUT_GOLD
from marketplace.quality.models import ConsensusRun
from marketplace.quality.reading import judgment_arrays
from marketplace.quality.runs import DEFAULT_METHOD, consensus_options
from marketplace.quality.runs_multi import multi_votes_read

#: Below this many judged gold items the interval is too wide to hold anyone to a promise; the job
#: page's headline switches to held-out gold at the same count (quality/estimate.py).
MIN_GOLD_ITEMS = MIN_HELDOUT_GOLD


@dataclass(frozen=True)
class DeliveryCheck:
    estimate: DeliveredAccuracy | None
    note: str  # why there is no estimate, or "" when there is one


def job_delivered_accuracy(*, job_id: int) -> DeliveryCheck:
    """Read the job's accepted judgments and gold answers and estimate its delivered accuracy.

    Deterministic per job (the draws are seeded by the job id), so a repeated check agrees with
    the first. Reads only: the caller decides what the figure triggers (billing's quality credit).
    """
    job_labels, multi_label = Job.objects.values_list("labels", "multi_label").get(pk=job_id)
    if multi_label:
        return _multi_delivered(job_id=job_id, keys=[choice["key"] for choice in job_labels])
    labels = [choice["key"] for choice in job_labels]
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


def _multi_delivered(*, job_id: int, keys: list[str]) -> DeliveryCheck:
    """A multi-label job's promise holds per label: each label's yes/no decisions are estimated
    as a single-label job's are (held-out gold, the run's method), and the job is judged by its
    worst label (the lowest upper bound), so a miss on any one label shows."""
    votes = multi_votes_read(job_id=job_id, label_set=keys)
    gold = {item: set(labels) for item, labels in GoldAnswer.objects.filter(
        item__job_id=job_id, labels__isnull=False).values_list("item_id", "labels")}
    judged_gold = int(np.isin(np.fromiter(gold, dtype=np.int64), votes.items).sum()) if gold else 0
    if judged_gold < MIN_GOLD_ITEMS:
        return DeliveryCheck(None, f"not measured: {judged_gold} gold items were judged; the estimate "
                                   f"needs at least {MIN_GOLD_ITEMS}")
    counts = list(Item.objects.filter(job_id=job_id, is_gold=False, is_complete=True)
                  .values_list("judgment_count", flat=True).iterator(chunk_size=10_000))
    run = (ConsensusRun.objects.filter(job_id=job_id, status=ConsensusRun.Status.SUCCEEDED)
           .order_by("-id").values_list("method", "parameters").first())
    method, parameters = run if run is not None else (DEFAULT_METHOD, {})
    worst: tuple[str, DeliveredAccuracy] | None = None
    for label, crowd in binary_crowds(votes).items():
        label_gold = {item: YES if label in known else NO for item, known in gold.items()}
        estimate = delivered_accuracy(crowd, gold=label_gold, labels=BINARY, regular_counts=counts,
                                      seed=job_id, method=method, options=consensus_options(parameters))
        if estimate is not None and (worst is None or estimate.high < worst[1].high):
            worst = (label, estimate)
    if worst is None:
        return DeliveryCheck(None, "not measured: no gold item was judged")
    label, estimate = worst
    said = f"per label, the worst of {len(keys)} labels ({label!r}): {estimate.method}"
    return DeliveryCheck(replace(estimate, method=said[:500]), "")


@dataclass(frozen=True)
class PromisePlan:
    """Before publishing: whether the quality promise is likely to be measured on this job.

    The promise is checked on the gold items judged by the job's end (at least MIN_GOLD_ITEMS).
    Gold is mixed into assignments at the job's gold rate, each worker meeting gold items at
    random, so with E expected gold answers spread over G gold items about G·(1 − e^(−E/G)) of
    them are judged at least once."""

    gold_items: int
    expected_gold_answers: float
    expected_gold_judged: float  # distinct gold items judged, expected
    measured: bool  # expected_gold_judged reaches MIN_GOLD_ITEMS (within half an item)
    gold_items_to_add: int | None  # more gold items that would make it measured; None: more gold cannot

    @property
    def needed(self) -> int:
        return MIN_GOLD_ITEMS

    @property
    def judged_after_adding(self) -> float:
        """Distinct gold items expected judged once gold_items_to_add are added: why adding that
        many, not just the shortfall (the same answers spread over more items reach more of them)."""
        return _judged(self.gold_items + (self.gold_items_to_add or 0), self.expected_gold_answers)


def _judged(gold_items: int, answers: float) -> float:
    return 0.0 if gold_items <= 0 else gold_items * (1.0 - float(np.exp(-answers / gold_items)))


def _enough(judged: float) -> bool:
    # Half an item of slack: ten gold items under 170 answers expect 9.99999 judged, which is ten.
    return judged + 0.5 >= MIN_GOLD_ITEMS


def promise_plan(*, regular_items: int, gold_items: int, overlap: float, gold_rate: float) -> PromisePlan:
    """What a job of this shape should expect (see PromisePlan): overlap is the judgments per
    regular item (the midpoint for dynamic overlap), gold_rate the share of assignments that are gold."""
    answers = regular_items * overlap * gold_rate / (1.0 - gold_rate) if 0 < gold_rate < 1 else 0.0
    judged = _judged(gold_items, answers)
    to_add: int | None = 0
    if not _enough(judged):
        to_add = None
        if answers > MIN_GOLD_ITEMS:  # enough gold answers: more gold items spread them wider
            for extra in range(1, 100 * MIN_GOLD_ITEMS):
                if _enough(_judged(gold_items + extra, answers)):
                    to_add = extra
                    break
    return PromisePlan(gold_items=gold_items, expected_gold_answers=answers, expected_gold_judged=judged,
                       measured=_enough(judged), gold_items_to_add=to_add)
