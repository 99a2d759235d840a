"""Next item (lease_claim): who gets which item, in what order, and who is refused.

Wendy and Walter are workers (tests/conftest.py); a few extra crowd workers join where overlap
needs more than two people.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import Conflict, NothingLeft, NotFound, NotQualified, PermissionDenied
from marketplace.jobs.models import Item, JobQualification, JobStatus
from marketplace.jobs.services import job_transition
from marketplace.labeling import claiming, sql
from marketplace.labeling.models import JobBlock, Judgment, Lease, LeaseStatus
from marketplace.labeling.services import judgment_submit, lease_claim, lease_release
from tests.factories import QualificationFactory, WorkerFactory, grant, open_job_with_items
from tests.labeling.helpers import expire, judge, judge_all

pytestmark = pytest.mark.django_db


def test_it_leases_an_unjudged_item_until_lease_seconds_from_now(wendy: User) -> None:
    job = open_job_with_items(items=3, lease_seconds=120)
    before = timezone.now()
    lease = lease_claim(worker=wendy, job=job)
    assert lease.status == LeaseStatus.ACTIVE and lease.worker == wendy and lease.item.job_id == job.pk
    assert before + timedelta(seconds=119) < lease.expires_at <= timezone.now() + timedelta(seconds=120)
    assert Item.objects.get(pk=lease.item_id).started


def test_it_never_assigns_an_item_twice_to_one_worker(wendy: User) -> None:
    job = open_job_with_items(items=6, overlap=3)
    judged = [j.item_id for j in judge_all(wendy, job)]
    assert len(judged) == 6 and len(set(judged)) == 6


def test_asking_again_returns_the_lease_already_held(wendy: User) -> None:
    job = open_job_with_items(items=3)
    first = lease_claim(worker=wendy, job=job)
    again = lease_claim(worker=wendy, job=job.pk)
    assert again.pk == first.pk and again.item_id == first.item_id
    assert Lease.objects.filter(worker=wendy).count() == 1


def test_it_never_hands_out_more_slots_than_the_overlap(wendy: User, walter: User) -> None:
    job = open_job_with_items(items=1, overlap=2)
    carla = WorkerFactory()
    assert lease_claim(worker=wendy, job=job).item_id == lease_claim(worker=walter, job=job).item_id
    with pytest.raises(NothingLeft):
        lease_claim(worker=carla, job=job)


def test_an_item_is_collected_exactly_overlap_times_by_a_crowd() -> None:
    job = open_job_with_items(items=4, overlap=3)
    crowd = [WorkerFactory() for _ in range(5)]
    for worker in crowd:
        judge_all(worker, job)
    counts = Counter(Item.objects.filter(job=job).values_list("judgment_count", flat=True))
    assert counts == {3: 4}


def test_an_expired_lease_frees_its_slot_without_any_cleanup(wendy: User, walter: User) -> None:
    job = open_job_with_items(items=1, overlap=1)
    held = lease_claim(worker=wendy, job=job)
    with pytest.raises(NothingLeft):
        lease_claim(worker=walter, job=job)
    expire(held)
    assert lease_claim(worker=walter, job=job).item_id == held.item_id


def test_an_expired_lease_is_not_returned_as_the_one_held(wendy: User) -> None:
    job = open_job_with_items(items=2, overlap=1)
    held = lease_claim(worker=wendy, job=job)
    expire(held)
    fresh = lease_claim(worker=wendy, job=job)
    assert fresh.pk != held.pk and fresh.item_id != held.item_id


def test_items_in_progress_come_first_then_priority_then_the_oldest(
    wendy: User, walter: User,
) -> None:
    job = open_job_with_items(items=4, overlap=2)
    first, second, third, fourth = Item.objects.filter(job=job).order_by("id")
    Item.objects.filter(pk=third.pk).update(priority=5)
    # Fresh items: the highest priority first, then the oldest.
    assert judge(walter, job).item_id == third.pk
    order = [judge(wendy, job).item_id for _ in range(4)]
    # Third is in progress (Walter judged it), so Wendy finishes it first.
    assert order == [third.pk, first.pk, second.pk, fourth.pk]


def test_a_partly_judged_item_is_finished_before_fresh_ones_are_started(
    wendy: User, walter: User,
) -> None:
    job = open_job_with_items(items=3, overlap=2)
    last = Item.objects.filter(job=job).order_by("-id").first()
    Item.objects.filter(pk=last.pk).update(started=True)
    assert lease_claim(worker=wendy, job=job).item_id == last.pk


def _judged_started(worker: User, items: list[Item]) -> None:
    """The worker has judged these items (overlap > 1 keeps them started and open for others)."""
    Item.objects.filter(pk__in=[item.pk for item in items]).update(started=True, judgment_count=1)
    Judgment.objects.bulk_create(
        Judgment(job_id=item.job_id, item=item, worker=worker, label="cat") for item in items
    )


def test_past_the_started_window_fresh_items_come_first_and_then_the_started_ones_left(
    wendy: User, walter: User,
) -> None:
    # Walter judged more started items than one claim looks at; the deepest one waits for Wendy,
    # after the only fresh item.
    job = open_job_with_items(items=sql.STARTED_WINDOW + 12, overlap=2)
    items = list(Item.objects.filter(job=job).order_by("id"))
    *walters, deepest, fresh = items
    _judged_started(walter, walters)
    _judged_started(wendy, [deepest])
    assert judge(walter, job).item_id == fresh.pk
    assert judge(walter, job).item_id == deepest.pk
    with pytest.raises(NothingLeft):
        lease_claim(worker=walter, job=job)


def test_a_worker_who_judged_many_started_items_still_gets_the_one_left_deep_in_the_order(
    wendy: User, walter: User,
) -> None:
    # Every item is started; Walter judged all but one, far past the window: it is still his.
    job = open_job_with_items(items=3 * sql.STARTED_WINDOW, overlap=2)
    items = list(Item.objects.filter(job=job).order_by("id"))
    left = items[-3]
    _judged_started(walter, [item for item in items if item != left])
    _judged_started(wendy, [left])
    assert lease_claim(worker=walter, job=job).item_id == left.pk


def test_a_skipped_slot_of_a_fully_leased_item_is_offered_before_fresh_items(
    wendy: User, walter: User,
) -> None:
    # Overlap 2: Walter and a crowd worker hold both slots of the first item; the claim that took
    # the last one marked it full. Walter skips: the next worker finishes that item, not a fresh one.
    job = open_job_with_items(items=3, overlap=2)
    first = lease_claim(worker=walter, job=job)
    second = lease_claim(worker=WorkerFactory(username="crowd-1"), job=job)
    assert second.item_id == first.item_id
    assert Item.objects.get(pk=first.item_id).full_until == min(first.expires_at, second.expires_at)
    assert lease_claim(worker=WorkerFactory(username="crowd-2"), job=job).item_id != first.item_id
    lease_release(worker=walter, lease_id=first.pk)
    assert lease_claim(worker=wendy, job=job).item_id == first.item_id


def test_a_lapsed_slot_of_a_fully_leased_item_is_offered_before_fresh_items(
    wendy: User, walter: User,
) -> None:
    # Walter walks away from the first item, whose other slot a crowd worker holds; once his time
    # runs out the item has a slot again, and the next worker finishes it rather than a fresh one,
    # though a started item with a free slot (the second) comes before it.
    job = open_job_with_items(items=4, overlap=2)
    first = lease_claim(worker=walter, job=job)
    lease_claim(worker=WorkerFactory(username="crowd-1"), job=job)
    second = lease_claim(worker=WorkerFactory(username="crowd-2"), job=job)
    expire(first)
    assert lease_claim(worker=wendy, job=job).item_id == second.item_id
    assert lease_claim(worker=WorkerFactory(username="crowd-3"), job=job).item_id == first.item_id


def test_a_skipped_item_is_not_offered_again_to_the_same_worker(wendy: User) -> None:
    job = open_job_with_items(items=2, overlap=2)
    skipped = lease_claim(worker=wendy, job=job)
    lease_release(worker=wendy, lease_id=skipped.pk)
    assert lease_claim(worker=wendy, job=job).item_id != skipped.item_id


def test_a_worker_without_the_required_qualification_is_told_which(wendy: User) -> None:
    skill = QualificationFactory(name="Birds")
    job = open_job_with_items(items=2)
    JobQualification.objects.create(job=job, qualification=skill, min_score="0.8")
    with pytest.raises(NotQualified, match="Birds"):
        lease_claim(worker=wendy, job=job)
    grant(wendy, skill, score="0.7")
    with pytest.raises(NotQualified):
        lease_claim(worker=wendy, job=job)


def test_a_worker_holding_the_qualification_with_the_score_gets_work(wendy: User) -> None:
    skill = QualificationFactory()
    job = open_job_with_items(items=2)
    JobQualification.objects.create(job=job, qualification=skill, min_score="0.8")
    grant(wendy, skill, score="0.8")
    assert lease_claim(worker=wendy, job=job).job_id == job.pk


def test_a_blocked_worker_is_refused(wendy: User) -> None:
    job = open_job_with_items(items=2)
    JobBlock.objects.create(job=job, worker=wendy, reason="Failed gold items")
    with pytest.raises(NotQualified, match="blocked"):
        lease_claim(worker=wendy, job=job)


def test_a_suspended_worker_is_refused_everywhere(wendy: User) -> None:
    job = open_job_with_items(items=2)
    wendy.suspended_at = timezone.now()
    wendy.save()
    with pytest.raises(NotQualified, match="suspended"):
        lease_claim(worker=wendy, job=job)
    with pytest.raises(NotQualified):
        lease_claim(worker=wendy)


def test_a_client_cannot_take_items(alice: User) -> None:
    job = open_job_with_items(items=1)
    with pytest.raises(PermissionDenied):
        lease_claim(worker=alice, job=job)


@pytest.mark.parametrize("status", [JobStatus.PAUSED, JobStatus.CANCELLED])
def test_a_job_that_is_not_open_hands_out_nothing(wendy: User, status: str) -> None:
    job = open_job_with_items(items=2)
    job_transition(job=job, to=status)
    with pytest.raises(Conflict, match=status):
        lease_claim(worker=wendy, job=job)


def test_a_paused_job_refuses_even_a_worker_holding_a_lease_a_new_one(wendy: User) -> None:
    job = open_job_with_items(items=2)
    held = lease_claim(worker=wendy, job=job)
    job_transition(job=job, to=JobStatus.PAUSED)
    with pytest.raises(Conflict):
        lease_claim(worker=wendy, job=job)
    # ...but the lease already held can still be submitted.
    assert judgment_submit(worker=wendy, lease_id=held.pk, label="dog").label == "dog"


def test_a_draft_or_missing_job_does_not_exist_for_workers(wendy: User) -> None:
    draft = open_job_with_items(items=1, publish=False)
    with pytest.raises(NotFound):
        lease_claim(worker=wendy, job=draft)
    with pytest.raises(NotFound):
        lease_claim(worker=wendy, job=draft.pk + 1000)


def test_no_work_is_said_when_only_gold_is_left_for_the_worker(wendy: User) -> None:
    job = open_job_with_items(items=1, gold=5, gold_rate="0.5", overlap=1)
    judge_all(wendy, job)
    assert Lease.objects.filter(worker=wendy, item__is_gold=False).count() == 1
    with pytest.raises(NothingLeft):
        lease_claim(worker=wendy, job=job)


def test_gold_is_mixed_in_at_the_gold_rate_and_each_gold_item_is_seen_once() -> None:
    job = open_job_with_items(items=300, gold=300, gold_rate="0.5", overlap=1)
    crowd = [WorkerFactory() for _ in range(4)]
    served = [judge(crowd[n % 4], job).is_gold for n in range(240)]
    share = sum(served) / len(served)
    assert 0.35 < share < 0.65, share
    gold_pairs = Lease.objects.filter(job=job, item__is_gold=True).values_list("item_id", "worker_id")
    assert len(gold_pairs) == len(set(gold_pairs))


class AlwaysGold:
    """The client's worst luck: every draw says 'mix in a gold item now'."""

    def random(self) -> float:
        return 0.0


def test_gold_never_exceeds_the_jobs_gold_rate_even_when_every_draw_says_gold(monkeypatch: Any) -> None:
    monkeypatch.setattr(claiming, "_rng", AlwaysGold())
    job = open_job_with_items(items=40, gold=40, gold_rate="0.2", overlap=1)
    crowd = [WorkerFactory() for _ in range(4)]

    served = [judge(crowd[n % 4], job).is_gold for n in range(40)]

    assert not any(served[:4])  # gold is mixed into regular work, never ahead of it
    gold = sum(served)
    assert gold > 0 and gold * 4 <= len(served) - gold  # at most a fifth of the assignments


def test_a_job_without_gold_rate_never_serves_gold(wendy: User) -> None:
    job = open_job_with_items(items=20, gold=20, gold_rate="0", overlap=1)
    assert not any(j.is_gold for j in judge_all(wendy, job))


def test_next_without_a_job_takes_the_highest_priority_job_with_work(wendy: User) -> None:
    low = open_job_with_items(items=1, priority=0)
    high = open_job_with_items(items=1, priority=9, overlap=1)
    assert lease_claim(worker=wendy).job_id == high.pk
    judgment_submit(worker=wendy, lease_id=Lease.objects.get(worker=wendy).pk, label="cat")
    assert lease_claim(worker=wendy).job_id == low.pk  # high has nothing left for her


