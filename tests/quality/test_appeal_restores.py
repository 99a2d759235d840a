"""An upheld appeal gives back what the appealed block withdrew, and nothing an earlier block did.

Wendy works in Acme's gold job. Ada, an admin, blocks her (final: no appeal), which withdraws
her pending pay, then unblocks her. Wendy works on, and the gold rule blocks her. She appeals
that automatic block (or a missed gold answer) and Acme's client, Alice, upholds it. Walter
works beside her. Amounts are recomputed from the job's pay per judgment, never read back from
what the restore reported.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest
from django.db.models import Sum

from marketplace import flows, flows_appeals
from marketplace.accounts.models import User
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import AccountKind, Earning, LedgerEntry, TransactionKind
from marketplace.billing.posting import job_pay_post
from marketplace.errors import NotQualified
from marketplace.jobs.models import Job
from marketplace.labeling.models import JobBlock, Judgment
from marketplace.quality.appeals import appeal_file
from marketplace.quality.models import QualityEvent, WithdrawalReview
from tests.factories import ClientFactory
from tests.quality.worker_helpers import answer_gold, answer_regular, gold_job

pytestmark = pytest.mark.django_db
RULES = {"min_gold_answers": 3, "gold_accuracy_floor": "0.5", "gold_feedback": True}
CENT = Decimal("0.01")


def _pay_for(job: Job, first: int, count: int) -> Decimal:
    """The remainder rule, recomputed: ranks first+1..first+count pay round(k × pay) in all."""
    pay = job.reward_per_judgment
    return ((first + count) * pay).quantize(CENT) - (first * pay).quantize(CENT)


def _ledger_money(worker: User, kind: str) -> Decimal:
    rows = LedgerEntry.objects.filter(account__worker=worker, account__kind=kind)
    return rows.aggregate(s=Sum("amount"))["s"] or Decimal("0.00")


def _restored_to(worker: User) -> Decimal:
    rows = LedgerEntry.objects.filter(transaction__kind=TransactionKind.JUDGMENT_PAY_RESTORE, account__worker=worker)
    return rows.aggregate(s=Sum("amount"))["s"] or Decimal("0.00")


def _admin_blocked_then_rule_blocked(wendy: User, walter: User, ada: User) -> tuple[Job, int, int]:
    """Wendy answers, her pay is posted, Ada blocks and unblocks her; then she misses three gold
    answers and the rule blocks her. Returns the job, her judgments before and after Ada's block."""
    job = gold_job(quality_rules=RULES)
    answer_regular(wendy, job, count=10)
    answer_regular(walter, job, count=4)
    job_pay_post(job_id=job.pk, everything=True)
    first_round = Judgment.objects.filter(job=job, worker=wendy).count()
    flows.worker_block(job=job, worker=wendy, reason="Copying answers (checked by hand).", actor=ada)
    flows.worker_unblock(job=job, worker=wendy, reason="A second chance.", actor=ada)
    with contextlib.suppress(NotQualified):
        answer_gold(wendy, job, right=0, wrong=3)
    assert JobBlock.objects.filter(job=job, worker=wendy).exists()
    second_round = Judgment.objects.filter(job=job, worker=wendy).count() - first_round
    return job, first_round, second_round


