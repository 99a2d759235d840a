"""Skip (lease_release): the slot comes back at once, for someone else."""

from __future__ import annotations

import pytest

from marketplace.accounts.models import User
from marketplace.errors import Conflict, NothingLeft, NotFound
from marketplace.labeling.models import Lease, LeaseStatus
from marketplace.labeling.services import judgment_submit, lease_claim, lease_release
from tests.factories import open_job_with_items
from tests.labeling.helpers import expire

pytestmark = pytest.mark.django_db


def test_a_released_slot_is_free_for_the_next_worker_at_once(wendy: User, walter: User) -> None:
    job = open_job_with_items(items=1, overlap=1)
    lease = lease_claim(worker=wendy, job=job)
    with pytest.raises(NothingLeft):
        lease_claim(worker=walter, job=job)
    released = lease_release(worker=wendy, lease_id=lease.pk)
    assert released.status == LeaseStatus.RELEASED and released.finished_at is not None
    assert lease_claim(worker=walter, job=job).item_id == lease.item_id


def test_releasing_twice_is_harmless(wendy: User) -> None:
    job = open_job_with_items(items=1)
    lease = lease_claim(worker=wendy, job=job)
    lease_release(worker=wendy, lease_id=lease.pk)
    assert lease_release(worker=wendy, lease_id=lease.pk).status == LeaseStatus.RELEASED


def test_an_expired_lease_can_still_be_released(wendy: User) -> None:
    job = open_job_with_items(items=1)
    lease = lease_claim(worker=wendy, job=job)
    expire(lease)
    assert lease_release(worker=wendy, lease_id=lease.pk).status == LeaseStatus.RELEASED


def test_another_workers_lease_cannot_be_released(wendy: User, walter: User) -> None:
    job = open_job_with_items(items=1)
    lease = lease_claim(worker=wendy, job=job)
    with pytest.raises(NotFound):
        lease_release(worker=walter, lease_id=lease.pk)
    assert Lease.objects.get(pk=lease.pk).status == LeaseStatus.ACTIVE


def test_a_submitted_lease_cannot_be_skipped(wendy: User) -> None:
    job = open_job_with_items(items=1)
    lease = lease_claim(worker=wendy, job=job)
    judgment_submit(worker=wendy, lease_id=lease.pk, label="cat")
    with pytest.raises(Conflict, match="already submitted"):
        lease_release(worker=wendy, lease_id=lease.pk)
    assert Lease.objects.get(pk=lease.pk).status == LeaseStatus.SUBMITTED
