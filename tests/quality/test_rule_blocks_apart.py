"""Each rule's block withdraws its own pay, even while an earlier block's review is pending.

Wendy answers in Acme's gold job and misses three gold answers: the gold rule blocks her, and
her withdrawal (all her pay there) waits for review. Ada, an admin, lifts the block without
deciding the review; Wendy answers more and misses gold again, and the rule blocks her a second
time. The second block's pay is its own: reviewed apart when over the cap, withdrawn at once
when under it, booked to the second block either way, so the first review still shows (and
moves) only its own amount and an upheld appeal of the second block gives back exactly its pay.
Amounts are recomputed from the job's pay per judgment × the answers each block dropped.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest
from django.conf import settings
from django.db.models import Sum
from django.test import Client

from typing import Any

from marketplace import flows, flows_appeals
from marketplace.accounts.models import User
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import Earning
from marketplace.billing.posting import job_pay_post
from marketplace.errors import NotQualified
from marketplace.jobs.models import Job
from marketplace.labeling import submitting
from marketplace.labeling.models import JobBlock, Judgment, JudgmentStatus, Lease, LeaseStatus
from marketplace.labeling.services import lease_claim
from marketplace.quality.appeals import appeal_file, block_event_latest
from marketplace.quality.models import QualityEvent, WithdrawalReview
from tests.factories import ClientFactory
from tests.quality.worker_helpers import answer_gold, answer_regular, gold_job

pytestmark = pytest.mark.django_db
RULES = {"min_gold_answers": 3, "gold_accuracy_floor": "0.5", "gold_feedback": True}
CENT = Decimal("0.01")


def _dropped_pay(job: Job, wendy: User, answers_before: int = 0) -> tuple[int, Decimal]:
    """Wendy's dropped answers since `answers_before` of them, and their pay (pay × answers)."""
    answers = Judgment.objects.filter(job=job, worker=wendy, status=JudgmentStatus.DROPPED).count() - answers_before
    return answers, (answers * job.reward_per_judgment).quantize(CENT)


def _withdrawn_by(event: QualityEvent) -> Decimal:
    rows = Earning.objects.filter(withdrawn_by=event, status=Earning.Status.REVERSED)
    return rows.aggregate(s=Sum("amount"))["s"] or Decimal("0.00")


def _rule_blocks(wendy: User, job: Job, *, answers: int) -> QualityEvent:
    answer_regular(wendy, job, count=answers)
    job_pay_post(job_id=job.pk, everything=True)
    while not JobBlock.objects.filter(job=job, worker=wendy).exists():  # misses gold until the rule blocks
        with contextlib.suppress(NotQualified):
            answer_gold(wendy, job, right=0, wrong=1)
    event = block_event_latest(job_id=job.pk, worker_id=wendy.pk)
    assert event is not None and event.automatic
    return event


@pytest.mark.parametrize(("first", "second", "reviewed"), [(3, 6, True), (20, 0, False)],
                         ids=["second over the cap", "second under the cap"])
def test_a_second_rule_block_withdraws_its_own_pay_and_its_appeal_gives_exactly_that_back(
    wendy: User, ada: User, first: int, second: int, reviewed: bool
) -> None:
    job = gold_job(items=60, gold=60, gold_rate="0.3", overlap=1, quality_rules=RULES)
    first_block = _rule_blocks(wendy, job, answers=first)
    first_answers, first_pay = _dropped_pay(job, wendy)
    first_review = WithdrawalReview.objects.get(job=job, worker=wendy, status=WithdrawalReview.Status.PENDING)
    assert first_review.amount == first_pay > 0
    flows.worker_unblock(job=job, worker=wendy, reason="Looking at this later.", actor=ada)

    second_block = _rule_blocks(wendy, job, answers=second)
    _, second_pay = _dropped_pay(job, wendy, answers_before=first_answers)
    assert (second_pay / (first_pay + second_pay) > settings.QUORUM_WITHDRAW_REVIEW_SHARE) == reviewed

    pending = WithdrawalReview.objects.filter(job=job, worker=wendy, status=WithdrawalReview.Status.PENDING)
    assert pending.get(block_event=first_block).amount == first_pay  # still its own amount
    if reviewed:
        assert pending.get(block_event=second_block).amount == second_pay
        assert _withdrawn_by(second_block) == Decimal("0.00")
    else:
        assert not pending.filter(block_event=second_block).exists()
        assert _withdrawn_by(second_block) == second_pay  # at once, in its own name
    page = Client()
    page.force_login(ada)
    shown = page.get("/staff/appeals/").content.decode()
    assert f"<strong>{first_pay}</strong>" in shown
    assert (f"<strong>{second_pay}</strong>" in shown) == reviewed

    _, decided = flows_appeals.withdrawal_review_decide(review_id=first_review.pk, actor=ada, approve=True)
    assert decided.withdrawn == first_pay
    assert _withdrawn_by(first_block) == first_pay
    if reviewed:
        second_review = pending.get(block_event=second_block)
        _, decided = flows_appeals.withdrawal_review_decide(review_id=second_review.pk, actor=ada, approve=True)
        assert decided.withdrawn == second_pay
    assert _withdrawn_by(second_block) == second_pay

    appeal = appeal_file(worker=wendy, kind="block", job_id=job.pk, reason="The gold items showed dogs.")
    assert appeal.block_event == second_block
    decided_appeal = flows_appeals.appeal_decide(
        appeal_id=appeal.pk, actor=ClientFactory(organization=job.organization), upheld=True, note="Our gold was wrong.")

    assert [lifted["amount"] for lifted in decided_appeal.outcome["lifted"]] == [str(second_pay)]
    assert _withdrawn_by(first_block) == first_pay  # the first block's withdrawal stands
    assert ledger_audit().ok, ledger_audit().violations


