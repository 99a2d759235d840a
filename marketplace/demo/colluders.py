"""seed_demo's colluding pair, so the staff Collusion page has something on it.

Six of the simulated crowd's accounts label the start of the open sentiment job through the
real claim and submit flow: four honest good workers and a colluding pair (the crowd model's
"colluding" kind: both answer at random from one shared stream, so they always agree). The pair
claims back to back, as coordinated accounts do, so they share most of their items. A manual
consensus run then scans the job and leaves the pair flagged, open for an admin to review.
Idempotent: once the pair has judgments in the job, a second seed does nothing.
"""

from __future__ import annotations

import random
from decimal import Decimal

from django.test.utils import override_settings

from marketplace import flows
from marketplace.accounts.models import User
from marketplace.demo.simulator import SIM_USERNAME_PREFIX
from marketplace.demo.simulator.crowd import Profile
from marketplace.errors import NothingLeft
from marketplace.jobs.models import Job, JobStatus
from marketplace.labeling.models import Judgment
from marketplace.labeling.services import lease_claim
from marketplace.quality.models import ConsensusRun
from marketplace.quality.runs import consensus_run

HONEST = (7, 8, 9, 10)  # sim-worker-7 … 10
PAIR = (11, 12)  # sim-worker-11 and 12: the colluding pair
ITEMS_EACH = 45  # judgments per worker: enough items shared by the pair for a clear test


def colluding_pair_seed(*, organization_id: int | None, title: str) -> ConsensusRun | None:
    """Label part of the organization's open job `title` with the pair among honest workers,
    then run consensus; None when there is nothing to do (no such open job, or done before)."""
    job = Job.objects.filter(organization_id=organization_id, title=title).first()
    if job is None:
        return None
    accounts = {n: User.objects.filter(username=f"{SIM_USERNAME_PREFIX}{n}").first() for n in HONEST + PAIR}
    if job.status != JobStatus.OPEN or any(user is None for user in accounts.values()):
        return None
    if Judgment.objects.filter(job=job, worker__in=[accounts[n] for n in PAIR]).exists():
        return None
    profiles = {n: Profile(index=n, kind="good", seed=2000 + n, diagonal=0.9) for n in HONEST}
    for n in PAIR:  # one seed and one pair number: the same answer for the same item
        profiles[n] = Profile(index=n, kind="colluding", seed=2100, pair=1)
    rng = random.Random(13)
    done = dict.fromkeys(accounts, 0)
    with override_settings(QUORUM_TASKS="inline"):
        while any(count < ITEMS_EACH for count in done.values()):
            order = list(HONEST)
            rng.shuffle(order)
            order.insert(rng.randrange(len(order) + 1), PAIR[0])
            order.insert(order.index(PAIR[0]) + 1, PAIR[1])  # the second account right behind
            for n in order:
                if done[n] >= ITEMS_EACH:
                    continue
                worker = accounts[n]
                assert worker is not None
                try:
                    lease = lease_claim(worker=worker, job=job)
                except NothingLeft:
                    done[n] = ITEMS_EACH
                    continue
                label = profiles[n].answer(item=lease.item_id, data=lease.item.data,
                                        label_keys=job.label_keys, rng=rng)
                flows.work_submit(worker=worker, lease_id=lease.pk, label=label,
                                  seconds_spent=Decimal(rng.randint(4, 15)))
                done[n] += 1
        return consensus_run(job=job)
