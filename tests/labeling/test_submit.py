"""Submitting a judgment: counted once, scored if gold, late submits, completion of items and jobs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import ApplicationError, Conflict, NotFound, NotQualified
from marketplace.jobs.models import Item, Job, JobStatus
from marketplace.jobs.services import job_transition
from marketplace.labeling.models import JobBlock, Judgment, Lease, LeaseStatus
from marketplace.labeling.services import (
    judgment_submit,
    judgment_submit_outcome,
    lease_claim,
    lease_release,
)
from tests.factories import WorkerFactory, open_job_with_items
from tests.labeling.helpers import expire, held_for, judge, judge_all

pytestmark = pytest.mark.django_db


def test_a_submit_saves_the_judgment_and_counts_it_on_item_and_job(wendy: User) -> None:
    job = open_job_with_items(items=2, overlap=3)
    lease = lease_claim(worker=wendy, job=job)
    held_for(lease, 5)
    judgment = judgment_submit(worker=wendy, lease_id=lease.pk, label="dog", seconds_spent="4.25")
    saved = Judgment.objects.get(pk=judgment.pk)
    assert (saved.item_id, saved.worker_id, saved.label, saved.lease_id) == (lease.item_id, wendy.pk, "dog", lease.pk)
    assert saved.seconds_spent == Decimal("4.250") and not saved.is_gold and saved.is_correct is None
    assert Lease.objects.get(pk=lease.pk).status == LeaseStatus.SUBMITTED
    assert Item.objects.get(pk=lease.item_id).judgment_count == 1
    job.refresh_from_db()
    assert (job.judgment_count, job.gold_judgment_count, job.completed_item_count) == (1, 0, 0)


def test_time_spent_is_measured_from_the_lease_when_not_given(wendy: User) -> None:
    job = open_job_with_items(items=1)
    lease = lease_claim(worker=wendy, job=job)
    judgment = judgment_submit(worker=wendy, lease_id=lease.pk, label="cat")
    spent = Judgment.objects.get(pk=judgment.pk).seconds_spent
    assert isinstance(spent, Decimal) and Decimal("0") <= spent < Decimal("60")


@pytest.mark.parametrize("seconds", ["-1", "abc", "1e9", "NaN"])
def test_nonsense_time_spent_is_refused(wendy: User, seconds: str) -> None:
    job = open_job_with_items(items=1)
    lease = lease_claim(worker=wendy, job=job)
    with pytest.raises(ApplicationError, match="seconds_spent"):
        judgment_submit(worker=wendy, lease_id=lease.pk, label="cat", seconds_spent=seconds)
    assert not Judgment.objects.exists()


def test_an_unknown_label_is_refused_and_nothing_is_saved(wendy: User) -> None:
    job = open_job_with_items(items=1)
    lease = lease_claim(worker=wendy, job=job)
    with pytest.raises(ApplicationError, match="Unknown label 'zebra'") as refused:
        judgment_submit(worker=wendy, lease_id=lease.pk, label="zebra")
    assert refused.value.status == 400
    assert not Judgment.objects.exists()
    assert Lease.objects.get(pk=lease.pk).status == LeaseStatus.ACTIVE
    assert Item.objects.get(pk=lease.item_id).judgment_count == 0


def test_a_retried_submit_returns_the_same_judgment_and_counts_once(wendy: User) -> None:
    job = open_job_with_items(items=2, overlap=2)
    lease = lease_claim(worker=wendy, job=job)
    first = judgment_submit_outcome(worker=wendy, lease_id=lease.pk, label="cat")
    again = judgment_submit_outcome(worker=wendy, lease_id=lease.pk, label="cat")
    assert first.created and not again.created and again.judgment.pk == first.judgment.pk
    assert Judgment.objects.count() == 1
    assert Item.objects.get(pk=lease.item_id).judgment_count == 1
    assert Job.objects.get(pk=job.pk).judgment_count == 1


def test_a_retry_with_another_label_is_a_conflict(wendy: User) -> None:
    job = open_job_with_items(items=1)
    lease = lease_claim(worker=wendy, job=job)
    judgment_submit(worker=wendy, lease_id=lease.pk, label="cat")
    with pytest.raises(Conflict, match="already submitted"):
        judgment_submit(worker=wendy, lease_id=lease.pk, label="dog")
    assert list(Judgment.objects.values_list("label", flat=True)) == ["cat"]


def test_another_workers_lease_is_not_found(wendy: User, walter: User) -> None:
    job = open_job_with_items(items=1)
    lease = lease_claim(worker=wendy, job=job)
    with pytest.raises(NotFound):
        judgment_submit(worker=walter, lease_id=lease.pk, label="cat")
    with pytest.raises(NotFound):
        judgment_submit(worker=walter, lease_id=lease.pk + 999, label="cat")
    assert not Judgment.objects.exists()


def test_a_late_submit_counts_while_nobody_took_the_slot(wendy: User) -> None:
    job = open_job_with_items(items=1, overlap=1)
    lease = lease_claim(worker=wendy, job=job)
    expire(lease)
    judgment_submit(worker=wendy, lease_id=lease.pk, label="cat")
    assert Item.objects.get(pk=lease.item_id).is_complete


def test_a_late_submit_after_the_slot_was_taken_is_refused_and_the_lease_is_lost(
    wendy: User, walter: User,
) -> None:
    job = open_job_with_items(items=1, overlap=1)
    late = lease_claim(worker=wendy, job=job)
    expire(late)
    taken = lease_claim(worker=walter, job=job)
    assert taken.item_id == late.item_id
    with pytest.raises(Conflict, match="ran out"):
        judgment_submit(worker=wendy, lease_id=late.pk, label="cat")
    assert Lease.objects.get(pk=late.pk).status == LeaseStatus.LOST
    assert Item.objects.get(pk=late.item_id).judgment_count == 0
    judgment_submit(worker=walter, lease_id=taken.pk, label="dog")
    assert list(Judgment.objects.values_list("worker_id", flat=True)) == [walter.pk]
    with pytest.raises(Conflict):  # a retry of the lost submit stays refused
        judgment_submit(worker=wendy, lease_id=late.pk, label="cat")


def test_a_late_submit_on_an_item_completed_meanwhile_is_lost(wendy: User, walter: User) -> None:
    job = open_job_with_items(items=2, overlap=1)
    late = lease_claim(worker=wendy, job=job)
    expire(late)
    judgment_submit(worker=walter, lease_id=lease_claim(worker=walter, job=job).pk, label="dog")
    with pytest.raises(Conflict):
        judgment_submit(worker=wendy, lease_id=late.pk, label="cat")
    assert Item.objects.get(pk=late.item_id).judgment_count == 1


def test_a_released_lease_cannot_be_submitted(wendy: User) -> None:
    job = open_job_with_items(items=1)
    lease = lease_claim(worker=wendy, job=job)
    lease_release(worker=wendy, lease_id=lease.pk)
    with pytest.raises(Conflict, match="skipped"):
        judgment_submit(worker=wendy, lease_id=lease.pk, label="cat")


def test_gold_is_scored_at_once_and_does_not_count_towards_overlap(
    wendy: User, walter: User,
) -> None:
    job = open_job_with_items(items=1, gold=2, gold_label="dog", gold_rate="0.5", overlap=1)
    gold_items = list(Item.objects.filter(job=job, is_gold=True))
    for worker, label in ((wendy, "dog"), (walter, "cat")):
        # Built directly so the test knows which item is gold (claims draw gold at random).
        lease = Lease.objects.create(
            job=job, item=gold_items[0], worker=worker, created_at=job.created_at, expires_at=job.created_at
        )  # an expired gold lease: gold has no slots, so even a late answer counts
        judgment_submit(worker=worker, lease_id=lease.pk, label=label)
    scored = dict(Judgment.objects.filter(item=gold_items[0]).values_list("worker_id", "is_correct"))
    assert scored == {wendy.pk: True, walter.pk: False}
    assert Item.objects.get(pk=gold_items[0].pk).judgment_count == 0
    job.refresh_from_db()
    assert (job.judgment_count, job.gold_judgment_count, job.completed_item_count) == (0, 2, 0)


def test_an_item_completes_when_it_has_its_overlap(wendy: User, walter: User) -> None:
    job = open_job_with_items(items=2, overlap=2)
    first = judge(wendy, job)
    assert not Item.objects.get(pk=first.item_id).is_complete
    outcome = judgment_submit_outcome(
        worker=walter, lease_id=lease_claim(worker=walter, job=job).pk, label="cat"
    )
    assert outcome.item_completed and outcome.judgment.item_id == first.item_id
    assert Item.objects.get(pk=first.item_id).is_complete
    assert Job.objects.get(pk=job.pk).completed_item_count == 1


def test_the_job_completes_when_its_last_item_does(wendy: User, walter: User) -> None:
    job = open_job_with_items(items=3, gold=2, gold_rate="0.3", overlap=2)
    judge_all(wendy, job)
    assert Job.objects.get(pk=job.pk).status == JobStatus.OPEN
    judge_all(walter, job)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.finished_at is not None
    assert (job.completed_item_count, job.judgment_count) == (3, 6)


def test_a_cancelled_job_refuses_submits(wendy: User) -> None:
    job = open_job_with_items(items=1)
    lease = lease_claim(worker=wendy, job=job)
    job_transition(job=job, to=JobStatus.CANCELLED)
    with pytest.raises(Conflict, match="cancelled"):
        judgment_submit(worker=wendy, lease_id=lease.pk, label="cat")
    assert not Judgment.objects.exists()
    assert Lease.objects.get(pk=lease.pk).status == LeaseStatus.ACTIVE


def test_a_gold_answer_arriving_after_the_job_completed_is_refused_as_no_longer_needed(
    wendy: User, walter: User
) -> None:
    job = open_job_with_items(items=1, gold=1, overlap=1, gold_rate="0.5")
    gold = Item.objects.get(job=job, is_gold=True)
    now = timezone.now()
    held = Lease.objects.create(  # wendy holds the gold item while walter finishes the job
        job=job, item=gold, worker=wendy, created_at=now, expires_at=now + timedelta(hours=1)
    )
    judge_all(walter, job)
    assert Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED
    with pytest.raises(Conflict, match="complete"):
        judgment_submit(worker=wendy, lease_id=held.pk, label="cat")
    assert not Judgment.objects.filter(worker=wendy).exists()


def test_a_paused_job_still_accepts_leases_already_held(wendy: User) -> None:
    job = open_job_with_items(items=1, overlap=1)
    lease = lease_claim(worker=wendy, job=job)
    job_transition(job=job, to=JobStatus.PAUSED)
    judgment_submit(worker=wendy, lease_id=lease.pk, label="cat")
    job.refresh_from_db()
    assert job.completed_item_count == 1 and job.status == JobStatus.PAUSED


def test_a_worker_blocked_after_claiming_cannot_submit(wendy: User) -> None:
    job = open_job_with_items(items=1)
    lease = lease_claim(worker=wendy, job=job)
    JobBlock.objects.create(job=job, worker=wendy, reason="Failed gold")
    with pytest.raises(NotQualified):
        judgment_submit(worker=wendy, lease_id=lease.pk, label="cat")
    assert not Judgment.objects.exists()
    assert Item.objects.get(pk=lease.item_id).judgment_count == 0  # the refusal undid the count


def test_many_workers_finish_a_job_with_every_item_judged_overlap_times() -> None:
    job = open_job_with_items(items=10, gold=3, gold_rate="0.2", overlap=3)
    for worker in [WorkerFactory() for _ in range(4)]:
        judge_all(worker, job)
    assert set(Item.objects.filter(job=job, is_gold=False).values_list("judgment_count", flat=True)) == {3}
    assert Judgment.objects.filter(job=job, is_gold=False).count() == 30
    assert Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED
