"""billing_audit checks that the pay a withdrawal review covers is where the review says.

Wendy is blocked by Acme's gold rule and her withdrawal waits for Ada, an admin (the review
cap). The audit finds what older code left behind: her pay released while the review was
pending, a review Ada approved ("withdrawn") over pay a settlement had paid her before pay under
review was held, or over pay released while it was pending, held pay no review will decide, and
pay withdrawn in the name of a block lifted
before she earned it. Pay released before the block is hers, and the audit leaves it alone.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from marketplace import flows, flows_appeals
from marketplace.accounts.models import User
from marketplace.billing import payouts, posting, reversals
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import AccountKind, Earning
from marketplace.jobs.models import Job, JobStatus
from marketplace.labeling.models import Judgment, JudgmentStatus
from marketplace.quality import appeals
from marketplace.quality.models import WithdrawalReview
from tests.billing.review_helpers import (
    ZERO, balance, blocked_under_review, past_the_hold, released_then_approved,
)
from tests.quality.worker_helpers import answer_regular

pytestmark = pytest.mark.django_db


def _flagged(review: WithdrawalReview, words: str) -> set[int]:
    """The earnings the audit names for this review with these words."""
    return {int(v.split()[1]) for v in ledger_audit().violations if f"review {review.pk} {words}" in v}


def _dropped_pay(job: Job, worker: User) -> set[int]:
    rows = Earning.objects.filter(job=job, worker=worker, judgment__status=JudgmentStatus.DROPPED, amount__gt=0)
    return set(rows.values_list("pk", flat=True))


def _review_set(review: WithdrawalReview, status: str) -> None:
    WithdrawalReview.objects.filter(pk=review.pk).update(status=status)


def test_the_audit_finds_pay_released_while_its_withdrawal_was_under_review(wendy: User, walter: User) -> None:
    job, review, dropped = blocked_under_review(wendy, walter)
    # What the release did before it left pay under review alone: moved it past the hold.
    _review_set(review, WithdrawalReview.Status.DISMISSED)
    payouts.earnings_release(now=past_the_hold())
    _review_set(review, WithdrawalReview.Status.PENDING)
    assert balance(wendy, AccountKind.WORKER_AVAILABLE) == dropped > ZERO

    assert _flagged(review, "is still pending") == _dropped_pay(job, wendy)


def test_the_audit_finds_a_withdrawal_approved_over_pay_an_old_settlement_paid(
    wendy: User, walter: User, ada: User, monkeypatch: Any
) -> None:
    job, review, dropped = blocked_under_review(wendy, walter)
    # The settlement before the held status paid the dropped work like any other...
    monkeypatch.setattr(posting, "earnings_hold", lambda **_: ZERO)
    answer_regular(walter, job, count=6)  # the rest of the items, Wendy's three among them
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    # ...and the admin's "withdraw" then moved nothing: the reversal found the job settled and
    # marked the pay kept (the decision of that time, in full).
    with transaction.atomic():
        locked = appeals.withdrawal_review_lock(review_id=review.pk)
        reversals.worker_job_pay_reverse(job_id=job.pk, worker_id=wendy.pk, block_event_id=None)
        appeals.withdrawal_review_close(review=locked, actor=ada, approved=True, note="Spam.")
    assert balance(wendy, AccountKind.WORKER_PENDING) == dropped > ZERO

    assert _flagged(review, "was approved") == _dropped_pay(job, wendy)
    payouts.earnings_release(now=past_the_hold())  # released since: still not what Ada decided
    assert balance(wendy, AccountKind.WORKER_AVAILABLE) == dropped
    assert _flagged(review, "was approved") == _dropped_pay(job, wendy)


def test_the_audit_names_pay_released_during_a_review_and_then_approved_on_an_open_job(
    wendy: User, walter: User, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job, review, dropped = released_then_approved(wendy, walter, ada, monkeypatch)

    violations = ledger_audit().violations

    named = [v for v in violations if f"withdrawal review {review.pk} was approved" in v]
    assert named and all("released while the review was pending" in v for v in named)
    amounts = [Decimal(v.split(": ")[1].split(" ")[0]) for v in named]
    assert sum(amounts, ZERO) == dropped  # every released earning of her dropped answers, by name


def test_the_audit_finds_held_pay_no_review_will_decide(wendy: User, walter: User) -> None:
    job, review, _ = blocked_under_review(wendy, walter)
    answer_regular(walter, job, count=6)  # the job completes: its settlement holds Wendy's pay
    assert Earning.objects.filter(job=job, worker=wendy, status=Earning.Status.HELD).exists()
    assert ledger_audit().ok, ledger_audit().violations

    _review_set(review, WithdrawalReview.Status.DISMISSED)  # closed with nothing given back

    held = [v for v in ledger_audit().violations if "held with no withdrawal review pending" in v]
    assert len(held) == Earning.objects.filter(job=job, worker=wendy, status=Earning.Status.HELD).count()


def test_pay_released_before_the_block_stays_the_workers_through_an_approved_review(
    wendy: User, walter: User, ada: User
) -> None:
    job, review, dropped = blocked_under_review(wendy, walter, answers=1, released_first=True)
    assert Earning.objects.filter(job=job, worker=wendy, status=Earning.Status.AVAILABLE).exists()

    _, decided = flows_appeals.withdrawal_review_decide(review_id=review.pk, actor=ada, approve=True, note="Spam.")
    payouts.earnings_release(now=past_the_hold())

    assert decided.withdrawn == review.amount < dropped  # the released answer is not withdrawn
    assert balance(wendy, AccountKind.WORKER_AVAILABLE) == dropped - review.amount
    assert ledger_audit().ok, ledger_audit().violations



def test_the_audit_finds_pay_withdrawn_in_the_name_of_a_block_lifted_before_it_was_earned(
    wendy: User, walter: User, ada: User
) -> None:
    job, review, _ = blocked_under_review(wendy, walter)
    flows.worker_unblock(job=job, worker=wendy, reason="Looking at this later.", actor=ada)
    later = [done.judgment.pk for done in answer_regular(wendy, job, count=2)]
    # What older code did when the rule blocked her again with the review pending: the second
    # block dropped these, and approving the first review withdrew them in the first block's name.
    Judgment.objects.filter(pk__in=later).update(status=JudgmentStatus.DROPPED)
    reversals.worker_job_pay_reverse(job_id=job.pk, worker_id=wendy.pk, block_event_id=review.block_event_id)

    flagged = {int(v.split()[1]) for v in ledger_audit().violations
               if f"block (event {review.block_event_id}), which had ended" in v}
    assert flagged == set(Earning.objects.filter(judgment_id__in=later).values_list("pk", flat=True)) != set()
