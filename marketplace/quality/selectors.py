"""Reads of worker quality, per job and across jobs, in a fixed number of queries.

Every figure for a whole page of workers comes from a handful of grouped queries (stats, blocks,
latest run's worker results, agreement, answer times), never one query per worker. Scoping to
the requester is the caller's job: pass a job the requester owns, or the requester themself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.db.models import Count, Exists, F, FloatField, Max, OuterRef, Q, QuerySet, Sum, Value, Window
from django.db.models.functions import Cast, RowNumber

from marketplace.accounts.models import User
from marketplace.labeling.models import JobBlock, Judgment, JudgmentStatus
from marketplace.quality import gold_multi, own_figures, scoring
from marketplace.quality.models import ConsensusRun, ItemResult, QualityEvent, WorkerJobStats, WorkerResult

# Median answer time looks at this many of the worker's latest judgments (per job, or overall).
SPEED_WINDOW = 100
# Agreement is over the answers `judgments` counts, regular ones not undone: had it taken in check
# items too (a run labels them), it could outgrow the answer count and so tell them apart.
AGREEMENT_OVER = Q(is_gold=False) & ~Q(status=JudgmentStatus.WITHDRAWN)


@dataclass(frozen=True)
class WorkerQuality:
    worker_id: int
    job_id: int | None  # None: across every job of the worker
    judgments: int  # regular judgments counted when submitted
    # What the gold rule reads: answers, or on a multi-label job label decisions (gold_multi.py)
    gold: scoring.GoldEstimate
    ds_accuracy: float | None  # latest succeeded consensus run (per job only)
    confusion: list[list[float]] | None  # rows = true label, columns = answered label
    confusion_labels: list[str] | None
    agreement: float | None  # share of AGREEMENT_OVER on items the latest run labelled, equal to its label
    agreement_judgments: int  # those answers (never more than `judgments`, read at the same time)
    median_seconds: float | None
    flagged_fast_at: datetime | None
    blocked: bool
    gold_exact_sets: scoring.GoldEstimate | None = None  # a multi-label job's answers, exact-set matches
    counted_before: datetime | None = None  # as a worker reads a job hiding gold feedback (own_figures.py)

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.job_id,
            "judgments": self.judgments,
            "gold": self.gold.as_dict(),
            "ds_accuracy": None if self.ds_accuracy is None else round(self.ds_accuracy, 4),
            "confusion": self.confusion,
            "confusion_labels": self.confusion_labels,
            "agreement": None if self.agreement is None else round(self.agreement, 4),
            "agreement_judgments": self.agreement_judgments,
            "median_seconds": self.median_seconds,
            "flagged_fast_at": self.flagged_fast_at,
            "blocked": self.blocked,
            "gold_exact_sets": None if self.gold_exact_sets is None else self.gold_exact_sets.as_dict(),
            "counted_before": self.counted_before,
        }


def latest_runs(*, job_ids: Iterable[int]) -> dict[int, ConsensusRun]:
    """The latest succeeded run of each job (one query, along run_job_latest)."""
    latest = (
        ConsensusRun.objects.filter(job_id__in=list(job_ids), status=ConsensusRun.Status.SUCCEEDED)
        .values("job_id").annotate(last=Max("id")).values("last")
    )
    return {run.job_id: run for run in ConsensusRun.objects.filter(pk__in=latest).select_related("job")}


def job_worker_quality(*, job_id: int, worker_ids: Sequence[int] | None = None) -> list[WorkerQuality]:
    """Every worker with judgments in the job (or those listed), ordered by worker id."""
    stats = WorkerJobStats.objects.filter(job_id=job_id)
    if worker_ids is not None:
        stats = stats.filter(worker_id__in=list(worker_ids))
    rows = list(stats.order_by("worker_id").values("worker_id", "gold_seen", "gold_correct", "judgments", "flagged_fast_at", *_PER_LABEL))
    ids = [row["worker_id"] for row in rows]
    return _assemble(rows=rows, pairs=[(job_id, w) for w in ids], worker_ids=ids, job_ids=[job_id])


def worker_quality_by_job(*, worker_id: int, as_shown: bool = False) -> list[WorkerQuality]:
    """One worker's figures in each job they worked in, newest job first. `as_shown`: as the
    worker themself reads them, late in jobs that hide gold feedback (own_figures.py)."""
    rows = list(
        WorkerJobStats.objects.filter(worker_id=worker_id)
        .order_by("-job_id").values("job_id", "worker_id", "gold_seen", "gold_correct", "judgments", "flagged_fast_at", *_PER_LABEL)
    )
    job_ids = [row["job_id"] for row in rows]
    cutoffs = own_figures.rows_as_shown(rows=rows, worker_id=worker_id) if as_shown and rows else {}
    # Such a job's row tells one time: its agreement and answer time too take in only the answers
    # before its cutoff (its status, flagged or blocked, is now: the rules act live).
    out = _assemble(rows=rows, pairs=[(j, worker_id) for j in job_ids], worker_ids=[worker_id], job_ids=job_ids,
                    before=cutoffs)
    return [replace(q, counted_before=cutoffs[q.job_id]) if q.job_id in cutoffs else q for q in out]


def worker_quality_overall(*, worker_id: int, as_shown: bool = False) -> WorkerQuality:
    """One worker across all jobs: summed gold counts, judgment-weighted DS accuracy and agreement.
    A multi-label job's gold answers count here as answers, right when every label is. `as_shown`:
    as worker_quality_by_job's, with the cutoff of the jobs that hide gold feedback, if any."""
    per_job = worker_quality_by_job(worker_id=worker_id, as_shown=as_shown)
    seen = sum((q.gold_exact_sets or q.gold).seen for q in per_job)
    correct = sum((q.gold_exact_sets or q.gold).correct for q in per_job)
    weighted = [(q.ds_accuracy, q.agreement_judgments) for q in per_job if q.ds_accuracy is not None]
    weight = sum(n for _, n in weighted)
    agreeing = sum((q.agreement or 0.0) * q.agreement_judgments for q in per_job)
    scored = sum(q.agreement_judgments for q in per_job)
    return WorkerQuality(
        worker_id=worker_id, job_id=None, judgments=sum(q.judgments for q in per_job),
        gold=scoring.gold_estimate(correct=correct, seen=seen),
        ds_accuracy=sum(a * n for a, n in weighted) / weight if weight else None,
        confusion=None, confusion_labels=None,
        agreement=agreeing / scored if scored else None, agreement_judgments=scored,
        median_seconds=_median_overall(worker_id=worker_id, before={
            q.job_id: q.counted_before for q in per_job if q.job_id is not None and q.counted_before}),
        flagged_fast_at=max((q.flagged_fast_at for q in per_job if q.flagged_fast_at), default=None),
        blocked=any(q.blocked for q in per_job),
        counted_before=next((q.counted_before for q in per_job if q.counted_before), None),
    )


