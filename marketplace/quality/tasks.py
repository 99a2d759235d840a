"""When consensus runs, and where: triggers, and the runner that executes claimed runs.

Triggers: on demand (API, admin), when a job completes, and while it runs (every
QUORUM_CONSENSUS_EVERY_JUDGMENTS new judgments, or QUORUM_CONSENSUS_EVERY_MINUTES after the
last run). A submit's triggers claim the run once the submit commits (`transaction.on_commit`),
so a rolled-back submit leaves no claimed run behind; an on-demand run is claimed in the caller's
transaction (the API can answer with its id) and started once that commits. Either way a task
never reads judgments that were rolled back.

Runners (QUORUM_TASKS): "inline" runs the claimed run in the committing thread; "thread" in a
small background pool of this process (the embedded default); "celery" sends it to Celery
workers through the Redis broker (production). A job never has two runs at once: the claim
allows one RUNNING run per job.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections, connections, transaction
from django.utils import timezone

from marketplace.errors import Conflict
from marketplace.jobs.models import Job, JobStatus
from marketplace.labeling.services import Submission
from marketplace.quality.models import ConsensusRun
from marketplace.quality.runs import DEFAULT_METHOD, consensus_run_claim, consensus_run_execute

logger = logging.getLogger(__name__)

CELERY_TASK = "quality.consensus_run"
# Two threads: runs of different jobs overlap a little; a big fit does not starve the server.
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="consensus")


def consensus_schedule(
    *,
    job: Job,
    trigger: str,
    method: str | None = DEFAULT_METHOD,
    options: dict[str, Any] | None = None,
) -> ConsensusRun:
    """Claim a run now and start it when the caller's transaction commits.

    Raises Conflict when the job already has a run in progress (bad method/options: ApplicationError).
    """
    run = consensus_run_claim(job=job, method=method, trigger=trigger, options=options)
    transaction.on_commit(partial(_dispatch, run.pk))
    return run


def consensus_after_submit(*, submission: Submission) -> None:
    """Called by the submit flow inside its transaction: start a run when a trigger is due."""
    if not submission.created:
        return
    job_id = submission.judgment.job_id
    if submission.job_completed:
        transaction.on_commit(partial(_try_schedule, job_id, ConsensusRun.Trigger.COMPLETION))
        return
    every = settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS
    judgments, gold_judgments, published_at = (
        Job.objects.filter(pk=job_id)
        .values_list("judgment_count", "gold_judgment_count", "published_at")
        .get()
    )
    # Counters move by one per submit (under the job row lock), so each multiple is seen once.
    # Claimed after the submit commits: a rolled-back submit (or a test that never commits)
    # leaves no claimed run behind, and the submit's transaction takes no extra lock.
    if (every and (judgments + gold_judgments) % every == 0) or _minutes_due(job_id, published_at):
        transaction.on_commit(partial(_try_schedule, job_id, ConsensusRun.Trigger.PERIODIC))


def consensus_execute_by_id(run_id: int) -> None:
    """Execute a claimed run (what every runner calls); a run already finished is left alone."""
    run = ConsensusRun.objects.filter(pk=run_id).first()
    if run is None or run.status != ConsensusRun.Status.RUNNING:
        return
    consensus_run_execute(run=run)
    _completion_follow_up(run.job_id)


@shared_task(name=CELERY_TASK, ignore_result=True)
def consensus_run_task(run_id: int) -> None:
    """The Celery entry point (marketplace/celery.py); Celery workers import this module."""
    close_old_connections()
    try:
        consensus_execute_by_id(run_id)
    finally:
        close_old_connections()


def _minutes_due(job_id: int, published_at: Any) -> bool:
    """True when the last run (or the job's publication) is older than the period.

    The database is asked at most once a minute per job: the cache key throttles the check.
    """
    minutes = settings.QUORUM_CONSENSUS_EVERY_MINUTES
    if not minutes or not cache.add(f"quorum:consensus-due:{job_id}", 1, timeout=60):
        return False
    last = (
        ConsensusRun.objects.filter(job_id=job_id)
        .order_by("-id")
        .values_list("started_at", flat=True)
        .first()
    )
    since = last or published_at
    return since is not None and timezone.now() - since >= timedelta(minutes=minutes)


def _try_schedule(job_id: int, trigger: str) -> ConsensusRun | None:
    try:
        return consensus_schedule(job=Job(pk=job_id), trigger=trigger)
    except Conflict:  # a run is in progress; the next trigger (or its follow-up) catches up
        return None


def _completion_follow_up(job_id: int) -> None:
    """A job that completed while another run was in progress still gets its completion run."""
    completed = Job.objects.filter(pk=job_id, status=JobStatus.COMPLETED).exists()
    if (
        completed
        and not ConsensusRun.objects.filter(
            job_id=job_id, trigger=ConsensusRun.Trigger.COMPLETION
        ).exists()
    ):
        with transaction.atomic():
            _try_schedule(job_id, ConsensusRun.Trigger.COMPLETION)


def _dispatch(run_id: int) -> None:
    mode = settings.QUORUM_TASKS
    if mode == "celery":
        from marketplace.celery import app  # the Celery app is only built where it is used

        app.send_task(CELERY_TASK, args=[run_id])
    elif mode == "thread":
        _pool.submit(_in_thread, run_id)
    else:
        consensus_execute_by_id(run_id)


def _in_thread(run_id: int) -> None:
    try:
        consensus_execute_by_id(run_id)
    except Exception:
        logger.exception("consensus run %s could not be executed", run_id)
    finally:
        connections.close_all()  # this thread's connections; the pool thread lives on
