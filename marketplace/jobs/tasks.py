"""The tally folding schedule (jobs/tallies.py): one of marketplace/periodic.py's jobs, every
QUORUM_TALLY_FOLD_SECONDS. Celery beat sends `jobs.tallies_fold` under QUORUM_TASKS=celery; a timer
thread in each server process calls `tallies_fold_tick` in the embedded default. Any number of
ticks may overlap: two folds of one job queue on its adjustment shard, and each folds only the
rows still there."""

from __future__ import annotations

import logging

from marketplace.jobs.tallies import job_tallies_fold, tallies_fold_due
from marketplace.tasking import db_task

logger = logging.getLogger(__name__)

FOLD_TASK = "jobs.tallies_fold"


def tallies_fold_tick() -> int:
    """One tick: fold the jobs with many worker tally rows, each in its own transaction; the
    number of rows folded."""
    folded = 0
    for job_id in tallies_fold_due():
        folded += job_tallies_fold(job_id=job_id)
    if folded:
        logger.info("folded %s worker tally rows into their jobs' adjustment shards", folded)
    return folded


# The Celery entry point that beat schedules (marketplace/periodic.py).
tallies_fold_task = db_task(FOLD_TASK)(tallies_fold_tick)
