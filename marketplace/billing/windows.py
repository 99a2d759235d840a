"""Which dropped judgments' pay is a block's: each block of a worker in a job withdraws, holds
for review and gives back on appeal its own (quality.appeals.block_window), never another
block's. Reads only; the writers (reversals, restoring, holding, posting) lock what they change.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q

from marketplace.quality import appeals
from marketplace.quality.models import WithdrawalReview


def block_earnings(*, job_id: int, worker_id: int, block_event_id: int) -> Q:
    """The earnings of the judgments a block dropped: the worker's in the job, made in the
    block's window (quality.appeals.block_window), so no two blocks of a pair share one."""
    since, until = appeals.block_window(job_id=job_id, worker_id=worker_id, block_event_id=block_event_id)
    return _made_within(job_id=job_id, worker_id=worker_id, since=since, until=until)


def reviewed_earnings(*, reviews: Iterable[WithdrawalReview]) -> Q:
    """The earnings of the judgments the reviews' blocks dropped (block_earnings of each review's
    block, appeals.review_block_in; a review naming no block, none recorded: the pair's whole
    pay, as before reviews named their block). Nothing for no review. Two queries however many
    reviews: the reviews' pairs' marks are read at once."""
    reviews = list(reviews)
    marks = appeals.block_marks(pairs={(r.job_id, r.worker_id) for r in reviews})
    covered = Q(pk__in=[])
    for review in reviews:
        pair = marks[(review.job_id, review.worker_id)]
        block_id = appeals.review_block_in(pair, review=review)
        since, until = appeals.window_in(pair, block_id) if block_id is not None else (None, None)
        covered |= _made_within(job_id=review.job_id, worker_id=review.worker_id, since=since, until=until)
    return covered


def _made_within(*, job_id: int, worker_id: int, since: datetime | None, until: datetime | None) -> Q:
    within = Q(job_id=job_id, worker_id=worker_id)
    if since is not None:
        within &= Q(created_at__gt=since)
    if until is not None:
        within &= Q(created_at__lte=until)
    return within