def test_an_upheld_appeal_of_the_second_block_leaves_the_first_blocks_review_to_the_admin(
    wendy: User, ada: User
) -> None:
    job = gold_job(items=60, gold=60, gold_rate="0.3", overlap=1, quality_rules=RULES)
    first_block = _rule_blocks(wendy, job, answers=3)
    first_answers, first_pay = _dropped_pay(job, wendy)
    flows.worker_unblock(job=job, worker=wendy, reason="Looking at this later.", actor=ada)
    second_block = _rule_blocks(wendy, job, answers=6)
    appeal = appeal_file(worker=wendy, kind="block", job_id=job.pk, reason="The gold items showed dogs.")

    flows_appeals.appeal_decide(appeal_id=appeal.pk, actor=ClientFactory(organization=job.organization),
                                upheld=True, note="Our gold was wrong.")

    statuses = dict(WithdrawalReview.objects.filter(job=job, worker=wendy).values_list("block_event", "status"))
    assert statuses == {first_block.pk: WithdrawalReview.Status.PENDING,
                        second_block.pk: WithdrawalReview.Status.DISMISSED}
    _, decided = flows_appeals.withdrawal_review_decide(
        review_id=WithdrawalReview.objects.get(block_event=first_block).pk, actor=ada, approve=True)
    assert decided.withdrawn == first_pay
    assert ledger_audit().ok, ledger_audit().violations


def _gold_lease(wendy: User, job: Job) -> Lease:
    """Wendy claims until she holds a gold item, answering the regular ones on the way."""
    for _ in range(500):
        lease = lease_claim(worker=wendy, job=job)
        if lease.item.is_gold:
            return lease
        flows.work_submit(worker=wendy, lease_id=lease.pk, label="cat", seconds_spent="5")
    raise AssertionError("no gold item came up")


def test_a_gold_answer_a_lift_let_through_is_the_next_blocks_not_the_lifted_ones(
    wendy: User, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Which block owns an answer given as a block is lifted: the next one, exactly when its submit
    found the worker unblocked (quality.appeals.block_window says why that is not a race). Ada
    blocks Wendy while a claim of hers is in flight, so Wendy still holds a gold item (the claim
    read her unblocked just before the block committed). Ada lifts the block just as Wendy answers
    it: the lift commits after her submit started (and read the clock), before the submit reads
    her block. The answer was given after the lift, so it is not the lifted block's pay: when the
    rule blocks her again, its review covers that answer's pay with the rest of what it dropped."""
    job = gold_job(items=60, gold=60, gold_rate="0.3", overlap=1, quality_rules=RULES)
    lease = _gold_lease(wendy, job)
    flows.worker_block(job=job, worker=wendy, reason="Copies answers.", actor=ada)
    Lease.objects.filter(pk=lease.pk).update(status=LeaseStatus.ACTIVE, finished_at=None)  # the claim in flight
    read_the_block = submitting._lease_submit_counted

    def lifted_meanwhile(**kwargs: Any) -> Any:
        if JobBlock.objects.filter(job=job, worker=wendy).exists():
            flows.worker_unblock(job=job, worker=wendy, reason="Looked again: fine.", actor=ada)
        return read_the_block(**kwargs)

    with monkeypatch.context() as lift:
        lift.setattr(submitting, "_lease_submit_counted", lifted_meanwhile)
        answered = flows.work_submit(worker=wendy, lease_id=lease.pk, label="dog", seconds_spent="5").judgment
    assert answered.status == JudgmentStatus.ACCEPTED  # her submit found her unblocked

    second_block = _rule_blocks(wendy, job, answers=2)

    review = WithdrawalReview.objects.get(block_event=second_block, status=WithdrawalReview.Status.PENDING)
    # Every answer from the lifted one on was given after the lift, and the rule dropped them all;
    # 0.02 a judgment is a whole cent, so each rank pays exactly that.
    after_the_lift = Judgment.objects.filter(job=job, worker=wendy, pk__gte=answered.pk)
    assert set(after_the_lift.values_list("status", flat=True)) == {JudgmentStatus.DROPPED}
    assert job.reward_per_judgment == Decimal("0.02")
    assert review.amount == after_the_lift.count() * job.reward_per_judgment
    assert ledger_audit().ok, ledger_audit().violations
