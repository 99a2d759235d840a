"""The demo's appeal (seed_demo): worker5, the pilot's spammer, is blocked from the pilot by
the gold rule's words and appeals, so /staff/appeals/ and the client's /portal/appeals/ have an
open appeal to show. The pilot is completed, so the block changes none of its delivered results
(quality.services: a block in a completed job affects future work only). Idempotent: a second
seed finds worker5's appeal and does nothing."""

from __future__ import annotations

from django.db import transaction

from marketplace.accounts.models import User
from marketplace.jobs.models import Job
from marketplace.labeling.models import JobBlock
from marketplace.quality.appeals import appeal_file
from marketplace.quality.models import Appeal, WorkerJobStats
from marketplace.quality.services import worker_block

APPEAL_REASON = (
    "I labeled the pilot carefully; several of its check items look mislabeled to me "
    "(the 'free gift' messages were real customer notes). Please review my answers."
)


def demo_appeal(*, worker: User, job: Job | None) -> Appeal | None:
    if job is None or Appeal.objects.filter(worker=worker).exists():
        return None
    with transaction.atomic():
        if not JobBlock.objects.filter(job=job, worker=worker).exists():
            stats = WorkerJobStats.objects.filter(job=job, worker=worker).first()
            right, seen = (stats.gold_correct, stats.gold_seen) if stats else (0, 0)
            # actor=None: recorded as the gold rule's (automatic) block, which a worker may appeal.
            worker_block(job=job, worker=worker, actor=None, evidence={"rule": "gold_accuracy_floor", "demo": True},
                         reason=f"Gold accuracy {right} of {seen} right on the pilot's check items is under the floor.")
        return appeal_file(worker=worker, kind=Appeal.Kind.BLOCK, job_id=job.pk, reason=APPEAL_REASON)
