"""Liveness of consensus runs: a run beats while it executes; a run whose beats stopped is dead.

The process executing a run writes ConsensusRun.heartbeat_at from a small thread every
QUORUM_CONSENSUS_HEARTBEAT_SECONDS, in the database's clock (web servers and Celery workers on
other machines never disagree about it). A RUNNING run whose last beat is older than
QUORUM_CONSENSUS_STALE_SECONDS belongs to a process that died (SIGKILL, out of memory, a lost
machine): `consensus_runs_fail_stale` fails it, which frees its job for the next run. A run
claimed but not started yet has no beat: it may wait behind others in its queue (the asked runs
go one at a time, each up to twice QUORUM_CONSENSUS_MAX_SECONDS), or its message may have been
lost with a worker that died holding it. So the sweep sends it again every QUEUED_RESEND_AFTER
(`consensus_runs_unstarted`); whichever copy starts first runs it, the others find it started
(`consensus_run_start`). It is failed only QUEUED_STALE_AFTER after its claim: no worker takes
its queue.

`completion_retries_due` names the completed jobs whose completion run never succeeded, once their
backoff has passed: the sweep (tasks.consensus_runs_sweep) claims their next attempt.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from types import TracebackType

from django.conf import settings
from django.db import connections
from django.db.models import Count, Exists, F, Max, OuterRef, Q
from django.db.models.functions import Now
from django.utils import timezone

from marketplace.jobs.models import Job, JobStatus
from marketplace.labeling.models import Judgment
from marketplace.quality.models import ConsensusRun

logger = logging.getLogger(__name__)

#: A claimed run not started (no beat) this long after its claim, or after it was last sent, is
#: sent again: it may wait behind a long queue, or its message may be lost.
QUEUED_RESEND_AFTER = timedelta(minutes=30)
#: A claimed run never started this long after its claim is failed: no worker takes its queue.
#: Twelve resends; a queue of asked runs this long would hold nine runs killed at their limit.
QUEUED_STALE_AFTER = timedelta(hours=6)
#: Wait before the n-th retry of a failed completion run (n ≥ 2): RETRY_BASE × 2^(n-2), at most
#: RETRY_CAP. The first retry goes at the next sweep: most failures are a process that died.
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)

RUNNING = ConsensusRun.Status.RUNNING


def consensus_run_start(*, run_id: int) -> bool:
    """Mark a claimed run as executing (its first beat). False when it was closed meanwhile (a
    sweep found it dead, or another worker ran it) or has started already (a copy the sweep sent
    again, or a message the broker delivered twice): the caller must not execute it."""
    return ConsensusRun.objects.filter(
        pk=run_id, status=RUNNING, heartbeat_at__isnull=True
    ).update(heartbeat_at=Now()) == 1


def consensus_run_fail_unsent(*, run_id: int, error: str) -> bool:
    """Fail a claimed run whose message never reached the broker, so its job may be asked again at
    once (not blocked until the sweep sends it again). False when it started or closed meanwhile."""
    return ConsensusRun.objects.filter(
        pk=run_id, status=RUNNING, heartbeat_at__isnull=True
    ).update(status=ConsensusRun.Status.FAILED, finished_at=timezone.now(), error=error[:2000]) == 1


def consensus_runs_unstarted(*, now: datetime | None = None) -> list[tuple[int, str, int]]:
    """(id, trigger, sends due so far) of the running runs claimed over QUEUED_RESEND_AFTER ago
    that have not started: the n-th send is due QUEUED_RESEND_AFTER × n after the claim."""
    now = now or timezone.now()
    waiting = ConsensusRun.objects.filter(
        status=RUNNING, heartbeat_at__isnull=True, started_at__lt=now - QUEUED_RESEND_AFTER
    ).values_list("pk", "trigger", "started_at")
    return [(pk, trigger, int((now - claimed) / QUEUED_RESEND_AFTER)) for pk, trigger, claimed in waiting]


class Heartbeat:
    """`with Heartbeat(run_id=…):` beats for the run while the block executes.

    Enter and leave it outside the run's transaction: the run's final UPDATE locks its row until
    commit, and a beat waiting on that lock while the block joins the beating thread would never end.
    """

    def __init__(self, *, run_id: int, every: float | None = None) -> None:
        self.run_id = run_id
        self.every = every if every is not None else float(settings.QUORUM_CONSENSUS_HEARTBEAT_SECONDS)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"consensus-heartbeat-{run_id}", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.every):
                try:
                    beat = ConsensusRun.objects.filter(pk=self.run_id, status=RUNNING).update(
                        heartbeat_at=Now()
                    )
                except Exception:  # a missed beat; the stale limit allows two
                    logger.exception("heartbeat of consensus run %s failed", self.run_id)
                    connections.close_all()
                    continue
                if not beat:  # finished, or failed as dead by a sweep: nothing left to keep alive
                    return
        finally:
            connections.close_all()  # this thread's connection only


def consensus_runs_fail_stale(*, job_id: int | None = None) -> list[int]:
    """Fail the RUNNING runs (of one job, or all) whose process is dead; the ids failed.

    Each run is failed by a compare-and-set that re-checks its staleness: a run that beat since
    it was read stays running. A run failed here that was alive after all (its beats were stalled
    beyond the limit) finds itself closed when it finishes and drops its results.
    """
    stale_seconds = settings.QUORUM_CONSENSUS_STALE_SECONDS
    dead = Q(heartbeat_at__lt=Now() - timedelta(seconds=stale_seconds)) | Q(
        heartbeat_at__isnull=True, started_at__lt=timezone.now() - QUEUED_STALE_AFTER
    )
    running = ConsensusRun.objects.filter(dead, status=RUNNING)
    if job_id is not None:
        running = running.filter(job_id=job_id)
    failed = []
    for run_id, beat in running.values_list("pk", "heartbeat_at"):
        error = (
            f"abandoned: no heartbeat for over {stale_seconds} s; the process running it stopped"
            if beat is not None
            else f"abandoned: claimed over {QUEUED_STALE_AFTER.total_seconds() / 3600:g} hours ago and never "
            "started, though sent again every "
            f"{QUEUED_RESEND_AFTER.total_seconds() / 60:g} minutes: is a worker taking its queue?"
        )
        closed = running.filter(pk=run_id).update(
            status=ConsensusRun.Status.FAILED, finished_at=timezone.now(), error=error
        )
        if closed:
            failed.append(run_id)
            logger.warning("consensus run %s %s", run_id, error)
    return failed


def retry_wait(failures: int) -> timedelta:
    """How long after its last failure a job's completion run is tried again."""
    if failures <= 1:
        return timedelta(0)
    return min(RETRY_BASE * 2 ** min(failures - 2, 20), RETRY_CAP)


