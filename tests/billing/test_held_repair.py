"""billing_held_repair: held pay an old settlement paid, put where today's settlement holds it.

Wendy answers in Acme's gold job and the gold rule blocks her; her withdrawal is over the cap and
waits for Ada, an admin. Walter finishes the job and it settles under the old code, which did not
hold her dropped work: it posted her pay like anyone's, and billing_audit flags it. The command
(a dry run unless --apply) holds it as today's settlement would, and Ada's decision afterwards
moves exactly what it should. Amounts are recomputed as the job's pay × Wendy's dropped answers.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from marketplace import flows, flows_appeals
from marketplace.accounts.models import User
from marketplace.billing import posting
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import AccountKind, Earning, LedgerAccount, LedgerEntry
from marketplace.billing.payouts import earnings_release
from marketplace.errors import NotQualified
from marketplace.jobs.models import Job, JobStatus
from marketplace.labeling.models import Judgment, JudgmentStatus
from marketplace.quality.models import QualityEvent, WithdrawalReview
from tests.billing.review_helpers import rule_blocks
from tests.quality.worker_helpers import answer_gold, answer_regular, gold_job

pytestmark = pytest.mark.django_db
RULES = {"min_gold_answers": 3, "gold_accuracy_floor": "0.5", "gold_feedback": True}
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
UNDECIDED = "paid for a dropped judgment"


def _worker_money(worker: User, *kinds: str) -> Decimal:
    kinds = kinds or (AccountKind.WORKER_PENDING, AccountKind.WORKER_AVAILABLE)
    rows = LedgerEntry.objects.filter(account__worker=worker, account__kind__in=kinds)
    return rows.aggregate(s=Sum("amount"))["s"] or ZERO


def _revenue() -> Decimal:
    account = LedgerAccount.objects.filter(kind=AccountKind.PLATFORM_REVENUE).first()
    return account.balance if account else ZERO


def _run(*args: str) -> str:
    out = StringIO()
    call_command("billing_held_repair", *args, stdout=out)
    return out.getvalue()


def _settled_by_the_old_code(
    wendy: User, walter: User, monkeypatch: pytest.MonkeyPatch
) -> tuple[Job, WithdrawalReview, Decimal]:
    """The old settlement: no earnings_hold, so Wendy's dropped pay is posted to her. Returns the
    job, the pending review and her dropped answers' pay."""
    job = gold_job(items=8, gold=10, overlap=1, quality_rules=RULES)
    answer_regular(wendy, job, count=3)
    posting.job_pay_post(job_id=job.pk, everything=True)
    with contextlib.suppress(NotQualified):
        answer_gold(wendy, job, right=0, wrong=3)
    review = WithdrawalReview.objects.get(job=job, worker=wendy, status=WithdrawalReview.Status.PENDING)
    with monkeypatch.context() as old_code:
        old_code.setattr(posting, "earnings_hold", lambda **_: ZERO)
        answer_regular(walter, job, count=8)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    dropped = Judgment.objects.filter(job=job, worker=wendy, status=JudgmentStatus.DROPPED).count()
    pay = (dropped * job.reward_per_judgment).quantize(CENT)
    assert pay > 0 and _worker_money(wendy) == pay  # the old settlement paid her dropped work
    assert any(UNDECIDED in v for v in ledger_audit().violations)
    return job, review, pay


