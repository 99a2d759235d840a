"""When consensus runs, and where: triggers, and the runner that executes claimed runs.

Triggers: on demand (API, admin), when a job completes, and while it runs: after its first
QUORUM_CONSENSUS_EVERY_JUDGMENTS judgments (100), then each time its judgments double (200, 400,
800, ...: `consensus.dynamic.refit_due`, the schedule the dynamic-overlap replay simulates), so a
young job's workers are known early and the refits' total cost stays under twice the last one's;
and QUORUM_CONSENSUS_EVERY_MINUTES after the last run, which keeps a big job's model fresh. A submit's triggers claim the run once the submit commits (`transaction.on_commit`),
so a rolled-back submit leaves no claimed run behind; an on-demand run is claimed in the caller's
transaction (the API can answer with its id) and started once that commits. Either way a task
never reads judgments that were rolled back.

Runners (QUORUM_TASKS): "inline" runs the claimed run in the committing thread; "thread" in a
small background pool of this process (the embedded default); "celery" sends it to Celery
workers through the Redis broker (production). Either way the runs people ask for queue apart
from the jobs' own (a thread of their own; the "consensus-asked" queue and its own worker). A job
never has two runs at once: the claim allows one RUNNING run per job.

The sweep (`consensus_runs_sweep`, a periodic job: marketplace/periodic.py, and the
`consensus_sweep` command) fails runs whose process died, sends again the runs claimed long ago
that have not started (quality/heartbeat.py says why and when), and claims the completion run of
each completed job that has none that succeeded, again after each failure (with backoff), until
one succeeds.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from kombu.exceptions import OperationalError as KombuOperationalError
from django.db import connections, transaction
from django.utils import timezone

from marketplace.cachesafe import cache_add
from marketplace.commit import on_commit_robust
from marketplace.errors import Conflict, Unavailable
from marketplace.jobs.models import Job
from marketplace.labeling.services import Submission
from marketplace.quality.heartbeat import (
    QUEUED_RESEND_AFTER,
    completion_retries_due,
    consensus_run_fail_unsent,
    consensus_runs_fail_stale,
    consensus_runs_unstarted,
    ended_with_judgments,
)
from marketplace.quality.models import ConsensusRun
from marketplace.quality.progress import progress_snapshots_take
from marketplace.quality.runs import DEFAULT_METHOD, consensus_run_claim, consensus_run_execute
from marketplace.tasking import db_task

logger = logging.getLogger(__name__)

CELERY_TASK = "quality.consensus_run"
SWEEP_TASK = "quality.consensus_sweep"
SNAPSHOT_TASK = "quality.progress_snapshots"
#: Completion runs one sweep claims at most: a backlog (say, after an outage) drains a few at a time.
SWEEP_BATCH = 20
# What Celery's send_task raises when the broker cannot be reached (after its own short retries).
BROKER_UNREACHABLE: tuple[type[BaseException], ...] = (KombuOperationalError,)
UNSENT_RETRY_AFTER = 30  # seconds a client is told to wait before asking again
# Two threads: runs of different jobs overlap a little; a big fit does not starve the server.
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="consensus")
# Runs a person asks for (any method, up to QUORUM_CONSENSUS_MAX_SECONDS each) queue on a thread
# of their own, so a client comparing crowd-kit's methods never holds back the automatic runs
# that every job's labels and completion wait for.
_asked_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="consensus-asked")

# This process's memory of the triggers' cache keys, so a submit asks the cache only when the
# answer may have changed: asking at every submit (two round trips, each through a new Redis
# client) was about a tenth of a submit's CPU (BENCHMARKS.md, "Server CPU per judgment"). A
# refit size's key, once claimed here or seen claimed, stays a day: it is asked once per process.
# The once-a-minute check's key is asked again when ours expires, or soon when another process
# holds it (it expires within the minute). Forgotten whole past TRIGGER_MEMORY_MAX entries.
DUE_RECHECK_SECONDS = 5.0
TRIGGER_MEMORY_MAX = 10_000
_REFITS_CLAIMED: set[tuple[int, int]] = set()
_DUE_ASK_AFTER: dict[int, float] = {}


def trigger_memory_forget() -> None:
    """Forget the memory above (tests whose database reuses job ids clear it with the cache)."""
    _REFITS_CLAIMED.clear()
    _DUE_ASK_AFTER.clear()


def consensus_schedule(
    *,
    job: Job,
    trigger: str,
    method: str | None = DEFAULT_METHOD,
    options: dict[str, Any] | None = None,
) -> ConsensusRun:
    """Claim a run now and start it when the caller's transaction commits.

    Raises Conflict when the job already has a run in progress (bad method/options: ApplicationError).
    When the broker cannot take the run, it is failed, not left claimed, so asking again works as
    soon as the broker is back; a run somebody asked for (MANUAL) then raises Unavailable once the
    transaction commits, an automatic one only logs (its caller's work, a cancel say, is done).
    """
    run = consensus_run_claim(job=job, method=method, trigger=trigger, options=options)
    transaction.on_commit(partial(_dispatch_claimed, run.pk, asked=trigger == ConsensusRun.Trigger.MANUAL))
    return run


def _dispatch_claimed(run_id: int, *, asked: bool) -> None:
    try:
        _dispatch(run_id, asked=asked)
    except BROKER_UNREACHABLE as exc:
        # Left claimed, the run would block its job's consensus until the sweep sent it again
        # (QUEUED_RESEND_AFTER): a run somebody asked for during a Redis outage held the job 30 min.
        reason = f"{type(exc).__name__}: {exc}"
        consensus_run_fail_unsent(run_id=run_id, error=f"not started: the task broker could not be reached ({reason})")
        logger.warning("consensus run %s failed: the task broker could not be reached (%s)", run_id, reason)
        if not asked:
            # A trigger (submit, completion, cancel, periodic): whatever committed with it stands
            # and is answered as done; the sweep claims a completion run again (consensus_runs_sweep).
            return
        raise Unavailable(
            f"Consensus run {run_id} could not be started: the task queue (Redis) is unreachable. "
            "Nothing was lost; ask again in a minute.",
            retry_after=UNSENT_RETRY_AFTER, details={"run": run_id},
        ) from exc


def consensus_after_submit(*, submission: Submission) -> None:
    """Called by the submit flow inside its transaction: start a run when a trigger is due.
    The job's judgments come with the submission (its tally statement read them)."""
    if not submission.created:
        return
    job_id = submission.judgment.job_id
    if submission.job_completed:
        on_commit_robust(_try_schedule, job_id, ConsensusRun.Trigger.COMPLETION)
        return
    seen = submission.job_judgments
    if seen is None:  # a submission built without counts: read them (one query)
        seen = sum(
            Job.objects.filter(pk=job_id).values_list("judgment_count", "gold_judgment_count").get()
        )
    # The counts are sums of per-worker tallies (jobs.models.JobTally): a submit sees the
    # committed ones plus its own, so submits in flight together all see the same sum and the
    # exact refit size may be seen by none. So the first submit to see the job at or past a
    # size claims that size's refit (once per job and size: the cache key), after commit. A
    # rolled-back submit claims no run, though it spends the size's key: the next size (or the
    # minutes trigger) refits instead.
    size = _last_refit(seen, first=settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS)
    if size is not None and _refit_claim(job_id, size):
        on_commit_robust(_try_schedule, job_id, ConsensusRun.Trigger.PERIODIC)
        return
    if _minutes_due(job_id):
        on_commit_robust(_try_schedule, job_id, ConsensusRun.Trigger.PERIODIC)


def _refit_claim(job_id: int, size: int) -> bool:
    """True for the one submit (of every process) that claims this size's refit of the job."""
    if (job_id, size) in _REFITS_CLAIMED:
        return False
    claimed = cache_add(f"quorum:consensus-refit:{job_id}:{size}", 1, timeout=24 * 3600)
    if claimed is None:  # the cache is unreachable: not claimed, so the first submit after it is back claims it
        return False
    if len(_REFITS_CLAIMED) >= TRIGGER_MEMORY_MAX:
        _REFITS_CLAIMED.clear()
    _REFITS_CLAIMED.add((job_id, size))
    return claimed


def _last_refit(judgments: int, *, first: int) -> int | None:
    """The largest refit size (first × 2^k, consensus.dynamic.refit_due) at or below `judgments`."""
    if first <= 0 or judgments < first:
        return None
    size = first
    while size * 2 <= judgments:
        size *= 2
    return size


def consensus_on_completion(*, job_id: int) -> None:
    """A job completed outside a submit's transaction (after commit, billing.settlement), or was
    cancelled after collecting judgments: claim its completion run now. If one is running, its
    follow-up (or the sweep) claims it later."""
    with transaction.atomic():
        if Job.objects.filter(ended_with_judgments(), pk=job_id).exists():
            _try_schedule(job_id, ConsensusRun.Trigger.COMPLETION)


def consensus_execute_by_id(run_id: int) -> None:
    """Execute a claimed run (what every runner calls); a run already finished is left alone."""
    run = ConsensusRun.objects.filter(pk=run_id).first()
    if run is None or run.status != ConsensusRun.Status.RUNNING:
        return
    consensus_run_execute(run=run)
    _completion_follow_up(run.job_id)


# The Celery entry point (marketplace/celery.py); Celery workers import this module.
consensus_run_task = db_task(CELERY_TASK)(consensus_execute_by_id)


@dataclass(frozen=True)
class Swept:
    abandoned: list[int]  # runs failed because their process died
    retried: list[int]  # completion runs claimed for completed jobs that had none succeed
    resent: list[int] = field(default_factory=list)  # runs claimed long ago, not started, sent again


def consensus_runs_sweep(*, limit: int = SWEEP_BATCH) -> Swept:
    """Fail dead runs, then claim the completion run of completed jobs lacking a succeeded one.

    Safe anywhere and any number of times at once (each server's timer, beat, the command):
    failing is a compare-and-set per run, and a completion run is claimed under the job's row
    lock after re-checking that none succeeded and none is running.
    """
    abandoned = consensus_runs_fail_stale()
    resent = []
    for run_id, trigger, sends in consensus_runs_unstarted():
        # Once per due send across every process that sweeps; a copy that finds the run started
        # does nothing (heartbeat.consensus_run_start).
        if cache_add(f"quorum:consensus-resend:{run_id}:{sends}", 1,
                     timeout=int(2 * QUEUED_RESEND_AFTER.total_seconds())):
            try:
                _dispatch(run_id, asked=trigger == ConsensusRun.Trigger.MANUAL)
            except BROKER_UNREACHABLE as exc:  # still queued: the next due send tries again
                logger.warning("consensus run %s not sent again: %s: %s", run_id, type(exc).__name__, exc)
            else:
                resent.append(run_id)
    retried = []
    for job_id in completion_retries_due(limit=limit):
        with transaction.atomic():
            run = _completion_retry(job_id)
        if run is not None:
            retried.append(run.pk)
    return Swept(abandoned=abandoned, retried=retried, resent=resent)


def consensus_sweep_tick() -> None:
    """One tick of the sweep (the Celery task's body, and what the embedded timer calls)."""
    swept = consensus_runs_sweep()
    if swept.abandoned or swept.retried or swept.resent:
        logger.info("consensus sweep: failed dead runs %s, sent again unstarted runs %s, claimed "
                    "completion runs %s", swept.abandoned, swept.resent, swept.retried)


# The Celery entry point that beat schedules (marketplace/periodic.py).
consensus_sweep_task = db_task(SWEEP_TASK)(consensus_sweep_tick)


def _completion_retry(job_id: int) -> ConsensusRun | None:
    """Claim the job's completion run unless one succeeded meanwhile. Caller holds a transaction."""
    # Lock the job row (the claim takes the same lock): no run of the job can be claimed while
    # we look. Running first, then succeeded: a run may finish between two reads, but once none
    # is running none can start, so "none succeeded" then holds until we claim.
    Job.objects.select_for_update(no_key=True).filter(pk=job_id).values_list("pk", flat=True).get()
    runs = ConsensusRun.objects.filter(job_id=job_id)
    if runs.filter(status=ConsensusRun.Status.RUNNING).exists():
        return None
    completion = runs.filter(trigger=ConsensusRun.Trigger.COMPLETION)
    if completion.filter(status=ConsensusRun.Status.SUCCEEDED).exists():
        return None
    return _try_schedule(job_id, ConsensusRun.Trigger.COMPLETION)


def _minutes_due(job_id: int) -> bool:
    """True when the last run (or the job's publication) is older than the period.

    The database is asked at most once a minute per job: the cache key throttles the check
    (and this process's memory of it, above, the cache).
    """
    minutes = settings.QUORUM_CONSENSUS_EVERY_MINUTES
    if not minutes:
        return False
    now = time.monotonic()
    if _DUE_ASK_AFTER.get(job_id, 0.0) > now:
        return False
    mine = cache_add(f"quorum:consensus-due:{job_id}", 1, timeout=60)
    if mine is None:  # the cache is unreachable: not due (cachesafe.py)
        return False
    if len(_DUE_ASK_AFTER) >= TRIGGER_MEMORY_MAX:
        _DUE_ASK_AFTER.clear()
    _DUE_ASK_AFTER[job_id] = now + (60.0 if mine else DUE_RECHECK_SECONDS)
    if not mine:
        return False
    last = (
        ConsensusRun.objects.filter(job_id=job_id)
        .order_by("-id")
        .values_list("started_at", flat=True)
        .first()
    )
    since = last or Job._base_manager.filter(pk=job_id).values_list("published_at", flat=True).first()
    return since is not None and timezone.now() - since >= timedelta(minutes=minutes)


def _try_schedule(job_id: int, trigger: str) -> ConsensusRun | None:
    try:
        return consensus_schedule(job=Job(pk=job_id), trigger=trigger)
    except (Conflict, Unavailable):  # a run in progress, or the broker down: the next trigger catches up
        return None


def _completion_follow_up(job_id: int) -> None:
    """A job that ended while another run was in progress still gets its completion run."""
    completed = Job.objects.filter(ended_with_judgments(), pk=job_id).exists()
    if (
        completed
        and not ConsensusRun.objects.filter(
            job_id=job_id, trigger=ConsensusRun.Trigger.COMPLETION
        ).exists()
    ):
        with transaction.atomic():
            _try_schedule(job_id, ConsensusRun.Trigger.COMPLETION)


def _dispatch(run_id: int, *, asked: bool = False) -> None:
    mode = settings.QUORUM_TASKS
    if mode == "celery":
        from marketplace.celery import app  # the Celery app is only built where it is used

        if asked:
            app.send_task(CELERY_TASK, args=[run_id], queue=settings.QUORUM_CONSENSUS_ASKED_QUEUE,
                          time_limit=asked_time_limit())
        else:
            app.send_task(CELERY_TASK, args=[run_id], queue=settings.QUORUM_CONSENSUS_QUEUE)
    elif mode == "thread":
        (_asked_pool if asked else _pool).submit(_in_thread, run_id)
    else:
        consensus_execute_by_id(run_id)


def asked_time_limit() -> int:
    """Seconds after which the Celery worker kills a run someone asked for (its process, with
    whatever it held): twice QUORUM_CONSENSUS_MAX_SECONDS, which the run's cost at its worst was
    checked against when it was asked for. An estimate far off must not hold the one worker of
    every organization's asked runs for ever; the killed run's heartbeat stops, and the sweep fails
    it (quality/heartbeat.py; one killed before its first beat is sent again instead)."""
    return 2 * settings.QUORUM_CONSENSUS_MAX_SECONDS


def _in_thread(run_id: int) -> None:
    try:
        consensus_execute_by_id(run_id)
    except Exception:
        logger.exception("consensus run %s could not be executed", run_id)
    finally:
        connections.close_all()  # this thread's connections; the pool thread lives on


def progress_snapshots_tick() -> int:
    """One tick of the work list's progress snapshots (quality/progress.py): the jobs recorded."""
    return progress_snapshots_take()


# The Celery entry point that beat schedules (marketplace/periodic.py).
progress_snapshots_task = db_task(SNAPSHOT_TASK)(progress_snapshots_tick)