def ended_with_judgments() -> Q:
    """Jobs that need a final consensus run: every completed job, and a cancelled one that
    collected judgments (its client paid for the items completed before the cancellation)."""
    judged = Exists(Judgment.objects.filter(job_id=OuterRef("pk")))
    return Q(status=JobStatus.COMPLETED) | (Q(status=JobStatus.CANCELLED) & Q(judged))


def completion_retries_due(*, limit: int, now: datetime | None = None) -> list[int]:
    """Ended jobs (ended_with_judgments; oldest first, at most `limit`) that need a completion run now: none of
    theirs succeeded, none of their runs is running, and the backoff since the last failed one
    has passed. A read; the claim re-checks under the job's lock."""
    now = now or timezone.now()
    runs = ConsensusRun.objects.filter(job_id=OuterRef("pk"))
    completion = Q(
        consensus_runs__trigger=ConsensusRun.Trigger.COMPLETION,
        consensus_runs__status=ConsensusRun.Status.FAILED,
    )
    candidates = (
        Job.objects.filter(ended_with_judgments())
        .exclude(Exists(runs.filter(trigger=ConsensusRun.Trigger.COMPLETION,
                                    status=ConsensusRun.Status.SUCCEEDED)))
        .exclude(Exists(runs.filter(status=RUNNING)))
        .annotate(
            failures=Count("consensus_runs", filter=completion),
            last_failure=Max("consensus_runs__finished_at", filter=completion),
        )
        .order_by(F("finished_at").asc(nulls_first=True), "pk")
        .values_list("pk", "failures", "last_failure")
    )
    due = []
    for job_id, failures, last_failure in candidates.iterator(chunk_size=500):
        if not failures or last_failure is None or last_failure + retry_wait(failures) <= now:
            due.append(job_id)
            if len(due) >= limit:
                break
    return due
