"""Read models for the client's portal pages: a dashboard row, and the job page's figures.

They combine jobs, labeling, quality and billing, so they sit with the views (the page layer is
above every app, like marketplace/flows.py) rather than in jobs/selectors.py, which must not
import the apps downstream of it. Callers pass a job already scoped to the requester
(jobs.selectors.job_get_for_owner); nothing here looks a job up by a bare id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count
from django.db.models.functions import TruncDay, TruncHour, TruncMinute
from django.utils import timezone

from marketplace.billing.invoices import quality_note
from marketplace.billing.models import JobBudget, QualityCredit
from marketplace.billing.pricing import expected_overlap
from marketplace.billing.selectors import items_reopened_delivered, job_charge, job_escrow
from marketplace.jobs.models import Job
from marketplace.labeling.models import Judgment, JudgmentStatus
from marketplace.quality.estimate import MIN_HELDOUT_GOLD, job_accuracy_estimate
from marketplace.quality.delivery import PromisePlan, promise_plan
from marketplace.quality.models import ConsensusRun, WorkerResult
from marketplace.quality.results import run_distribution, run_latest_succeeded

ZERO = Decimal("0.00")
HOURLY_UP_TO = timedelta(days=2)  # older jobs are charted per day
MIN_BUCKETS = 6
TEN_MINUTES = "10 minutes"  # a job younger than MIN_BUCKETS hours is charted per 10 minutes


def percent_done(job: Job) -> float:
    """Completed regular items as a percentage, one decimal (the live contract's `percent`)."""
    return round(100 * job.completed_item_count / job.item_count, 1) if job.item_count else 0.0


def label_names(job: Job) -> dict[str, str]:
    return {choice["key"]: choice.get("name") or choice["key"] for choice in job.labels}


@dataclass(frozen=True)
class JobMoney:
    price_per_item: Decimal
    budget: Decimal  # escrowed at publish and later imports
    escrow: Decimal  # left in escrow now
    spent: Decimal  # paid to workers out of the escrow so far (budget − escrow)
    charged_so_far: Decimal  # what settling now would charge (billing.selectors.job_charge)
    items_charged: int  # the items in that charge (delivered: complete, or reopened after completing)
    items_reopened: int  # of those, reopened for more judgments: not complete now, still charged
    settled: bool
    refunded: Decimal | None
    promised_accuracy: Decimal  # the tier's quality promise
    quality: str  # the promise's verdict and evidence once the job ended (billing.invoices.quality_note)
    credits: Decimal  # credited for a missed promise

    @property
    def refund_now(self) -> Decimal:
        """What cancelling now would return to the balance: the budget less the charge."""
        return self.budget - self.charged_so_far if not self.settled else (self.refunded or ZERO)

    @property
    def spent_percent(self) -> float:
        return round(float(100 * self.spent / self.budget), 1) if self.budget else 0.0

    @property
    def charged_percent(self) -> float:
        return round(float(100 * self.charged_so_far / self.budget), 1) if self.budget else 0.0


def job_promise_plan(*, job: Job, overlap: int, max_overlap: int | None, gold_rate: Decimal) -> PromisePlan:
    """Whether the quality promise will be measured on this job at these terms (a tier's, while
    choosing one; the job's own once published): the one answer the publish step and the job
    page both give."""
    per_item = expected_overlap(overlap=overlap, max_overlap=max_overlap)
    return promise_plan(regular_items=job.item_count, gold_items=job.gold_item_count,
                        overlap=float(per_item), gold_rate=float(gold_rate))


def job_money(*, job: Job) -> JobMoney | None:
    """The job's escrow against its budget; None for a job never published (no budget)."""
    budget = JobBudget.objects.select_related("tier").filter(job_id=job.pk).first()
    if budget is None:
        return None
    escrow = job_escrow(job_id=job.pk)
    if budget.settled_at is not None:
        charged = budget.charged if budget.charged is not None else ZERO
        items = budget.completed_items or 0
        # As the invoice counts them: an ended job's reopened items stay as they were.
        reopened = min(items_reopened_delivered(job_id=job.pk), items) if budget.added > 0 else 0
    else:  # what settling (cancelling) now charges: the settlement's own computation
        charge = job_charge(job=job, budget=budget)
        charged, items, reopened = charge.total, charge.items, charge.reopened
    return JobMoney(
        price_per_item=budget.price_per_item,
        budget=budget.budget,
        escrow=escrow,
        spent=budget.spent if budget.settled_at is not None and budget.spent is not None
        else max(budget.budget - escrow, ZERO),
        charged_so_far=charged,
        items_charged=items,
        items_reopened=reopened,
        settled=budget.settled_at is not None,
        refunded=budget.refunded,
        promised_accuracy=job.promised_accuracy if job.promised_accuracy is not None
        else budget.tier.promised_accuracy,
        quality=quality_note(budget, QualityCredit.objects.filter(job_id=job.pk).first()),
        credits=budget.credits or ZERO,
    )


@dataclass(frozen=True)
class Throughput:
    """Judgments per bucket over the job's life: hours while it is young, days once older."""

    per_bucket: list[int]  # judgments per bucket, oldest first, the current bucket last
    starts: list[datetime]  # each bucket's start (local time), same order
    bucket: str  # "hour" or "day"
    last_hour: int  # judgments in the current clock hour
    average: float  # judgments per hour since publication (over at least one hour)

    @property
    def points(self) -> list[float]:
        return [float(n) for n in self.per_bucket]

    @property
    def tick_labels(self) -> list[str]:
        fmt = "%b %d" if self.bucket == "day" else "%H:%M"
        return [start.strftime(fmt) for start in self.starts]


def job_throughput(*, job: Job, now: datetime | None = None) -> Throughput:
    """Judgments per 10 minutes (a job younger than MIN_BUCKETS hours), per hour (up to
    HOURLY_UP_TO old) or per day, from the bucket of publication to now: never hours before the
    job existed, which padding a young job's chart to MIN_BUCKETS hours used to draw."""
    now = timezone.localtime(now)
    hour = now.replace(minute=0, second=0, microsecond=0)
    born = timezone.localtime(job.published_at or job.created_at)
    if now - born < timedelta(hours=MIN_BUCKETS):
        step, trunc = timedelta(minutes=10), TruncMinute  # per minute from SQL, summed per 10 below
        first = born.replace(minute=born.minute - born.minute % 10, second=0, microsecond=0)
        last = now.replace(minute=now.minute - now.minute % 10, second=0, microsecond=0)
        bucket = TEN_MINUTES
    elif now - born <= HOURLY_UP_TO:
        bucket, step, trunc, last = "hour", timedelta(hours=1), TruncHour, hour
        first = born.replace(minute=0, second=0, microsecond=0)
    else:
        bucket, step, trunc, last = "day", timedelta(days=1), TruncDay, hour.replace(hour=0)
        first = born.replace(hour=0, minute=0, second=0, microsecond=0)
    count = round((last - first) / step) + 1
    rows = (
        Judgment.objects.filter(job=job, created_at__gte=first).exclude(status=JudgmentStatus.WITHDRAWN)
        .annotate(at=trunc("created_at")).values("at").annotate(n=Count("id"))
    )
    series = [0] * count
    for row in rows:
        if row["at"] is not None:
            offset = (timezone.localtime(row["at"]) - first) / step  # minutes: floor; hours, days: exact
            place = int(offset) if bucket == TEN_MINUTES else round(offset)
            series[min(max(place, 0), count - 1)] += row["n"]
    starts = [first + step * k for k in range(count)]
    this_hour = series[-1] if bucket == "hour" else Judgment.objects.filter(job=job, created_at__gte=hour).exclude(status=JudgmentStatus.WITHDRAWN).count()
    hours_alive = max((now - born).total_seconds() / 3600, 1.0)  # a young job: per its first hour
    return Throughput(per_bucket=series, starts=starts, bucket=bucket, last_hour=this_hour,
                      average=round(sum(series) / hours_alive, 1))


@dataclass(frozen=True)
class Consensus:
    run: ConsensusRun | None
    estimated_accuracy: float | None  # the headline: see estimate_basis
    distribution: list[tuple[str, float]]  # (label name, items), in the job's label order
    distribution_source: str  # "consensus" or "votes" (raw judgments before any run)
    confusion: list[list[float]] | None  # pooled worker confusion, rows = true label
    gold_accuracy: float | None  # share right over the job's accepted, scored gold answers
    gold_seen: int  # those answers: the one gold count the page shows
    # A multi-label job: gold_accuracy over label decisions (each label of an answer right or
    # wrong, as the quality rules read it), gold_decisions of them; 0 on a single-label job.
    gold_decisions: int = 0
    items_estimated: int = 0  # what the headline is a share of (gold items, answers or regular items)
    # 90 % intervals (scoring.share_interval): a share from few items or answers is never a bare
    # 100 %. None for the model's own estimate: a binomial interval would pretend it was measured.
    accuracy_interval: tuple[float, float] | None = None
    gold_interval: tuple[float, float] | None = None
    crowd_accuracy: float | None = None  # the run's typical worker (judgment-weighted)
    models: tuple[ModelFigure, ...] = ()  # model versions the run measured, as workers
    # Where estimated_accuracy comes from (quality/estimate.py): "gold_heldout" (gold items
    # labelled without their answer, enough of them), "model" (the run's mean confidence, its own
    # uncalibrated estimate: too little held-out gold), or, when most regular items have a single
    # judgment, "gold" (the workers' accuracy on gold) or "none" (no gold either).
    # judged_once/of: those items, of the regular ones.
    estimate_basis: str = "model"
    judged_once: int = 0
    judged_of: int = 0
    # The run's mean confidence over regular items (the model's own estimate, shown beside a
    # measured headline), and the gold items measured without their answer (quality/estimate.py).
    model_accuracy: float | None = None
    model_items: int = 0
    heldout_items: int = 0
    heldout_needed: int = MIN_HELDOUT_GOLD


@dataclass(frozen=True)
class ModelFigure:
    """A model version beside the crowd: its accuracy as the latest run measured it."""

    name: str
    version: str
    accuracy: float
    items: int  # items it was measured on


def _run_models(parameters: Any) -> tuple[float | None, tuple[ModelFigure, ...]]:
    """The crowd's accuracy and the models' figures from a run's parameters (quality/runs.py)."""
    if not isinstance(parameters, dict):
        return None, ()
    crowd = parameters.get("crowd")
    accuracy = crowd.get("accuracy") if isinstance(crowd, dict) else None
    models = tuple(
        ModelFigure(str(m.get("name")), str(m.get("version")), float(m["accuracy"]),
                    int(m.get("items") or 0))
        for m in parameters.get("models") or []
        if isinstance(m, dict) and isinstance(m.get("accuracy"), int | float)
    )
    return (float(accuracy) if isinstance(accuracy, int | float) else None), models


def job_consensus(*, job: Job) -> Consensus:
    names = label_names(job)
    keys = list(names)
    run = run_latest_succeeded(job_id=job.pk)
    if run is not None:
        shares = run_distribution(run=run, regular_only=True)  # as the votes below: no gold
        counts = {key: shares.get(key, 0) for key in keys}
        source = "consensus"
    else:
        votes = (
            Judgment.objects.filter(job=job, is_gold=False, status=JudgmentStatus.ACCEPTED)
            .values("label").annotate(n=Count("id"))
        )
        counts = {key: 0 for key in keys}
        counts.update({row["label"]: row["n"] for row in votes if row["label"] in counts})
        source = "votes"
    # The headline and its basis (quality/estimate.py): held-out gold once there is enough of it.
    estimate = job_accuracy_estimate(job=job, run=run)
    crowd_accuracy, models = _run_models(run.parameters if run is not None else None)
    return Consensus(
        run=run,
        estimated_accuracy=estimate.accuracy,
        distribution=[(names[key], float(counts[key])) for key in keys],
        distribution_source=source,
        confusion=_pooled_confusion(run=run, size=len(keys)) if run is not None else None,
        gold_accuracy=estimate.gold_accuracy,
        gold_seen=estimate.gold_seen,
        gold_decisions=estimate.gold_decisions,
        items_estimated=estimate.trials,
        accuracy_interval=estimate.interval,
        gold_interval=estimate.gold_interval,
        crowd_accuracy=crowd_accuracy,
        models=models,
        estimate_basis=estimate.basis,
        judged_once=estimate.judged_once,
        judged_of=estimate.judged_of,
        model_accuracy=estimate.model_accuracy,
        model_items=estimate.model_items,
        heldout_items=estimate.heldout_items,
    )


def _pooled_confusion(*, run: ConsensusRun, size: int) -> list[list[float]] | None:
    """The run's workers' confusion matrices averaged, each weighted by its judgments, rows
    renormalized: how the crowd as a whole answers each true label. None without workers."""
    pooled = [[0.0] * size for _ in range(size)]
    weight = 0
    for confusion, judgments in WorkerResult.objects.filter(run=run).values_list("confusion", "judgments"):
        if len(confusion) != size or any(len(row) != size for row in confusion):
            continue  # the label set changed since (drafts only): skip what no longer lines up
        w = max(judgments, 1)
        weight += w
        for i, row in enumerate(confusion):
            for j, value in enumerate(row):
                pooled[i][j] += w * float(value)
    if not weight:
        return None
    out = []
    for row in pooled:
        total = sum(row)
        out.append([value / total if total else 0.0 for value in row])
    return out
