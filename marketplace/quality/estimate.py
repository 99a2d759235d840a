"""The expected accuracy of a job's delivered labels: one computation for every place that shows
it (the client's job page headline, the live job.consensus event that replaces it in the
browser, the staff job list).

Why not simply the run's mean confidence: Dawid-Skene's posteriors assume workers err
independently given the true label. Real crowds share their mistakes (hard items, one misread
guideline), so the posteriors run high: on a live D_Duck job the mean confidence said 99.4 % while
89.6 % of the labels were right; on S_Rel 75 % against 61.8 %. A binomial interval around that
mean measured nothing either. Gold items labelled without being told their answer
(ItemResult.label_without_answer, multi-label: probabilities_without_answer; a 2-fold refit,
consensus/aggregate.py unaided_gold) get the label any regular item with the same judgments gets,
so their share right is a measure of the delivered labels, with a real interval.

The basis, first that applies:
- "gold" / "none": most regular items have a single judgment. Consensus cannot check those, so
  the labels are single workers' answers: the workers' accuracy on gold ("none" without gold).
- "gold_heldout": at least MIN_HELDOUT_GOLD gold items measured without their answer: their share
  right (multi-label: the share of exactly right sets, as a set's confidence is P(set right)).
- "model": fewer: the run's mean confidence over regular items, the model's own uncalibrated
  estimate, with no interval (the page says so and suggests adding gold). None before a run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Q, Sum

from marketplace.consensus.multilabel import THRESHOLD
from marketplace.jobs.models import Job
from marketplace.labeling.models import Judgment, JudgmentStatus
from marketplace.quality.gold_multi import decisions_tally
from marketplace.quality.models import ConsensusRun, ItemResult
from marketplace.quality.scoring import share_interval
from marketplace.quality.selectors import latest_runs

#: Held-out gold items needed before their share replaces the model's estimate. At 10 items a
#: 90 % interval around 80 % still spans about 53–94 %: wide, but a measurement, and the quality
#: promise's own floor (delivery.MIN_GOLD_ITEMS), so the page and the invoice switch together.
MIN_HELDOUT_GOLD = 10

BASIS_HELDOUT = "gold_heldout"
BASIS_MODEL = "model"
BASIS_GOLD = "gold"
BASIS_NONE = "none"


@dataclass(frozen=True)
class AccuracyEstimate:
    accuracy: float | None  # the headline share; None when nothing backs one
    basis: str  # BASIS_*: see the module docstring
    trials: int  # what `accuracy` is a share of: gold items, gold answers or decisions, or regular items
    interval: tuple[float, float] | None  # 90 % interval of a measured share; None for the model's own
    model_accuracy: float | None = None  # the run's mean confidence over regular items
    model_items: int = 0
    heldout_right: int = 0  # gold items right when labelled without their answer
    heldout_items: int = 0
    gold_right: int = 0  # workers' accepted, scored gold answers right (multi-label: label decisions)
    gold_seen: int = 0  # those answers
    gold_decisions: int = 0  # multi-label: label decisions in them; 0 on a single-label job
    judged_once: int = 0  # regular items with a single judgment, of judged_of (the run's parameters)
    judged_of: int = 0

    @property
    def gold_trials(self) -> int:
        """What gold_accuracy is a share of: label decisions (multi-label) or gold answers."""
        return self.gold_decisions or self.gold_seen

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_right / self.gold_trials if self.gold_trials else None

    @property
    def gold_interval(self) -> tuple[float, float] | None:
        """90 % interval of gold_accuracy; None without scored gold answers."""
        trials = self.gold_trials
        return share_interval(successes=self.gold_right, trials=trials) if trials else None

    def as_event(self) -> dict[str, Any]:
        """The live job.consensus event's share of it (realtime/payloads.py), JSON-safe."""
        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 4)
        return {"estimated_accuracy": r(self.accuracy), "estimate_basis": self.basis,
                "model_estimate": r(self.model_accuracy), "heldout_gold_items": self.heldout_items}


def estimate_choose(
    *, model: tuple[float, int] | None, heldout: tuple[int, int], gold: tuple[int, int, int],
    once: tuple[int, int],
) -> AccuracyEstimate:
    """The headline from its ingredients (the order in the module docstring). `model`: (mean
    confidence, regular items) or None before a run; `heldout`: (right, gold items); `gold`:
    (right, answers, label decisions) of the workers' gold answers; `once`: (items, of)."""
    mean, items = model if model is not None else (None, 0)
    kept = {"model_accuracy": mean, "model_items": items, "heldout_right": heldout[0],
            "heldout_items": heldout[1], "gold_right": gold[0], "gold_seen": gold[1],
            "gold_decisions": gold[2], "judged_once": once[0], "judged_of": once[1]}
    if once[0] * 2 > once[1]:  # most labels are single judgments: the model checks nothing
        trials = gold[2] or gold[1]
        if not trials:
            return AccuracyEstimate(None, BASIS_NONE, 0, None, **kept)
        return AccuracyEstimate(gold[0] / trials, BASIS_GOLD, trials,
                                share_interval(successes=gold[0], trials=trials), **kept)
    right, n = heldout
    if n >= MIN_HELDOUT_GOLD:
        return AccuracyEstimate(right / n, BASIS_HELDOUT, n, share_interval(successes=right, trials=n), **kept)
    return AccuracyEstimate(mean, BASIS_MODEL, items, None, **kept)


