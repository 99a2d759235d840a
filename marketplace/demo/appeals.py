"""The demo's appeal (seed_demo): worker5 is blocked by the gold rule itself and appeals, so
/staff/appeals/ and the client's /portal/appeals/ have an open appeal to show.

The block is made the way the product makes one, never written by hand: worker5 labels the open
sentiment job through the real claim and submit flow, answering every item wrong, until the
standard tier's gold rule (18 gold answers, smoothed accuracy under 0.60: quality/rules.py)
blocks them at their 18th check item, 0 of 18 right. So the block carries the rule's evidence
(its gold answers and their right labels), drops worker5's judgments there and withdraws their
pay as any automatic block does (the withdrawal waits for an admin's review when it is more than
QUORUM_WITHDRAW_REVIEW_SHARE of their pay in the job). A completed job could not show this: its
block stops future work only, and the pilot serves too few check items (its gold share) for the
rule to ever apply. Idempotent: a second seed finds worker5's appeal and does nothing.
"""

from __future__ import annotations

import random
from decimal import Decimal

from django.test.utils import override_settings

from marketplace import flows
from marketplace.accounts.models import User
from marketplace.demo.simulator.crowd import item_truth
from marketplace.errors import NothingLeft, NotQualified
from marketplace.jobs.models import Job, JobStatus
from marketplace.labeling.models import JobBlock
from marketplace.labeling.services import lease_claim
from marketplace.quality.appeals import appeal_file
from marketplace.quality.models import Appeal

APPEAL_REASON = (
    "I labeled these reviews carefully; several of the check items look mislabeled to me "
    "(sarcastic 'five stars' reviews read as negative to me). Please review my answers."
)
# Claims worker5 makes at most: gold comes out at the job's gold_rate (10%), so the 18th check
# item comes after about 180 claims; the cap only stops a job that serves no gold at all.
MAX_CLAIMS = 2000


def wrong_label(*, data: object, label_keys: list[str]) -> str:
    """Always a wrong answer: the label after the item's true one (seeding.py builds every demo
    item, gold included, so that its label is its simulated truth)."""
    truth = label_keys.index(item_truth(data, label_keys))
    return label_keys[(truth + 1) % len(label_keys)]


def demo_appeal(*, worker: User, job: Job | None) -> Appeal | None:
    """worker5 labels the open `job` wrong until the gold rule blocks them, then appeals the
    block; None when there is nothing to do (no such open job, appealed before, or no block)."""
    if job is None or Appeal.objects.filter(worker=worker).exists():
        return None
    if not JobBlock.objects.filter(job=job, worker=worker).exists():
        if job.status != JobStatus.OPEN:
            return None
        _label_until_blocked(worker=worker, job=job)
    if not JobBlock.objects.filter(job=job, worker=worker).exists():
        return None  # the job ran out of check items for them first: no block to appeal
    return appeal_file(worker=worker, kind=Appeal.Kind.BLOCK, job_id=job.pk, reason=APPEAL_REASON)


def _label_until_blocked(*, worker: User, job: Job) -> None:
    rng = random.Random(17)
    with override_settings(QUORUM_TASKS="inline"):
        for _ in range(MAX_CLAIMS):
            try:
                lease = lease_claim(worker=worker, job=job)
            except (NothingLeft, NotQualified):  # NotQualified: blocked (by the answer before)
                return
            flows.work_submit(worker=worker, lease_id=lease.pk,
                              label=wrong_label(data=lease.item.data, label_keys=job.label_keys),
                              seconds_spent=Decimal(rng.randint(4, 15)))
            if JobBlock.objects.filter(job=job, worker=worker).exists():
                return