def test_an_upheld_appeal_of_a_held_rule_block_gives_back_nothing_an_admins_block_withdrew(
    wendy: User, walter: User, ada: User
) -> None:
    job, first_round, second_round = _admin_blocked_then_rule_blocked(wendy, walter, ada)
    admin_withdrew = _pay_for(job, 0, first_round)
    assert admin_withdrew > 0
    withdrawn = Earning.objects.filter(worker=wendy, job=job, status=Earning.Status.REVERSED)
    assert withdrawn.aggregate(s=Sum("amount"))["s"] == admin_withdrew
    # All of the rule block's pay is pending: over the cap, its withdrawal waits for an admin.
    review = WithdrawalReview.objects.get(job=job, worker=wendy, status=WithdrawalReview.Status.PENDING)

    appeal = appeal_file(worker=wendy, kind="block", job_id=job.pk, reason="The gold items showed dogs.")
    flows_appeals.appeal_decide(appeal_id=appeal.pk, actor=ClientFactory(organization=job.organization),
                                upheld=True, note="Our gold was wrong.")

    # The appealed block withdrew nothing, so nothing comes back; Ada's withdrawal stands.
    assert _restored_to(wendy) == Decimal("0.00")
    assert _ledger_money(wendy, AccountKind.WORKER_AVAILABLE) == Decimal("0.00")
    assert withdrawn.aggregate(s=Sum("amount"))["s"] == admin_withdrew
    assert WithdrawalReview.objects.get(pk=review.pk).status == WithdrawalReview.Status.DISMISSED
    # The second round's pay stays hers, pending as any pay.
    job_pay_post(job_id=job.pk, everything=True)
    assert _ledger_money(wendy, AccountKind.WORKER_PENDING) == _pay_for(job, first_round, second_round)
    assert ledger_audit().ok, ledger_audit().violations


def test_a_gold_appeal_lifting_a_rule_block_gives_back_that_blocks_withdrawal_only(
    wendy: User, walter: User, ada: User, settings: object
) -> None:
    settings.QUORUM_WITHDRAW_REVIEW_SHARE = Decimal("1.00")  # type: ignore[attr-defined]  # the rule withdraws
    job, first_round, second_round = _admin_blocked_then_rule_blocked(wendy, walter, ada)
    rule_withdrew = _pay_for(job, first_round, second_round)
    rule_event = QualityEvent.objects.filter(job=job, worker=wendy, kind=QualityEvent.Kind.BLOCKED).latest("id")
    assert rule_event.automatic
    assert (Earning.objects.filter(worker=wendy, job=job, status=Earning.Status.REVERSED)
            .aggregate(s=Sum("amount"))["s"]) == _pay_for(job, 0, first_round) + rule_withdrew
    missed = Judgment.objects.filter(worker=wendy, job=job, is_gold=True, is_correct=False).order_by("id").first()
    assert missed is not None
    appeal = appeal_file(worker=wendy, kind="gold", judgment_id=missed.pk, reason="This one is clearly a dog.")

    flows_appeals.appeal_decide(appeal_id=appeal.pk, actor=ClientFactory(organization=job.organization),
                                upheld=True, gold_action="retire")

    assert not JobBlock.objects.filter(job=job, worker=wendy).exists()  # the rule no longer holds
    job_pay_post(job_id=job.pk, everything=True)
    # The rule's withdrawal comes back (posted pay from Quorum, owed pay from the escrow); Ada's does not.
    assert (_ledger_money(wendy, AccountKind.WORKER_AVAILABLE)
            + _ledger_money(wendy, AccountKind.WORKER_PENDING)) == rule_withdrew
    assert (Earning.objects.filter(worker=wendy, job=job, status=Earning.Status.REVERSED)
            .aggregate(s=Sum("amount"))["s"]) == _pay_for(job, 0, first_round)
    assert ledger_audit().ok, ledger_audit().violations


def test_the_audit_finds_an_admins_withdrawal_given_back_by_an_appeal(
    wendy: User, walter: User, ada: User
) -> None:
    job, _, _ = _admin_blocked_then_rule_blocked(wendy, walter, ada)
    appeal = appeal_file(worker=wendy, kind="block", job_id=job.pk, reason="Please look again.")
    flows_appeals.appeal_decide(appeal_id=appeal.pk, actor=ada, upheld=True)
    assert ledger_audit().ok
    # What the old restore did: Ada's withdrawal marked given back by the appeal.
    admin_event = QualityEvent.objects.filter(job=job, worker=wendy, kind=QualityEvent.Kind.BLOCKED).earliest("id")
    Earning.objects.filter(worker=wendy, job=job, withdrawn_by=admin_event).update(
        status=Earning.Status.AVAILABLE, kept_after_drop=True)
    assert any("an admin's block" in v for v in ledger_audit().violations)