def job_accuracy_estimate(*, job: Job, run: ConsensusRun | None) -> AccuracyEstimate:
    """The estimate for one job and its latest succeeded run (None before the first)."""
    return _estimates([job.pk], {job.pk: run} if run is not None else {}).get(job.pk) or estimate_choose(
        model=None, heldout=(0, 0), gold=(0, 0, 0), once=(0, 0))


def jobs_accuracy_estimates(*, job_ids: Iterable[int]) -> dict[int, AccuracyEstimate]:
    """The estimate of each job (its latest succeeded run), in a fixed handful of queries."""
    ids = list(job_ids)
    return _estimates(ids, latest_runs(job_ids=ids))


def _estimates(job_ids: list[int], runs: Mapping[int, ConsensusRun]) -> dict[int, AccuracyEstimate]:
    jobs = dict(Job.objects.filter(pk__in=job_ids).values_list("pk", "multi_label"))
    keys = dict(Job.objects.filter(pk__in=[j for j, multi in jobs.items() if multi]).values_list("pk", "labels"))
    run_ids = [run.pk for run in runs.values()]
    means = {
        row["run_id"]: (row["total"] / row["n"], row["n"])
        for row in ItemResult.objects.filter(run_id__in=run_ids, item__is_gold=False)
        .values("run_id").annotate(total=Sum("confidence"), n=Count("id")) if row["n"]
    }
    heldout = _heldout(runs, multi={j for j, multi in jobs.items() if multi},
                       keys={j: [c["key"] for c in labels] for j, labels in keys.items()})
    gold = _gold_answers(list(jobs), keys={j: [c["key"] for c in labels] for j, labels in keys.items()})
    out = {}
    for job_id in jobs:
        run = runs.get(job_id)
        out[job_id] = estimate_choose(
            model=means.get(run.pk) if run is not None else None,
            heldout=heldout.get(job_id, (0, 0)),
            gold=gold.get(job_id, (0, 0, 0)),
            once=_judged_once(run.parameters if run is not None else None),
        )
    return out


def _heldout(runs: Mapping[int, ConsensusRun], *, multi: set[int], keys: dict[int, list[str]]) -> dict[int, tuple[int, int]]:
    """{job id: (gold items right, gold items)} labelled without their answer by the job's run."""
    single = [run.pk for job_id, run in runs.items() if job_id not in multi]
    out = {
        row["run__job_id"]: (row["right"], row["n"])
        for row in ItemResult.objects.filter(run_id__in=single, item__is_gold=True, item__gold__isnull=False)
        .exclude(label_without_answer="").values("run__job_id")
        .annotate(n=Count("id"), right=Count("id", filter=Q(label_without_answer=F("item__gold__label"))))
    }
    sets: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    rows = ItemResult.objects.filter(
        run_id__in=[run.pk for job_id, run in runs.items() if job_id in multi], item__is_gold=True,
        item__gold__labels__isnull=False, probabilities_without_answer__isnull=False,
    ).values_list("run__job_id", "probabilities_without_answer", "item__gold__labels")
    for job_id, probabilities, answer in rows.iterator(chunk_size=5_000):  # gold: a small share
        known = set(keys.get(job_id, ()))
        given = {k for k, p in probabilities.items() if p >= THRESHOLD} & known
        sets[job_id][0] += given == set(answer) & known
        sets[job_id][1] += 1
    out.update({job_id: (right, n) for job_id, (right, n) in sets.items()})
    return out


def _gold_answers(job_ids: list[int], *, keys: dict[int, list[str]]) -> dict[int, tuple[int, int, int]]:
    """{job id: (right, answers, label decisions)} over accepted, scored gold answers (a blocked
    worker's dropped answers count nowhere); a multi-label job's right counts label decisions."""
    scored = Judgment.objects.filter(job_id__in=job_ids, is_gold=True, status=JudgmentStatus.ACCEPTED,
                                     is_correct__isnull=False)
    out = {row["job_id"]: (row["right"], row["seen"], 0) for row in scored.values("job_id").annotate(
        seen=Count("id"), right=Count("id", filter=Q(is_correct=True)))}
    for job_id, labels in keys.items():  # per label decision (quality/gold_multi.py)
        if job_id in out:
            answers = scored.filter(job_id=job_id).values_list("labels", "item__gold__labels")
            right, decisions = decisions_tally(answers.iterator(chunk_size=5_000), labels)
            out[job_id] = (right, out[job_id][1], decisions)
    return out


def _judged_once(parameters: Any) -> tuple[int, int]:
    """(regular items with one judgment, regular items) from a run's parameters (quality/runs.py);
    (0, 0) for runs from before it was recorded."""
    entry = parameters.get("judged_once") if isinstance(parameters, dict) else None
    if not isinstance(entry, dict):
        return 0, 0
    return int(entry.get("items") or 0), int(entry.get("of") or 0)