# A multi-label job's gold is scored per label too (gold_multi.py reads the counts).
_PER_LABEL = gold_multi.STATS_FIELDS
_gold_of = gold_multi.gold_figures


def _assemble(
    *, rows: list[dict[str, Any]], pairs: list[tuple[int, int]], worker_ids: list[int], job_ids: list[int],
    before: Mapping[int, datetime] | None = None,
) -> list[WorkerQuality]:
    if not rows:
        return []
    blocked = set(JobBlock.objects.filter(job_id__in=job_ids, worker_id__in=worker_ids).values_list("job_id", "worker_id"))
    runs = latest_runs(job_ids=job_ids)
    results = {
        (r.run.job_id, r.worker_id): r
        for r in WorkerResult.objects.filter(run__in=list(runs.values()), worker_id__in=worker_ids).select_related("run")
    }
    agreement = _agreement(runs=runs, worker_ids=worker_ids, before=before or {})
    medians = _medians(job_ids=job_ids, worker_ids=worker_ids, before=before or {})
    out = []
    for row in rows:
        job_id = row.get("job_id", job_ids[0])
        key = (job_id, row["worker_id"])
        result = results.get(key)
        run = runs.get(job_id)
        agree, scored = agreement.get(key, (0, 0))
        out.append(WorkerQuality(
            worker_id=row["worker_id"], job_id=job_id, judgments=row["judgments"],
            ds_accuracy=None if result is None else result.accuracy,
            confusion=None if result is None else result.confusion,
            confusion_labels=None if run is None else [c["key"] for c in run.job.labels],
            agreement=agree / scored if scored else None, agreement_judgments=scored,
            median_seconds=medians.get(key), flagged_fast_at=row["flagged_fast_at"], blocked=key in blocked,
            **_gold_of(row),
        ))
    return out


