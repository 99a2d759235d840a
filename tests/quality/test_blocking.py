"""Blocking a worker from a job: judgments dropped, items reopened and relabeled, unblock."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from marketplace.accounts.models import User
from marketplace.errors import ApplicationError, Conflict, NotQualified
from marketplace.jobs.models import Item, Job, JobStatus
from marketplace.labeling.models import JobBlock, Judgment, JudgmentStatus, Lease, LeaseStatus
from marketplace.labeling.services import lease_claim
from marketplace.quality.models import QualityEvent, WorkerJobStats
from marketplace.quality.services import worker_block, worker_unblock
from tests.conftest import needs_postgres
from tests.factories import WorkerFactory, open_job_with_items
from tests.labeling.helpers import judge, judge_all
from tests.quality.worker_helpers import answer_gold, gold_job

pytestmark = pytest.mark.django_db


def _accepted(job: Job, worker: User) -> int:
    return Judgment.objects.filter(job=job, worker=worker, status=JudgmentStatus.ACCEPTED).count()


def test_a_block_drops_the_workers_judgments_and_reopens_their_items(wendy: User, walter: User, ada: User) -> None:
    job = open_job_with_items(items=4, overlap=2)
    judge_all(wendy, job)
    for _ in range(3):
        judge(walter, job)
    job.refresh_from_db()
    assert job.completed_item_count == 3 and job.judgment_count == 7

    outcome = worker_block(job=job, worker=wendy, reason="Copy-pasted answers", actor=ada)

    assert (outcome.drop.judgments, len(outcome.drop.items), len(outcome.drop.reopened)) == (4, 4, 3)
    assert _accepted(job, wendy) == 0 and _accepted(job, walter) == 3
    job.refresh_from_db()
    assert (job.judgment_count, job.completed_item_count, job.status) == (3, 0, JobStatus.OPEN)
    assert set(Item.objects.filter(job=job).values_list("judgment_count", "is_complete")) == {(1, False), (0, False)}
    with pytest.raises(NotQualified):
        lease_claim(worker=wendy, job=job)
    # Somebody else relabels the reopened items.
    carl = WorkerFactory(username="carl")
    assert len(judge_all(carl, job)) == 4
    job.refresh_from_db()
    assert job.completed_item_count == 3  # the item walter never judged still wants one more
    kinds = list(QualityEvent.objects.filter(worker=wendy).order_by("id").values_list("kind", "automatic", "actor"))
    assert kinds == [("blocked", False, ada.pk), ("relabeled", False, ada.pk)]
    relabeled = QualityEvent.objects.get(kind="relabeled")
    assert sorted(relabeled.evidence["item_ids"]) == sorted(job.items.values_list("id", flat=True))


def test_a_block_in_a_completed_settled_job_never_changes_its_delivered_results(
    wendy: User, walter: User, ada: User
) -> None:
    from marketplace import flows
    from marketplace.billing.audit import ledger_audit
    from marketplace.billing.models import Earning, JobBudget
    from tests.quality.worker_helpers import answer_regular

    job = open_job_with_items(items=12, overlap=2)
    answer_regular(wendy, job, count=12)
    answer_regular(walter, job, count=12)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert JobBudget.objects.get(job=job).settled_at is not None
    delivered = sorted(Judgment.objects.filter(job=job).values_list("id", "status"))
    pay = sorted(Earning.objects.filter(job=job).values_list("id", "status", "amount"))

    outcome = flows.worker_block(job=job, worker=wendy, reason="Spam found in review", actor=ada)

    # Future work only: every judgment still counts, no item reopened, nobody's pay moved.
    assert outcome.drop.judgments == 0 and outcome.drop.reopened == ()
    assert sorted(Judgment.objects.filter(job=job).values_list("id", "status")) == delivered
    assert _accepted(job, wendy) == 12
    job.refresh_from_db()
    assert (job.status, job.completed_item_count, job.judgment_count) == (JobStatus.COMPLETED, 12, 24)
    assert sorted(Earning.objects.filter(job=job).values_list("id", "status", "amount")) == pay
    assert JobBlock.objects.filter(job=job, worker=wendy).exists()
    assert not QualityEvent.objects.filter(kind="relabeled").exists()
    assert ledger_audit().ok


def test_a_block_ends_the_workers_live_leases(wendy: User) -> None:
    job = open_job_with_items(items=3, overlap=1)
    lease = lease_claim(worker=wendy, job=job)
    worker_block(job=job, worker=wendy, reason="Bot-like behaviour")
    assert Lease.objects.get(pk=lease.pk).status == LeaseStatus.RELEASED


def test_a_block_needs_a_reason_and_happens_once(wendy: User, alice: User) -> None:
    job = open_job_with_items(items=1)
    with pytest.raises(ApplicationError, match="reason"):
        worker_block(job=job, worker=wendy, reason="  ")
    with pytest.raises(ApplicationError, match="Only worker"):
        worker_block(job=job, worker=alice, reason="not a worker")
    worker_block(job=job, worker=wendy, reason="first")
    with pytest.raises(Conflict):
        worker_block(job=job, worker=wendy, reason="second")


def test_an_unblock_lets_the_worker_back_but_dropped_judgments_stay_dropped(wendy: User, ada: User) -> None:
    job = gold_job(quality_rules={"min_gold_answers": 3, "gold_accuracy_floor": "0.5"})
    answer_gold(wendy, job, right=0, wrong=3)
    assert JobBlock.objects.filter(job=job, worker=wendy).exists()
    dropped = Judgment.objects.filter(job=job, worker=wendy, status=JudgmentStatus.DROPPED).count()
    assert dropped >= 3 and _accepted(job, wendy) == 0

    worker_unblock(job=job, worker=wendy, actor=ada, reason="Appealed: misread the instructions")

    assert not JobBlock.objects.filter(job=job, worker=wendy).exists()
    assert Judgment.objects.filter(job=job, worker=wendy, status=JudgmentStatus.DROPPED).count() == dropped
    event = QualityEvent.objects.get(kind="unblocked")
    assert event.actor == ada and event.evidence["dropped_judgments"] == dropped
    assert event.evidence["dropped_stay_dropped"] is True
    assert event.evidence["gold_before_reset"] == {"gold_seen": 3, "gold_correct": 0}
    # A fresh start on gold: one more miss does not re-block at once.
    answer_gold(wendy, job, right=0, wrong=1)
    assert not JobBlock.objects.filter(job=job, worker=wendy).exists()
    assert WorkerJobStats.objects.get(job=job, worker=wendy).gold_seen == 1
    with pytest.raises(Conflict):
        worker_unblock(job=job, worker=wendy, actor=ada, reason="again")


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_gold_block_inside_a_submit_never_waits_for_an_item_another_submit_holds(
    wendy: User, walter: User
) -> None:
    """The blocking submit holds the job lock; an item wendy judged is locked by a concurrent
    transaction that would next want the job lock. The block must skip that item (no deadlock)
    and drop its judgment right after commit."""
    job = gold_job(items=30, gold=20, quality_rules={"min_gold_answers": 3, "gold_accuracy_floor": "0.5"})
    answer_gold(wendy, job, right=0, wrong=2)
    held = Judgment.objects.filter(job=job, worker=wendy, is_gold=False).values_list("item_id", flat=True).first()
    assert held is not None
    locked, block_seen = threading.Event(), threading.Event()

    def hold_item() -> None:
        # Hold the item until the block is committed (seen from here), at most 60 s (a second
        # idle; generous for a busy machine): if the block waited for this item, it would never
        # commit while we hold it.
        deadline = time.monotonic() + 60
        with transaction.atomic():
            Item.objects.select_for_update().get(pk=held)
            locked.set()
            while time.monotonic() < deadline:
                if JobBlock.objects.filter(job=job, worker=wendy).exists():
                    block_seen.set()
                    break
                time.sleep(0.05)
        connection.close()

    holder = threading.Thread(target=hold_item)
    holder.start()
    assert locked.wait(timeout=60)
    try:
        answer_gold(wendy, job, right=0, wrong=1)  # trips the rule while the item is held
    finally:
        holder.join()
    assert block_seen.is_set()
    # The held item's judgment was dropped after the blocking submit committed.
    assert _accepted(job, wendy) == 0
    events = QualityEvent.objects.filter(worker=wendy, kind="relabeled").order_by("id")
    assert events.count() == 2 and held in events.last().evidence["item_ids"]
    assert Item.objects.get(pk=held).judgment_count == 0
