"""Which dropped judgments' pay is a block's: each block of a worker in a job withdraws, holds
for review and gives back on appeal its own (quality.appeals.block_window), never another
block's. Reads only; the writers (reversals, restoring, holding, posting) lock what they change.
"""

from __future__ import annotations

from django.db.models import Q

from marketplace.quality import appeals


def block_earnings(*, job_id: int, worker_id: int, block_event_id: int) -> Q:
    """The earnings of the judgments a block dropped: the worker's in the job, made in the
    block's window (quality.appeals.block_window), so no two blocks of a pair share one."""
    since, until = appeals.block_window(job_id=job_id, worker_id=worker_id, block_event_id=block_event_id)
    within = Q(job_id=job_id, worker_id=worker_id)
    if since is not None:
        within &= Q(created_at__gt=since)
    if until is not None:
        within &= Q(created_at__lte=until)
    return within