def _agreement(
    *, runs: dict[int, ConsensusRun], worker_ids: list[int], before: Mapping[int, datetime]
) -> dict[tuple[int, int], tuple[int, int]]:
    """(job, worker) -> (AGREEMENT_OVER answers equal to the run's label, those on items it scored)."""
    out: dict[tuple[int, int], tuple[int, int]] = {}
    for job_id, run in runs.items():  # one grouped query per job (one job in the usual call)
        results = ItemResult.objects.filter(run_id=run.pk, item_id=OuterRef("item_id"))
        grouped = (
            Judgment.objects.filter(AGREEMENT_OVER, job_id=job_id, worker_id__in=worker_ids)
            .exclude(own_figures.since_cutoff(before)).values("worker_id")
            .annotate(scored=Count("id", filter=Exists(results)),
                      agree=Count("id", filter=Exists(results.filter(label=OuterRef("label")))))
        )
        for row in grouped:
            out[(job_id, row["worker_id"])] = (row["agree"], row["scored"])
    return out


def _medians(*, job_ids: list[int], worker_ids: list[int], before: Mapping[int, datetime]) -> dict[tuple[int, int], float]:
    """Median seconds over each (job, worker)'s latest SPEED_WINDOW judgments, in one query."""
    recent = (
        Judgment.objects.filter(job_id__in=job_ids, worker_id__in=worker_ids)
        .exclude(status=JudgmentStatus.WITHDRAWN)  # an undone answer was never given
        .exclude(own_figures.since_cutoff(before))
        .annotate(rank=Window(RowNumber(), partition_by=[F("job_id"), F("worker_id")], order_by=F("id").desc()))
        .filter(rank__lte=SPEED_WINDOW)
        .values_list("job_id", "worker_id", "seconds_spent")
    )
    times: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for job_id, worker_id, seconds in recent:
        times[(job_id, worker_id)].append(seconds)
    return {key: m for key, values in times.items() if (m := scoring.median_seconds(values)) is not None}


def _median_overall(*, worker_id: int, before: Mapping[int, datetime]) -> float | None:
    recent = (
        Judgment.objects.filter(worker_id=worker_id).exclude(status=JudgmentStatus.WITHDRAWN)
        .exclude(own_figures.since_cutoff(before))
        .order_by("-created_at")[:SPEED_WINDOW]
    )
    return scoring.median_seconds(recent.values_list("seconds_spent", flat=True))


def workers_overview(
    *, job_id: int | None = None, flagged: bool | None = None, blocked: bool | None = None, order: str = "gold"
) -> QuerySet[Any]:
    """Admin list: one row per worker (worker_id, seen, correct, regular, jobs, flagged_jobs,
    blocked_jobs, smoothed), summed over jobs (or for one job); smoothed accuracy is computed in
    SQL so the list sorts by it. `order`: gold, -gold, judgments, -judgments, worker."""
    stats = WorkerJobStats.objects.all()
    if job_id is not None:
        stats = stats.filter(job_id=job_id)
    grouped = stats.values("worker_id").annotate(
        seen=Sum("gold_seen"), correct=Sum("gold_correct"), regular=Sum("judgments"),
        jobs=Count("job_id"), flagged_jobs=Count("id", filter=Q(flagged_fast_at__isnull=False)),
        smoothed=(Cast(Sum("gold_correct"), FloatField()) + Value(1.0))
        / (Cast(Sum("gold_seen"), FloatField()) + Value(2.0)),
        blocked_jobs=Count(
            "id", filter=Exists(JobBlock.objects.filter(job_id=OuterRef("job_id"), worker_id=OuterRef("worker_id")))
        ),
    )
    if flagged is not None:
        grouped = grouped.filter(flagged_jobs__gt=0) if flagged else grouped.filter(flagged_jobs=0)
    if blocked is not None:
        grouped = grouped.filter(blocked_jobs__gt=0) if blocked else grouped.filter(blocked_jobs=0)
    orders = {
        "gold": ("smoothed", "worker_id"), "-gold": ("-smoothed", "worker_id"),
        "judgments": ("regular", "worker_id"), "-judgments": ("-regular", "worker_id"), "worker": ("worker_id",),
    }
    return grouped.order_by(*orders.get(order, orders["gold"]))


