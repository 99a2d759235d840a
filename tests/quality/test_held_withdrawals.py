"""A rule's withdrawal held for an admin's review, overtaken by the job's settlement.

Wendy misses three gold answers in Acme's job and the gold rule blocks her; all her pay there is
still pending, so the withdrawal is over the cap and waits for Ada, an admin. Walter relabels
Wendy's items and the job completes and settles before Ada looks. The settlement must not pay
Wendy's dropped work; Ada's decision afterwards withdraws it for good or has Quorum pay it, each
moving exactly its amount. Amounts are recomputed from the judgments and the job's pay.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.test import Client

from marketplace import flows_appeals
from marketplace.accounts.models import User
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import AccountKind, Earning, JobBudget, LedgerAccount, LedgerEntry
from marketplace.billing.posting import job_pay_post
from marketplace.errors import NotQualified
from marketplace.jobs.models import Job, JobStatus
from marketplace.labeling.models import Judgment, JudgmentStatus
from marketplace.quality.models import WithdrawalReview
from tests.quality.worker_helpers import answer_gold, answer_regular, gold_job

pytestmark = pytest.mark.django_db
RULES = {"min_gold_answers": 3, "gold_accuracy_floor": "0.5", "gold_feedback": True}
CENT = Decimal("0.01")
ITEMS = 8


def _pay(job: Job, judgments: int) -> Decimal:
    return (judgments * job.reward_per_judgment).quantize(CENT)  # the remainder rule's total


def _accepted_pay(job: Job) -> Decimal:
    """What the job's accepted judgments earn, worker by worker (the remainder rule)."""
    per_worker = Counter(Judgment.objects.filter(job=job, status=JudgmentStatus.ACCEPTED)
                         .values_list("worker_id", flat=True))
    return sum((_pay(job, n) for n in per_worker.values()), Decimal("0.00"))


def _worker_money(worker: User) -> Decimal:
    rows = LedgerEntry.objects.filter(
        account__worker=worker, account__kind__in=(AccountKind.WORKER_PENDING, AccountKind.WORKER_AVAILABLE))
    return rows.aggregate(s=Sum("amount"))["s"] or Decimal("0.00")


def _revenue() -> Decimal:
    account = LedgerAccount.objects.filter(kind=AccountKind.PLATFORM_REVENUE).first()
    return account.balance if account else Decimal("0.00")


def _settled_before_the_review(wendy: User, walter: User, *, posted: bool) -> tuple[Job, WithdrawalReview, Decimal]:
    """Wendy is blocked with her withdrawal held (her pay posted first or still owed), then
    Walter labels every item and the job completes. Returns the job, the review and her
    dropped judgments' pay."""
    job = gold_job(items=ITEMS, gold=10, overlap=1, quality_rules=RULES)
    answer_regular(wendy, job, count=3)
    if posted:
        job_pay_post(job_id=job.pk, everything=True)
    with contextlib.suppress(NotQualified):
        answer_gold(wendy, job, right=0, wrong=3)
    review = WithdrawalReview.objects.get(job=job, worker=wendy, status=WithdrawalReview.Status.PENDING)
    dropped = Judgment.objects.filter(job=job, worker=wendy, status=JudgmentStatus.DROPPED).count()
    answer_regular(walter, job, count=ITEMS)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    return job, review, _pay(job, dropped)


@pytest.mark.parametrize("posted", [False, True], ids=["owed", "posted"])
def test_a_settlement_that_overtakes_a_held_withdrawal_does_not_pay_the_dropped_work(
    wendy: User, walter: User, posted: bool
) -> None:
    job, review, held = _settled_before_the_review(wendy, walter, posted=posted)
    assert held > 0 and review.amount == held
    budget = JobBudget.objects.get(job=job)
    assert budget.spent == _accepted_pay(job)  # dropped judgments are not paid
    assert _worker_money(wendy) == Decimal("0.00")
    assert (Earning.objects.filter(worker=wendy, job=job, status=Earning.Status.HELD)
            .aggregate(s=Sum("amount"))["s"]) == held
    assert ledger_audit().ok, ledger_audit().violations


def test_an_admin_who_withdraws_after_settlement_withdraws_the_held_pay_for_good(
    wendy: User, walter: User, ada: User
) -> None:
    job, review, held = _settled_before_the_review(wendy, walter, posted=True)
    revenue = _revenue()

    _, decided = flows_appeals.withdrawal_review_decide(review_id=review.pk, actor=ada, approve=True, note="Spam.")

    assert decided.settled and decided.withdrawn == held and decided.paid_by_quorum == Decimal("0.00")
    assert WithdrawalReview.objects.get(pk=review.pk).status == WithdrawalReview.Status.APPROVED
    assert _worker_money(wendy) == Decimal("0.00") and _revenue() == revenue  # Quorum had it already
    assert not Earning.objects.filter(worker=wendy, job=job, status=Earning.Status.HELD).exists()
    assert ledger_audit().ok, ledger_audit().violations


def test_an_admin_who_leaves_the_pay_after_settlement_has_quorum_pay_it(
    wendy: User, walter: User, ada: User
) -> None:
    job, review, held = _settled_before_the_review(wendy, walter, posted=False)
    revenue = _revenue()
    client = Client()
    client.force_login(ada)

    page = client.get("/staff/appeals/")
    assert b"The job has ended: this pay is held from the worker" in page.content
    answer = client.post(f"/staff/withdrawals/{review.pk}/decide/", {"verdict": "dismiss"}, follow=True)

    assert f"{held} kept by the worker".encode() in answer.content
    assert f"Quorum paid the held {held}".encode() in answer.content
    assert WithdrawalReview.objects.get(pk=review.pk).status == WithdrawalReview.Status.DISMISSED
    available = LedgerAccount.objects.get(kind=AccountKind.WORKER_AVAILABLE, worker=wendy).balance
    assert available == held and _worker_money(wendy) == held
    assert _revenue() == revenue - held
    assert JobBudget.objects.get(job=job).spent == _accepted_pay(job)  # the client's side is unchanged
    assert ledger_audit().ok, ledger_audit().violations


def test_the_audit_finds_dropped_work_a_settlement_paid(wendy: User, walter: User) -> None:
    job, _, _ = _settled_before_the_review(wendy, walter, posted=True)
    # What the old settlement left: the held pay as an ordinary pending earning of the worker.
    Earning.objects.filter(worker=wendy, job=job, status=Earning.Status.HELD).update(status=Earning.Status.PENDING)
    assert any("paid for a dropped judgment" in v for v in ledger_audit().violations)
