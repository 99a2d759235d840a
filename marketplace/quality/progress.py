"""The work list's "items left" of a job that hides gold feedback: as it stood at the hourly cutoff.

Live, the count drops when a regular answer completes an item and never for a check item (check
items are not among the job's items to do), so in a quiet job a worker who submits and reloads
the list learns which one they answered (own_figures.py says why such a job's figures wait for
the cutoff). So a worker is shown the job's item count less its completed items at the cutoff.

Counting those from the judgments (the items answered since the cutoff) walked every judgment of
the hour, up to millions in a busy job, on each load of the worker's home page. Instead a
periodic job (`progress_snapshots_take`, every QUORUM_PROGRESS_SNAPSHOT_SECONDS: periodic.py)
records each open job's completed item count once per step of the cutoff, and the work list
reads one row a job (`items_done_as_shown`), in one query whatever the jobs' size.

A step's row is written by the first tick within the step (a tick only ever writes its own
step's, never an earlier one it missed), with the count of that moment, and is read only from
the end of the step on, once the cutoff has reached it. So a shown count changes only at a step,
by everything completed between two ticks about a step apart, whoever answered, and never by a
row written after a worker could have read the one before it.

Only workers read this; clients and staff read live counts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from marketplace.jobs.models import Job, JobStatus
from marketplace.quality.models import ProgressSnapshot
from marketplace.quality.own_figures import counted_before, jobs_hiding_gold, lag_seconds, step_at
from marketplace.quality.rules import rules_for

# Jobs whose progress is recorded: those a worker can see (open), and paused ones, which keep
# their past steps for when they open again.
RECORDED = (JobStatus.OPEN, JobStatus.PAUSED)


def progress_snapshots_take(*, now: datetime | None = None) -> int:
    """Record, for the current step, the completed item count of each open or paused job that
    hides gold feedback and has none for it yet, then drop the rows no read needs any more.
    Returns how many jobs it found unrecorded.

    Idempotent and safe in several processes at once: a step's row is inserted once (a second
    insert meets the unique (job, taken_at) constraint and is ignored), so the first tick's count
    stands; deleting a row twice deletes nothing more. A tick after the first in a step sums no
    job's counts: it finds every job recorded."""
    now = now or timezone.now()
    step = step_at(now)
    candidates = Job._base_manager.filter(status__in=RECORDED).exclude(  # no counts: most jobs are left out below
        Exists(ProgressSnapshot.objects.filter(job=OuterRef("pk"), taken_at=step))
    )
    hiding = [job.pk for job in jobs_hiding_gold(jobs=candidates)]
    counts = Job.objects.filter(pk__in=hiding).values_list("pk", "completed_item_count")  # the tally sums
    ProgressSnapshot.objects.bulk_create(
        [ProgressSnapshot(job_id=job_id, taken_at=step, completed_item_count=done) for job_id, done in counts],
        ignore_conflicts=True,
    )
    _prune(now=now)
    return len(hiding)


def _prune(*, now: datetime) -> None:
    """Keep per job the rows a read may still take: the latest at or before the step before the
    cutoff (one step back, so a process whose clock is a little behind still finds its row) and
    every later one; an older row is superseded for good, since the cutoff only moves forward.
    Every row of a job no longer open or paused goes too."""
    oldest_read = counted_before(now) - timedelta(seconds=lag_seconds())
    superseded = ProgressSnapshot.objects.filter(
        job_id=OuterRef("job_id"), taken_at__gt=OuterRef("taken_at"), taken_at__lte=oldest_read
    )
    ProgressSnapshot.objects.filter(Exists(superseded)).delete()
    ProgressSnapshot.objects.exclude(job__status__in=RECORDED).delete()


def items_done_as_shown(jobs: list[Job]) -> dict[int, int]:
    """{job id: its completed items as a worker is shown them} for the jobs among these that hide
    gold feedback: the count at the cutoff, from the latest row at or before it. One query (the
    rules are read from the jobs as given), and a few rows a job, however many judgments it has.

    A job with no such row shows nothing done: it opened after the cutoff (then that is exact),
    or the periodic job has not run. Showing more items left than there are is the safe side: it
    can only hide completions, never reveal one, and the list says live whether a job has work
    for the worker at all. A row from before the cutoff (the periodic job missed steps) is safe
    the same way: it was written before the cutoff, so it holds no answer given since."""
    hiding = [job.pk for job in jobs if not rules_for(job=job).gold_feedback]
    if not hiding:
        return {}
    shown = dict.fromkeys(hiding, 0)
    rows = (
        ProgressSnapshot.objects.filter(job_id__in=hiding, taken_at__lte=counted_before())
        .order_by("job_id", "taken_at")  # the latest of each job last, so it is the one kept
        .values_list("job_id", "completed_item_count")
    )
    shown.update(rows)
    return shown