def usernames(*, worker_ids: Iterable[int]) -> dict[int, str]:
    return dict(User.objects.filter(pk__in=list(worker_ids)).values_list("pk", "username"))


def quality_events(*, worker_id: int, job_id: int | None = None, limit: int = 100) -> list[QualityEvent]:
    events = QualityEvent.objects.filter(worker_id=worker_id)
    if job_id is not None:
        events = events.filter(job_id=job_id)
    return list(events.select_related("actor").order_by("-created_at", "-id")[:limit])


# --- Staff portal reads (the review table, a worker's page, the jobs overview) ----------------

# Review-table columns sorted in SQL (over every filtered worker, then paged) ...
STAFF_SQL_SORTS = {
    "worker": "worker__username", "gold": "seen", "accuracy": "smoothed", "judgments": "regular",
    "flags": "flagged_jobs", "status": "blocked_jobs",
}
# ... and columns only known after the grouped reads below, sorted in Python (None last).
STAFF_COMPUTED_SORTS = {"ds": "ds_accuracy", "agreement": "agreement", "speed": "median_seconds"}
STAFF_STATUSES = ("active", "blocked", "flagged")


@dataclass(frozen=True)
class StaffWorkerRow:
    worker_id: int
    username: str
    suspended: bool
    jobs: int
    judgments: int
    gold: scoring.GoldEstimate
    ds_accuracy: float | None  # judgment-weighted over the latest run of each job
    agreement: float | None
    median_seconds: float | None  # over the worker's latest SPEED_WINDOW judgments, all jobs
    flagged_jobs: int
    blocked_jobs: int

    @property
    def status(self) -> str:
        if self.suspended:
            return "suspended"
        return "blocked" if self.blocked_jobs else "active"


def staff_workers_filtered(*, status: str = "", min_gold: int = 0, search: str = "") -> QuerySet[Any]:
    """workers_overview's grouped rows, narrowed by the review page's filters (already
    validated by the caller: status in STAFF_STATUSES or "", min_gold >= 0)."""
    rows = workers_overview(
        blocked={"active": False, "blocked": True}.get(status), flagged=True if status == "flagged" else None,
    )
    if min_gold:
        rows = rows.filter(seen__gte=min_gold)
    if search:
        rows = rows.filter(worker_id__in=User.objects.filter(username__icontains=search).values("pk"))
    return rows


def staff_workers_ordered(rows: QuerySet[Any], *, sort: str, descending: bool) -> QuerySet[Any]:
    """Order by one of STAFF_SQL_SORTS (a key the caller checked), ties by worker id."""
    field = STAFF_SQL_SORTS[sort]
    return rows.order_by(f"-{field}" if descending else field, "worker_id")


def staff_worker_rows(*, rows: Sequence[dict[str, Any]]) -> list[StaffWorkerRow]:
    """Complete grouped workers_overview rows with names, DS accuracy, agreement and speed:
    five queries for any number of rows."""
    ids = [row["worker_id"] for row in rows]
    users = {u.pk: u for u in User.objects.filter(pk__in=ids).only("username", "suspended_at")}
    ds, agreement = _latest_run_figures(worker_ids=ids)
    medians = _medians_by_worker(worker_ids=ids)
    out = []
    for row in rows:
        worker_id = row["worker_id"]
        user = users.get(worker_id)
        agree = agreement.get(worker_id)
        out.append(StaffWorkerRow(
            worker_id=worker_id, username=user.username if user else "", suspended=bool(user and user.suspended_at),
            jobs=row["jobs"], judgments=row["regular"] or 0,
            gold=scoring.gold_estimate(correct=row["correct"] or 0, seen=row["seen"] or 0),
            ds_accuracy=ds.get(worker_id), agreement=agree,
            median_seconds=medians.get(worker_id), flagged_jobs=row["flagged_jobs"], blocked_jobs=row["blocked_jobs"],
        ))
    return out


