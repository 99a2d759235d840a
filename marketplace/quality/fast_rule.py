"""The fast-answer rule of a submit (services.judgment_assess): a worker whose median answer time
over their latest judgments is under the tier's figure *and* far under the job's other workers'
is flagged once for review, never blocked. Caller holds the job's row lock (the submit took it)."""

from __future__ import annotations

import time
from functools import cache
from typing import Any, TypeVar

from django.db import connection
from django.utils import timezone

from marketplace.jobs.models import Job
from marketplace.labeling.models import Judgment, JudgmentStatus
from marketplace.quality import scoring
from marketplace.quality.models import QualityEvent, WorkerJobStats
from marketplace.quality.rules import QualityRules

K = TypeVar("K")
V = TypeVar("V")


def fast_check(
    *, job: Job, worker_id: int, stats_id: int, rules: QualityRules, others_judgments: int | None = None,
    recent_seconds: list[Any] | None = None,
) -> bool:
    """`recent_seconds`: the worker's latest answer times, newest first, when the caller read them
    already (stats_counting._STATS_UPSERT_RECENT); the rows are read here only to flag."""
    if peers_too_few(others_judgments):
        # Too few answers by anyone else for a pace to compare with (the peers' read below would
        # find as few): no flag is possible, so neither read is made. A lone worker's every submit
        # made both, the peers' one walking all of the job's judgments (BENCHMARKS.md, issue 12).
        return False
    if recent_seconds is None:
        recent_seconds = [seconds for _, _, seconds in _recent(job_id=job.pk, worker_id=worker_id,
                                                                limit=rules.fast_window)]
    median = scoring.median_seconds(recent_seconds)
    if median is None or len(recent_seconds) < rules.fast_window or median >= float(rules.fast_seconds):
        return False
    # Rarely reached (the worker's median is already under the tier's figure): now ask whether
    # they are fast *for this job*: an easy job that every human answers in a second flags nobody.
    peers = _peers_median_recent(job_id=job.pk, worker_id=worker_id, others_counted=others_judgments is not None)
    if peers is None:
        return False  # nobody to compare with yet: asked again at the worker's next submit
    limit = scoring.fast_limit(tier_seconds=float(rules.fast_seconds), peers_median=peers)
    if median >= limit:
        return False
    now = timezone.now()
    recent = _recent(job_id=job.pk, worker_id=worker_id, limit=rules.fast_window)  # the evidence
    # Compare-and-set: the flag is set once, and only the submit that set it logs the event.
    if not WorkerJobStats.objects.filter(pk=stats_id, flagged_fast_at__isnull=True).update(flagged_fast_at=now):
        return False
    QualityEvent.objects.create(
        job_id=job.pk, worker_id=worker_id, kind=QualityEvent.Kind.FLAGGED_FAST, automatic=True,
        reason=(
            f"Median answer time {median:.2f} s over the last {len(recent)} judgments is under the "
            f"job's limit of {limit:.2f} s ({_limit_source(rules, peers)}). Flagged for review; not blocked."
        ),
        evidence={
            "rule": "fast_seconds", "rules": rules.as_dict(), "median_seconds": round(median, 3),
            "limit_seconds": round(limit, 3),
            "peers_median_seconds": round(peers, 3),
            "times": [
                {"judgment": jid, "item": item, "seconds": None if s is None else float(s)}
                for jid, item, s in recent
            ],
        },
    )
    return True


def peers_too_few(others_judgments: int | None) -> bool:
    """Whether the job's judgments by other workers (None: not known) are too few for a pace to
    compare with, so the rule cannot flag and reads nothing."""
    return others_judgments is not None and others_judgments < scoring.FAST_PEERS_MIN


def _recent(*, job_id: int, worker_id: int, limit: int) -> list[tuple[int, int, Any]]:
    """(id, item_id, seconds_spent) of the worker's latest `limit` judgments in the job, newest
    first, an undone (withdrawn) answer left out: it was never given.

    What Judgment.objects.filter(...).exclude(...).order_by("-id").values_list(...)[:limit] reads,
    its SQL built once per process: every submit asks, and building the query took most of the
    check's CPU (BENCHMARKS.md, "Server CPU per judgment"). Walks judgment_job_worker_recent
    (job, worker, -id): `limit` rows, no sort."""
    with connection.cursor() as cursor:
        cursor.execute(_recent_sql(), [job_id, worker_id, JudgmentStatus.WITHDRAWN.value, limit])
        return cursor.fetchall()


@cache
def _recent_sql() -> str:
    quote, meta = connection.ops.quote_name, Judgment._meta
    column = {name: quote(meta.get_field(name).column) for name in ("id", "item", "seconds_spent", "job",
                                                                    "worker", "status")}
    return (
        f"SELECT {column['id']}, {column['item']}, {column['seconds_spent']} FROM {quote(meta.db_table)} "
        f"WHERE {column['job']} = %s AND {column['worker']} = %s AND NOT ({column['status']} = %s) "
        f"ORDER BY {column['id']} DESC LIMIT %s"
    )