def test_a_dry_run_reports_the_pay_to_hold_and_changes_nothing(
    wendy: User, walter: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job, review, pay = _settled_by_the_old_code(wendy, walter, monkeypatch)
    revenue = _revenue()

    out = _run()

    assert f"job {job.pk}, worker {wendy.pk}, review {review.pk}: {pay} held ({pay} taken back" in out
    assert "dry run" in out
    assert _worker_money(wendy) == pay and _revenue() == revenue
    assert any(UNDECIDED in v for v in ledger_audit().violations)


def test_applied_it_holds_the_pay_with_quorum_and_leaves_the_audit_clean(
    wendy: User, walter: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job, review, pay = _settled_by_the_old_code(wendy, walter, monkeypatch)
    revenue = _revenue()

    _run("--apply")

    assert _worker_money(wendy) == ZERO
    assert _revenue() == revenue + pay  # where the escrow's settlement would have sent it
    held = Earning.objects.filter(job=job, worker=wendy, status=Earning.Status.HELD)
    assert held.aggregate(s=Sum("amount"))["s"] == pay
    assert set(held.values_list("withdrawn_by_id", flat=True)) == {review.block_event_id}
    assert ledger_audit().ok, ledger_audit().violations
    assert "0 job/worker pair(s) repaired" in _run("--apply")  # idempotent


@pytest.mark.parametrize("withdraw", [True, False], ids=["withdrawn", "left"])
def test_the_admins_decision_after_the_repair_moves_exactly_the_held_pay(
    wendy: User, walter: User, ada: User, monkeypatch: pytest.MonkeyPatch, withdraw: bool
) -> None:
    _, review, pay = _settled_by_the_old_code(wendy, walter, monkeypatch)
    _run("--apply")
    revenue = _revenue()

    flows_appeals.withdrawal_review_decide(review_id=review.pk, actor=ada, approve=withdraw, note="Checked.")

    kept = ZERO if withdraw else pay
    assert _worker_money(wendy, AccountKind.WORKER_AVAILABLE) == kept
    assert _revenue() == revenue - kept
    assert ledger_audit().ok, ledger_audit().violations


def test_pay_released_meanwhile_stays_with_the_worker_and_is_reported(
    wendy: User, walter: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job, review, pay = _settled_by_the_old_code(wendy, walter, monkeypatch)
    # The release before it left pay under review alone: it moved Wendy's past the hold.
    WithdrawalReview.objects.filter(pk=review.pk).update(status=WithdrawalReview.Status.DISMISSED)
    earnings_release(now=timezone.now() + timedelta(days=30))
    WithdrawalReview.objects.filter(pk=review.pk).update(status=WithdrawalReview.Status.PENDING)
    assert any(f"review {review.pk} is still pending" in v for v in ledger_audit().violations)
    revenue = _revenue()

    out = _run("--apply")

    assert f"{pay} released already, left with the worker" in out
    assert _worker_money(wendy, AccountKind.WORKER_AVAILABLE) == pay and _revenue() == revenue
    assert not Earning.objects.filter(job=job, worker=wendy, status=Earning.Status.HELD).exists()
    assert ledger_audit().ok, ledger_audit().violations


def _held_for(block: QualityEvent) -> Decimal:
    rows = Earning.objects.filter(withdrawn_by=block, status=Earning.Status.HELD)
    return rows.aggregate(s=Sum("amount"))["s"] or ZERO


def _dropped_pay(job: Job, wendy: User) -> Decimal:
    answers = Judgment.objects.filter(job=job, worker=wendy, status=JudgmentStatus.DROPPED).count()
    return (answers * job.reward_per_judgment).quantize(CENT)


def test_a_pair_blocked_twice_has_each_blocks_pay_held_for_its_own_review(
    wendy: User, walter: User, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wendy is blocked twice (Ada lifted the first block), each block's withdrawal under a review
    of its own; the job settles under the old code. Each review's pay is held in its own block's
    name, so keeping the second block's pay gives back exactly that, and withdrawing the first's
    takes exactly the first's."""
    job = gold_job(items=60, gold=60, gold_rate="0.3", overlap=1, quality_rules=RULES)
    first_block = rule_blocks(wendy, job, answers=3)
    first_pay = _dropped_pay(job, wendy)
    flows.worker_unblock(job=job, worker=wendy, reason="Looking at this later.", actor=ada)
    second_block = rule_blocks(wendy, job, answers=6)
    second_pay = _dropped_pay(job, wendy) - first_pay  # n × pay rounded, less the first block's
    first, second = (WithdrawalReview.objects.get(block_event=block, status=WithdrawalReview.Status.PENDING)
                     for block in (first_block, second_block))
    with monkeypatch.context() as old_code:
        old_code.setattr(posting, "earnings_hold", lambda **_: ZERO)
        answer_regular(walter, job, count=60)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and _worker_money(wendy) == first_pay + second_pay

    out = _run("--apply")

    assert f"review {first.pk}: {first_pay} held ({first_pay} taken back" in out
    assert f"review {second.pk}: {second_pay} held ({second_pay} taken back" in out
    assert (_held_for(first_block), _held_for(second_block)) == (first_pay, second_pay)
    assert _worker_money(wendy) == ZERO
    assert ledger_audit().ok, ledger_audit().violations
    revenue = _revenue()

    flows_appeals.withdrawal_review_decide(review_id=second.pk, actor=ada, approve=False, note="Fine.")
    flows_appeals.withdrawal_review_decide(review_id=first.pk, actor=ada, approve=True, note="Spam.")

    assert _worker_money(wendy, AccountKind.WORKER_AVAILABLE) == second_pay
    assert _revenue() == revenue - second_pay
    assert ledger_audit().ok, ledger_audit().violations