def staff_rows_sorted(rows: list[StaffWorkerRow], *, sort: str, descending: bool) -> list[StaffWorkerRow]:
    """Sort by one of STAFF_COMPUTED_SORTS; workers without the figure go last either way."""
    attr = STAFF_COMPUTED_SORTS[sort]
    known = [r for r in rows if getattr(r, attr) is not None]
    unknown = [r for r in rows if getattr(r, attr) is None]
    known.sort(key=lambda r: (getattr(r, attr), -r.worker_id if descending else r.worker_id), reverse=descending)
    return known + unknown


def _latest_run_ids() -> Any:
    return (
        ConsensusRun.objects.filter(status=ConsensusRun.Status.SUCCEEDED)
        .values("job_id").annotate(last=Max("id")).values("last")
    )


def _latest_run_figures(*, worker_ids: list[int]) -> tuple[dict[int, float], dict[int, float]]:
    """Per worker, over the latest succeeded run of every job: DS accuracy weighted by the run's
    judgments, and the share of AGREEMENT_OVER equal to the run's label. Two queries."""
    latest = _latest_run_ids()
    ds: dict[int, float] = {}
    weighted = (
        WorkerResult.objects.filter(run_id__in=latest, worker_id__in=worker_ids).values("worker_id")
        .annotate(total=Sum(F("accuracy") * F("judgments"), output_field=FloatField()), n=Sum("judgments"))
    )
    for row in weighted:
        if row["n"]:
            ds[row["worker_id"]] = row["total"] / row["n"]
    # Each item belongs to one job, so "a result of a latest run for this item" is that job's.
    results = ItemResult.objects.filter(run_id__in=latest, item_id=OuterRef("item_id"))
    grouped = (
        Judgment.objects.filter(AGREEMENT_OVER, worker_id__in=worker_ids).values("worker_id")
        .annotate(scored=Count("id", filter=Exists(results)),
                  agree=Count("id", filter=Exists(results.filter(label=OuterRef("label")))))
    )
    agreement = {row["worker_id"]: row["agree"] / row["scored"] for row in grouped if row["scored"]}
    return ds, agreement


def _medians_by_worker(*, worker_ids: list[int]) -> dict[int, float]:
    """Median seconds over each worker's latest SPEED_WINDOW judgments (all jobs), one query."""
    recent = (
        Judgment.objects.filter(worker_id__in=worker_ids)
        .exclude(status=JudgmentStatus.WITHDRAWN)
        .annotate(rank=Window(RowNumber(), partition_by=[F("worker_id")], order_by=F("id").desc()))
        .filter(rank__lte=SPEED_WINDOW)
        .values_list("worker_id", "seconds_spent")
    )
    times: dict[int, list[Any]] = defaultdict(list)
    for worker_id, seconds in recent:
        times[worker_id].append(seconds)
    return {key: m for key, values in times.items() if (m := scoring.median_seconds(values)) is not None}


def staff_accuracies(rows: QuerySet[Any]) -> list[float]:
    """Smoothed gold accuracy of every filtered worker with at least one gold answer (histogram)."""
    return [value for value in rows.filter(seen__gt=0).values_list("smoothed", flat=True) if value is not None]


def worker_gold_history(*, worker_id: int, limit: int = 100) -> list[Judgment]:
    """A worker's latest gold answers with the expected label (item.gold) and the job."""
    return list(
        Judgment.objects.filter(worker_id=worker_id, is_gold=True).exclude(status=JudgmentStatus.WITHDRAWN)
        .select_related("item__gold", "job").order_by("-id")[:limit]
    )


def worker_blocked_job_ids(*, worker_id: int) -> set[int]:
    return set(JobBlock.objects.filter(worker_id=worker_id).values_list("job_id", flat=True))


def flagged_fast_workers(job_ids: list[int]) -> dict[int, set[int]]:
    """{job id: workers flagged for answering too fast in it}: the work list's time estimate
    leaves them out, so a job's pace is its humans', not its bots'."""
    flagged: dict[int, set[int]] = defaultdict(set)
    rows = WorkerJobStats.objects.filter(job_id__in=job_ids, flagged_fast_at__isnull=False)
    for job_id, worker_id in rows.values_list("job_id", "worker_id"):
        flagged[job_id].add(worker_id)
    return flagged