# The job's latest answers by workers not flagged fast in it, (worker, seconds) newest first,
# remembered per job for a few seconds in this process. Every worker who answers without pausing
# (a script, or a load test) reaches the peers' question on every submit; remembered per (job,
# worker), 200 workers made 200 reads of 200 rows each every few seconds (766 reads at 11 ms in
# 30 s, BENCHMARKS.md, issue 12). The latest answers hardly depend on who asks: one read per job
# serves every worker, each leaving out their own answers in Python. A median of the latest 200
# answers moves slowly; a few seconds' staleness changes no flag that matters. Bounded: forgotten
# whole when it grows past PEERS_MEMORY_MAX.
PEERS_MEMORY_SECONDS = 5.0
PEERS_MEMORY_MAX = 10_000
# Read this many: a worker's own answers among them are left out, and the rest must still hold
# FAST_PEERS_SAMPLE; when they do not, that worker's peers are read apart (_peers_median).
PEERS_SHARED_READ = 2 * scoring.FAST_PEERS_SAMPLE
_PEERS: dict[int, tuple[float, list[tuple[int, Any]]]] = {}
_PEERS_APART: dict[tuple[int, int], tuple[float, float | None]] = {}  # (job, worker): read apart


def _peers_median_recent(*, job_id: int, worker_id: int, others_counted: bool = False) -> float | None:
    """_peers_median, from the job's latest answers read once for every worker (see above). The
    same median as _peers_median's own read: the worker's latest FAST_PEERS_SAMPLE answers by
    others are the first ones of the shared read not theirs, unless their own answers crowd the
    others out of it (read apart then). A job's answers are read again (not remembered) while
    they make no median for the asker, unless `others_counted` (fast_check saw others answer
    FAST_PEERS_MIN times: then no median means their answers are mostly by workers flagged fast,
    which a few seconds do not change)."""
    now = time.monotonic()
    remembered = _PEERS.get(job_id)
    if remembered is None or remembered[0] <= now:
        remembered = _remember(_PEERS, job_id, _latest_answers(job_id=job_id), now=now)
    latest = remembered[1]
    times = [seconds for worker, seconds in latest if worker != worker_id][: scoring.FAST_PEERS_SAMPLE]
    if len(times) < scoring.FAST_PEERS_SAMPLE and len(latest) == PEERS_SHARED_READ:
        # The read stopped before the job's answers did: others' older ones may be missing. Read
        # apart, and remembered as long (a script answering most of a job asks on every submit).
        apart = _PEERS_APART.get((job_id, worker_id))
        if apart is not None and apart[0] > now:
            return apart[1]
        median = _peers_median(job_id=job_id, worker_id=worker_id)
        if median is not None or others_counted:  # as the shared read's None (below)
            _remember(_PEERS_APART, (job_id, worker_id), median, now=now)
        return median
    peers = scoring.median_seconds(times) if len(times) >= scoring.FAST_PEERS_MIN else None
    if peers is None and not others_counted:
        _PEERS.pop(job_id, None)  # not remembered: the next peer's answer may be the one that makes enough
    return peers


def _remember(memory: dict[K, tuple[float, V]], key: K, value: V, *, now: float) -> tuple[float, V]:
    """Keep `value` under `key` for PEERS_MEMORY_SECONDS; the memory is forgotten whole when it
    holds PEERS_MEMORY_MAX entries (bounded, and cheaper than evicting one by one)."""
    if len(memory) >= PEERS_MEMORY_MAX:
        memory.clear()
    memory[key] = entry = (now + PEERS_MEMORY_SECONDS, value)
    return entry


def _peer_answers(job_id: int) -> Any:
    """The job's accepted, timed judgments by workers not flagged fast in it, newest first."""
    flagged = WorkerJobStats.objects.filter(job_id=job_id, flagged_fast_at__isnull=False).values("worker_id")
    return (
        Judgment.objects.filter(job_id=job_id, status=JudgmentStatus.ACCEPTED, seconds_spent__isnull=False)
        .exclude(worker_id__in=flagged)
        .order_by("-id")
    )


def _latest_answers(*, job_id: int) -> list[tuple[int, Any]]:
    return list(_peer_answers(job_id).values_list("worker_id", "seconds_spent")[:PEERS_SHARED_READ])


def _peers_median(*, job_id: int, worker_id: int) -> float | None:
    """Median answer time of the job's latest judgments by other workers not flagged fast in it,
    or None while there are fewer than scoring.FAST_PEERS_MIN of them."""
    times = list(
        _peer_answers(job_id).exclude(worker_id=worker_id)
        .values_list("seconds_spent", flat=True)[: scoring.FAST_PEERS_SAMPLE]
    )
    return scoring.median_seconds(times) if len(times) >= scoring.FAST_PEERS_MIN else None


def _limit_source(rules: QualityRules, peers: float) -> str:
    if scoring.FAST_SHARE_OF_PEERS * peers >= float(rules.fast_seconds):
        return f"the tier's {rules.fast_seconds} s"
    return f"{scoring.FAST_SHARE_OF_PEERS:.0%} of the other workers' median {peers:.2f} s"
