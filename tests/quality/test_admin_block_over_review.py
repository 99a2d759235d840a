"""An admin's block overtakes a rule's withdrawal still waiting for review.

Wendy answers in Acme's gold job, then misses three gold answers: the gold rule blocks her, and
since all her pay there is still pending the withdrawal is over the cap and waits for an admin.
Ada, an admin, lifts the rule's block and blocks Wendy herself (final: no appeal). Ada's block
decides the money: the dropped judgments' pay is withdrawn once, in the name of Ada's block, and
the review is closed with a note saying so, so no admin later "decides" pay that already moved.
Walter labels beside her (and, in the settled case, finishes the job before Ada's block).
Amounts are recomputed from the job's pay per judgment × Wendy's answers.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest
from django.db.models import Sum

from marketplace import flows, flows_appeals
from marketplace.accounts.models import User
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import AccountKind, Earning, LedgerEntry
from marketplace.billing.posting import job_pay_post
from marketplace.errors import Conflict, NotQualified
from marketplace.jobs.models import Job, JobStatus
from marketplace.labeling.models import JobBlock, Judgment, JudgmentStatus
from marketplace.quality.appeals import appeal_file
from marketplace.quality.models import QualityEvent, WithdrawalReview
from tests.factories import ClientFactory
from tests.quality.worker_helpers import answer_gold, answer_regular, gold_job

pytestmark = pytest.mark.django_db
RULES = {"min_gold_answers": 3, "gold_accuracy_floor": "0.5", "gold_feedback": True}
CENT = Decimal("0.01")
ITEMS = 8


def _worker_money(worker: User) -> Decimal:
    rows = LedgerEntry.objects.filter(
        account__worker=worker, account__kind__in=(AccountKind.WORKER_PENDING, AccountKind.WORKER_AVAILABLE))
    return rows.aggregate(s=Sum("amount"))["s"] or Decimal("0.00")


def _withdrawn_by(event: QualityEvent) -> Decimal:
    rows = Earning.objects.filter(withdrawn_by=event, status=Earning.Status.REVERSED)
    return rows.aggregate(s=Sum("amount"))["s"] or Decimal("0.00")


def _rule_blocked_with_review(wendy: User, walter: User, *, settle: bool) -> tuple[Job, WithdrawalReview, Decimal]:
    """Wendy answers three items (pay posted), the rule blocks her, her withdrawal is held; with
    `settle`, Walter then labels every item and the job settles (holding her dropped pay).
    Returns the job, the pending review and the pay of her dropped judgments (pay × answers)."""
    job = gold_job(items=ITEMS, gold=10, overlap=1, quality_rules=RULES)
    answer_regular(wendy, job, count=3)
    job_pay_post(job_id=job.pk, everything=True)
    with contextlib.suppress(NotQualified):
        answer_gold(wendy, job, right=0, wrong=3)
    review = WithdrawalReview.objects.get(job=job, worker=wendy, status=WithdrawalReview.Status.PENDING)
    answers = Judgment.objects.filter(job=job, worker=wendy, status=JudgmentStatus.DROPPED).count()
    if settle:
        answer_regular(walter, job, count=ITEMS)
        job.refresh_from_db()
        assert job.status == JobStatus.COMPLETED
    return job, review, (answers * job.reward_per_judgment).quantize(CENT)


def _ada_blocks(job: Job, wendy: User, ada: User) -> QualityEvent:
    flows.worker_unblock(job=job, worker=wendy, reason="Looking at this myself.", actor=ada)
    return flows.worker_block(job=job, worker=wendy, reason="Copying answers (checked by hand).", actor=ada).event


@pytest.mark.parametrize("settle", [False, True], ids=["open", "settled"])
def test_an_admins_block_withdraws_the_reviewed_pay_once_in_its_own_name(
    wendy: User, walter: User, ada: User, settle: bool
) -> None:
    job, review, dropped_pay = _rule_blocked_with_review(wendy, walter, settle=settle)
    assert dropped_pay > 0 and review.amount == dropped_pay

    ada_block = _ada_blocks(job, wendy, ada)

    assert _withdrawn_by(ada_block) == dropped_pay
    assert not Earning.objects.filter(worker=wendy, job=job, status=Earning.Status.HELD).exists()
    assert _worker_money(wendy) == Decimal("0.00")
    closed = WithdrawalReview.objects.get(pk=review.pk)
    assert closed.status == WithdrawalReview.Status.APPROVED and closed.decided_by == ada
    assert f"event {ada_block.pk}" in closed.note and "nothing is left to decide" in closed.note
    assert ledger_audit().ok, ledger_audit().violations


@pytest.mark.parametrize("settle", [False, True], ids=["open", "settled"])
def test_no_admin_can_decide_a_review_an_admins_block_closed(
    wendy: User, walter: User, ada: User, settle: bool
) -> None:
    job, review, _ = _rule_blocked_with_review(wendy, walter, settle=settle)
    _ada_blocks(job, wendy, ada)

    with pytest.raises(Conflict):
        flows_appeals.withdrawal_review_decide(review_id=review.pk, actor=ada, approve=False, note="Keep it.")

    assert _worker_money(wendy) == Decimal("0.00")  # Quorum never pays what Ada's block withdrew
    assert ledger_audit().ok, ledger_audit().violations


def test_an_upheld_appeal_of_the_rules_block_gives_back_nothing_the_admins_block_took(
    wendy: User, walter: User, ada: User
) -> None:
    job, _, dropped_pay = _rule_blocked_with_review(wendy, walter, settle=False)
    appeal = appeal_file(worker=wendy, kind="block", job_id=job.pk, reason="The gold items showed dogs.")
    ada_block = _ada_blocks(job, wendy, ada)

    flows_appeals.appeal_decide(appeal_id=appeal.pk, actor=ClientFactory(organization=job.organization),
                                upheld=True, note="Our gold was wrong.")

    assert _withdrawn_by(ada_block) == dropped_pay
    assert _worker_money(wendy) == Decimal("0.00")
    assert JobBlock.objects.filter(job=job, worker=wendy).exists()  # Ada's block is not the one appealed
    assert ledger_audit().ok, ledger_audit().violations