def test_next_without_a_job_skips_jobs_the_worker_may_not_work_on(wendy: User) -> None:
    gated = open_job_with_items(items=1, priority=9)
    JobQualification.objects.create(job=gated, qualification=QualificationFactory())
    blocked = open_job_with_items(items=1, priority=8)
    JobBlock.objects.create(job=blocked, worker=wendy, reason="spam")
    paused = open_job_with_items(items=1, priority=7)
    job_transition(job=paused, to=JobStatus.PAUSED)
    fine = open_job_with_items(items=1, priority=0)
    assert lease_claim(worker=wendy).job_id == fine.pk


def test_next_without_a_job_returns_a_held_lease_and_says_when_nothing_is_left(wendy: User) -> None:
    job = open_job_with_items(items=1, overlap=1)
    held = lease_claim(worker=wendy)
    assert lease_claim(worker=wendy).pk == held.pk
    judgment_submit(worker=wendy, lease_id=held.pk, label="cat")
    with pytest.raises(NothingLeft):
        lease_claim(worker=wendy)
    assert job.pk == held.job_id


def test_the_item_after_the_one_on_screen_is_fetched_ahead_once_and_held_for_the_worker(wendy: User) -> None:
    """The labeling page fetches the next item while the worker labels: a second live lease, never a third."""
    job = open_job_with_items(items=5)
    current = lease_claim(worker=wendy, job=job)
    ahead = lease_claim(worker=wendy, job=job, ahead_of=current.pk)
    assert ahead.item_id != current.item_id and ahead.status == LeaseStatus.ACTIVE
    assert lease_claim(worker=wendy, job=job, ahead_of=current.pk).pk == ahead.pk  # asked twice: the same one
    assert Lease.objects.filter(worker=wendy, status=LeaseStatus.ACTIVE).count() == 2

    judgment_submit(worker=wendy, lease_id=current.pk, label="cat")
    after = lease_claim(worker=wendy, job=job, ahead_of=ahead.pk)
    assert after.item_id not in {current.item_id, ahead.item_id}
    assert Lease.objects.filter(worker=wendy, status=LeaseStatus.ACTIVE).count() == 2


def test_nothing_is_fetched_ahead_when_no_other_item_is_left_for_the_worker(wendy: User) -> None:
    job = open_job_with_items(items=1)
    current = lease_claim(worker=wendy, job=job)
    with pytest.raises(NothingLeft):
        lease_claim(worker=wendy, job=job, ahead_of=current.pk)
