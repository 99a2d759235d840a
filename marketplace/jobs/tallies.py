"""Folding a job's tally rows: its counts stay the same, the rows to sum stay few.

A job's counters are the sum of its JobTally rows, one per worker who ever submitted in it plus
the adjustment shard (jobs/models.py says why). Every submit sums them (labeling/sql_submit.py),
as does every dashboard read of the job, so a job that runs for weeks through thousands of
workers had each submit read thousands of rows: 200-277 a submit at 200 workers in http-load
(BENCHMARKS.md, 2026-12-07). Folding adds the workers' rows into the adjustment shard and deletes
them, in one transaction, so every sum reads the same total before and after; a worker's next
submit starts a new row. Only the sum means anything (a worker's row may already be negative), so
nothing reads a worker's row for its own sake: the submit's `own` count (the fast-answer rule's
"judgments by others" = sum less own) then counts only the worker's judgments since the fold, and
"others" is larger than the truth, which only costs that rule a read it could have skipped.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, F, Sum
from django.db.models.functions import Coalesce

from marketplace.jobs.models import JobStatus, JobTally

# A job is folded once it has more worker rows than this: below it the sum costs little, and
# folding would only turn the active workers' next updates into inserts.
FOLD_FROM_ROWS = 100
# Jobs folded per tick at most: each is one short transaction.
FOLD_JOBS_MAX = 100


def tallies_fold_due(*, rows: int | None = None, limit: int = FOLD_JOBS_MAX) -> list[int]:
    """Ids of the open or paused jobs (the ones submits still sum) with more than `rows`
    (FOLD_FROM_ROWS) worker tally rows, most rows first."""
    least = FOLD_FROM_ROWS if rows is None else rows
    return list(
        JobTally.objects.filter(job__status__in=[JobStatus.OPEN, JobStatus.PAUSED])
        .exclude(shard=JobTally.ADJUSTMENTS).values("job_id")
        .annotate(rows=Count("pk")).filter(rows__gt=least).order_by("-rows", "job_id")
        .values_list("job_id", flat=True)[:limit]
    )


@transaction.atomic
def job_tallies_fold(*, job_id: int) -> int:
    """Fold the job's worker tally rows into its adjustment shard; the number of rows folded.

    Locks: the adjustment shard's row first (a reopen may hold it for a moment; nothing else is
    held while we wait), then the worker rows no one holds (SKIP LOCKED): a row a submit in flight
    holds is left for the next fold, so folding never waits on a submit, and a submit that comes
    after we took its worker's row waits only for this transaction, then inserts a new row (its
    upsert finds ours deleted). No two folds of a job overlap: the second waits on the shard."""
    JobTally.objects.bulk_create([JobTally(job_id=job_id, shard=JobTally.ADJUSTMENTS)], ignore_conflicts=True)
    # The shard's row lock: taken first, so we never hold worker rows while waiting (see above).
    JobTally.objects.select_for_update().filter(job_id=job_id, shard=JobTally.ADJUSTMENTS).values("pk").get()
    picked = list(
        JobTally.objects.select_for_update(skip_locked=True)
        .filter(job_id=job_id).exclude(shard=JobTally.ADJUSTMENTS).values_list("pk", flat=True)
    )
    if not picked:
        return 0
    rows = JobTally.objects.filter(pk__in=picked)
    sums = rows.aggregate(
        judgments=Coalesce(Sum("judgments"), 0), gold=Coalesce(Sum("gold_judgments"), 0),
        completed=Coalesce(Sum("completed_items"), 0),
    )
    rows.delete()
    JobTally.objects.filter(job_id=job_id, shard=JobTally.ADJUSTMENTS).update(
        judgments=F("judgments") + sums["judgments"], gold_judgments=F("gold_judgments") + sums["gold"],
        completed_items=F("completed_items") + sums["completed"],
    )
    return len(picked)
