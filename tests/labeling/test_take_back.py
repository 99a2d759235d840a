"""Taking back a lease a closed page returned (labeling/returning.py, sql_return.py): as a claim
would serve the item (marking it full when it takes the last slot), never where a claim would
be refused.

Wendy's labeling page A closes (or reloads) and its beacon gives her item back; her next claim
(page B) takes it back. Ray is a worker a dynamic job expects to be near chance.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from marketplace.accounts.models import Qualification, User
from marketplace.errors import Conflict, NothingLeft, NotQualified
from marketplace.jobs.models import Item, Job, JobQualification, JobStatus
from marketplace.jobs.services import job_transition
from marketplace.labeling.models import Lease, LeaseStatus
from marketplace.labeling.returning import leases_take_back
from marketplace.labeling.services import lease_claim
from marketplace.quality.models import WorkerSkill
from marketplace.quality.services import worker_block
from tests.factories import WorkerFactory, grant, open_job_with_items
from tests.labeling.helpers import signed_in
from tests.labeling.test_page_reload import A, B, beacon, shown, status

pytestmark = pytest.mark.django_db

TWO_LABELS = [{"key": "yes", "name": "Yes"}, {"key": "no", "name": "No"}]


def returned_by_page_a(client: Client, job: Job) -> Lease:
    """Wendy's page A shows an item of the job, then closes: its beacon gives the item back."""
    lease = shown(client, job, A)
    assert beacon(client, A, lease) == 204
    assert status(lease) == LeaseStatus.RETURNED
    return Lease.objects.get(pk=lease)


def test_taking_back_the_items_last_slot_marks_it_full_as_a_claim_does(wendy: User) -> None:
    job = open_job_with_items(items=3, overlap=1)
    client = signed_in(wendy)
    lease = returned_by_page_a(client, job)
    assert Item.objects.get(pk=lease.item_id).full_until is None  # its slot was free again

    assert shown(client, job, B) == lease.pk

    taken = Lease.objects.get(pk=lease.pk)
    assert Item.objects.get(pk=lease.item_id).full_until == taken.expires_at


def test_taking_back_a_slot_that_leaves_another_free_leaves_the_item_open(wendy: User) -> None:
    job = open_job_with_items(items=3, overlap=2)
    client = signed_in(wendy)
    lease = returned_by_page_a(client, job)

    assert shown(client, job, B) == lease.pk
    assert Item.objects.get(pk=lease.item_id).full_until is None


def test_a_worker_a_dynamic_job_passes_over_does_not_get_the_item_back() -> None:
    ray = WorkerFactory()
    job = open_job_with_items(items=4, labels=TWO_LABELS, overlap=2, max_overlap=7,
                              target_confidence=Decimal("0.9"))
    client = signed_in(ray)
    lease = returned_by_page_a(client, job)
    # Since then his record elsewhere showed him right a quarter of the time on two labels.
    WorkerSkill.objects.create(worker=ray, right=10.0, seen=40.0, updated_at=timezone.now())

    with pytest.raises(NothingLeft, match="Nothing in this job for you right now"):
        lease_claim(worker=ray, job=job, page=B)
    assert status(lease.pk) == LeaseStatus.RETURNED
    with pytest.raises(NothingLeft):
        lease_claim(worker=ray, job=None, page=B)
    assert status(lease.pk) == LeaseStatus.RETURNED


def test_a_worker_blocked_from_the_job_does_not_get_the_item_back(wendy: User) -> None:
    job = open_job_with_items(items=3, overlap=1)
    client = signed_in(wendy)
    lease = returned_by_page_a(client, job)
    worker_block(job=job, worker=wendy, reason="Missed too many check items.")

    with pytest.raises(NotQualified, match="blocked"):
        lease_claim(worker=wendy, job=job, page=B)
    with pytest.raises(NothingLeft):
        lease_claim(worker=wendy, job=None, page=B)
    assert status(lease.pk) == LeaseStatus.RETURNED


def test_a_worker_who_lost_the_qualification_does_not_get_the_item_back(wendy: User) -> None:
    job = open_job_with_items(items=3, overlap=1)
    skill = Qualification.objects.create(name="Animal spotting", slug="animal-spotting")
    JobQualification.objects.create(job=job, qualification=skill, min_score=Decimal("0.9"))
    held = grant(wendy, skill)
    client = signed_in(wendy)
    lease = returned_by_page_a(client, job)
    held.delete()

    with pytest.raises(NotQualified):
        lease_claim(worker=wendy, job=job, page=B)
    with pytest.raises(NothingLeft):
        lease_claim(worker=wendy, job=None, page=B)
    assert status(lease.pk) == LeaseStatus.RETURNED


@pytest.mark.parametrize("closed", [JobStatus.PAUSED, JobStatus.CANCELLED])
def test_a_paused_or_cancelled_job_does_not_give_the_item_back(wendy: User, closed: str) -> None:
    job = open_job_with_items(items=3, overlap=1)
    client = signed_in(wendy)
    lease = returned_by_page_a(client, job)
    job_transition(job=job, to=closed)

    with pytest.raises(Conflict):
        lease_claim(worker=wendy, job=job, page=B)
    with pytest.raises(NothingLeft):
        lease_claim(worker=wendy, job=None, page=B)
    assert status(lease.pk) == LeaseStatus.RETURNED


def test_an_item_completed_meanwhile_is_not_given_back(wendy: User, walter: User) -> None:
    job = open_job_with_items(items=3, overlap=2)
    client = signed_in(wendy)
    lease = returned_by_page_a(client, job)
    Item.objects.filter(pk=lease.item_id).update(is_complete=True)  # e.g. settled early (dynamic)

    again = lease_claim(worker=wendy, job=job, page=B)

    assert again.pk != lease.pk and again.item_id != lease.item_id
    assert status(lease.pk) == LeaseStatus.RETURNED


def test_a_block_or_pause_landing_after_the_claim_read_the_job_still_keeps_the_item_back(wendy: User) -> None:
    """The take-back's own statement reads the job's status and the worker's blocks again: a
    claim that read the job just before a block (or a pause) committed does not hand the item back."""
    blocked_in = open_job_with_items(items=3, overlap=1)
    paused = open_job_with_items(items=3, overlap=1)
    client = signed_in(wendy)
    leases = [returned_by_page_a(client, blocked_in), returned_by_page_a(client, paused)]
    read_before = [Job.objects.get(pk=blocked_in.pk), Job.objects.get(pk=paused.pk)]
    worker_block(job=blocked_in, worker=wendy, reason="Missed too many check items.")
    job_transition(job=paused, to=JobStatus.PAUSED)

    with transaction.atomic():
        taken = [leases_take_back(job=job, worker=wendy, now=timezone.now(), page=B, most=2) for job in read_before]

    assert taken == [None, None]
    assert [status(lease.pk) for lease in leases] == [LeaseStatus.RETURNED, LeaseStatus.RETURNED]
