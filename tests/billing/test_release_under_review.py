"""The release schedule never releases pay whose withdrawal an admin is still reviewing.

Wendy misses three gold answers in Acme's open job and the gold rule blocks her; all her pay there
is still pending, so the withdrawal is over the cap and waits for Ada, an admin. Walter labels
beside her. A week passes before Ada looks, and the release runs: Walter's pay becomes available
as usual, Wendy's dropped answers' pay stays pending (it is not hers until Ada decides). Ada's
"withdraw" then takes it exactly once; her "leave it" has the next release make it available.
Amounts are recomputed from the job's pay per judgment × the answers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Sum

from marketplace import flows, flows_appeals
from marketplace.accounts.models import User
from marketplace.billing import holding, ledger, payouts
from marketplace.billing.posting import job_pay_post
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import AccountKind, Earning, LedgerTransaction, TransactionKind
from marketplace.jobs.models import Job
from marketplace.labeling.models import JudgmentStatus
from marketplace.quality import appeals
from marketplace.quality.models import WithdrawalReview
from tests.billing.review_helpers import (
    RULES, ZERO, balance, blocked_under_review, past_the_hold, pay_of, rule_blocks,
)
from tests.conftest import needs_postgres
from tests.quality.worker_helpers import answer_regular, gold_job
from tests.threads import WAIT, hold_thread_in, someone_waits_for_a_lock, thread_recording, until


def _withdrawn_from(worker: User) -> Decimal:
    rows = LedgerTransaction.objects.filter(kind=TransactionKind.JUDGMENT_PAY_REVERSE, worker_id=worker.pk)
    return sum((tx.entries.filter(amount__gt=0).aggregate(s=Sum("amount"))["s"] for tx in rows), ZERO)


def _blocked_under_review(wendy: User, walter: User, *, posted: bool = True) -> tuple[Job, WithdrawalReview, Decimal]:
    job, review, dropped = blocked_under_review(wendy, walter, posted=posted)
    assert dropped > 0 and review.amount == dropped
    return job, review, dropped


def _under_review(job: Job, wendy: User) -> set[str]:
    rows = Earning.objects.filter(job=job, worker=wendy, judgment__status=JudgmentStatus.DROPPED)
    return set(rows.values_list("status", flat=True))


@pytest.mark.django_db
@pytest.mark.parametrize("posted", [False, True], ids=["owed", "posted"])
def test_the_release_past_the_hold_leaves_pay_under_review_pending(wendy: User, walter: User, posted: bool) -> None:
    job, _, dropped = _blocked_under_review(wendy, walter, posted=posted)

    payouts.earnings_release(now=past_the_hold())

    assert balance(walter, AccountKind.WORKER_AVAILABLE) == pay_of(job, walter, JudgmentStatus.ACCEPTED)
    assert balance(wendy, AccountKind.WORKER_AVAILABLE) == ZERO
    assert balance(wendy, AccountKind.WORKER_PENDING) == dropped  # posted, never released
    assert _under_review(job, wendy) == {Earning.Status.PENDING}
    assert ledger_audit().ok, ledger_audit().violations


@pytest.mark.django_db
def test_an_admin_who_withdraws_after_the_hold_withdraws_the_pay_exactly_once(
    wendy: User, walter: User, ada: User
) -> None:
    job, review, dropped = _blocked_under_review(wendy, walter)
    payouts.earnings_release(now=past_the_hold())

    _, decided = flows_appeals.withdrawal_review_decide(review_id=review.pk, actor=ada, approve=True, note="Spam.")
    payouts.earnings_release(now=past_the_hold())  # the next run finds nothing of Wendy's

    assert decided.withdrawn == dropped and decided.kept == ZERO
    assert _withdrawn_from(wendy) == dropped
    assert balance(wendy, AccountKind.WORKER_PENDING) == ZERO
    assert balance(wendy, AccountKind.WORKER_AVAILABLE) == ZERO
    assert _under_review(job, wendy) == {Earning.Status.REVERSED}
    assert ledger_audit().ok, ledger_audit().violations


@pytest.mark.django_db
def test_an_admin_who_leaves_the_pay_after_the_hold_has_the_next_release_make_it_available(
    wendy: User, walter: User, ada: User
) -> None:
    job, review, dropped = _blocked_under_review(wendy, walter)
    payouts.earnings_release(now=past_the_hold())

    _, decided = flows_appeals.withdrawal_review_decide(review_id=review.pk, actor=ada, approve=False, note="Fine.")
    payouts.earnings_release(now=past_the_hold())

    assert decided.kept == dropped and decided.withdrawn == ZERO
    assert _withdrawn_from(wendy) == ZERO
    assert balance(wendy, AccountKind.WORKER_AVAILABLE) == dropped
    assert _under_review(job, wendy) == {Earning.Status.AVAILABLE}
    assert ledger_audit().ok, ledger_audit().violations


@pytest.mark.django_db
def test_the_release_holds_the_reviewed_blocks_pay_and_releases_another_blocks_on_time(
    wendy: User, walter: User, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ada lifts Wendy's first block with its review pending; the rule blocks her again under the
    old code, which left a second block's pay to the pair's pending review (one per worker and
    job). Ada's decision moves the first block's pay only, so the second block's, under no
    review, goes past the hold with everyone's: holding it would only delay it."""
    job = gold_job(items=60, gold=60, gold_rate="0.3", overlap=1, quality_rules=RULES)
    rule_blocks(wendy, job, answers=3)
    first_pay = pay_of(job, wendy, JudgmentStatus.DROPPED)
    review = WithdrawalReview.objects.get(job=job, worker=wendy, status=WithdrawalReview.Status.PENDING)
    flows.worker_unblock(job=job, worker=wendy, reason="Looking at this later.", actor=ada)
    pending = appeals.withdrawal_review_pending
    with monkeypatch.context() as old_code:
        old_code.setattr(appeals, "withdrawal_review_pending", lambda **kw: pending(
            job_id=kw["job_id"], worker_id=kw["worker_id"], block_event_id=None))
        rule_blocks(wendy, job, answers=6)
    # n × pay rounded over both blocks' answers, less the first block's: the second block's pay.
    second_pay = pay_of(job, wendy, JudgmentStatus.DROPPED) - first_pay
    assert second_pay > 0
    assert list(WithdrawalReview.objects.filter(status=WithdrawalReview.Status.PENDING)) == [review]
    answer_regular(walter, job, count=2)
    job_pay_post(job_id=job.pk, everything=True)

    payouts.earnings_release(now=past_the_hold())

    assert balance(wendy, AccountKind.WORKER_AVAILABLE) == second_pay
    assert balance(wendy, AccountKind.WORKER_PENDING) == first_pay  # the first block's, under review
    assert balance(walter, AccountKind.WORKER_AVAILABLE) == pay_of(job, walter, JudgmentStatus.ACCEPTED)
    _, decided = flows_appeals.withdrawal_review_decide(review_id=review.pk, actor=ada, approve=True, note="Spam.")
    assert decided.withdrawn == first_pay
    assert _withdrawn_from(wendy) == first_pay
    assert balance(wendy, AccountKind.WORKER_PENDING) == ZERO
    assert balance(wendy, AccountKind.WORKER_AVAILABLE) == second_pay


def _decide(review: WithdrawalReview, ada: User, withdraw: bool) -> Any:
    return flows_appeals.withdrawal_review_decide(review_id=review.pk, actor=ada, approve=withdraw, note="Decided.")


def _consistent(job: Job, wendy: User, walter: User, *, withdraw: bool, dropped: Decimal) -> None:
    """After any interleaving (and one more release): the decision's money, moved once."""
    payouts.earnings_release(now=past_the_hold())
    assert balance(walter, AccountKind.WORKER_AVAILABLE) == pay_of(job, walter, JudgmentStatus.ACCEPTED)
    assert balance(wendy, AccountKind.WORKER_PENDING) == ZERO
    assert balance(wendy, AccountKind.WORKER_AVAILABLE) == (ZERO if withdraw else dropped)
    assert _withdrawn_from(wendy) == (dropped if withdraw else ZERO)
    assert _under_review(job, wendy) == {Earning.Status.REVERSED if withdraw else Earning.Status.AVAILABLE}
    assert WithdrawalReview.objects.get(job=job, worker=wendy).status != WithdrawalReview.Status.PENDING
    assert ledger_audit().ok, ledger_audit().violations


@needs_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("withdraw", [True, False], ids=["withdraw", "keep"])
def test_an_admins_decision_while_the_release_holds_its_earnings_goes_through_and_moves_the_pay_once(
    wendy: User, walter: User, ada: User, monkeypatch: Any, withdraw: bool
) -> None:
    job, review, dropped = _blocked_under_review(wendy, walter)
    # The release stops once it holds the earnings it releases, before it locks any account.
    held, go = hold_thread_in(monkeypatch, ledger, "worker_accounts", thread="release")
    outcomes: dict[str, Any] = {}
    release = thread_recording(outcomes, "release", lambda: payouts.earnings_release(now=past_the_hold()))
    decide = thread_recording(outcomes, "decide", lambda: _decide(review, ada, withdraw))
    release.start()
    try:
        assert held.wait(WAIT), "the release never took its earnings"
        decide.start()
        # The release holds none of the pay under review, so Ada's decision never queues behind it.
        until(lambda: not decide.is_alive() or someone_waits_for_a_lock(), "the decision to end or wait")
        waited = decide.is_alive()
    finally:
        go.set()
        release.join(WAIT)
        decide.join(WAIT)

    assert not isinstance(outcomes["release"], BaseException), outcomes["release"]
    assert not isinstance(outcomes["decide"], BaseException), outcomes["decide"]
    assert not waited, "the decision waited for the release"
    _consistent(job, wendy, walter, withdraw=withdraw, dropped=dropped)


@needs_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("withdraw", [True, False], ids=["withdraw", "keep"])
def test_a_release_while_an_admin_decides_skips_the_pay_under_review_and_moves_it_once(
    wendy: User, walter: User, ada: User, monkeypatch: Any, withdraw: bool
) -> None:
    job, review, dropped = _blocked_under_review(wendy, walter)
    # Ada's decision stops once it has moved the pay, holding the review, budget and earnings.
    held, go = hold_thread_in(monkeypatch, holding, "held_withdrawal_decide", thread="decide", after=True)
    outcomes: dict[str, Any] = {}
    decide = thread_recording(outcomes, "decide", lambda: _decide(review, ada, withdraw))
    release = thread_recording(outcomes, "release", lambda: payouts.earnings_release(now=past_the_hold()))
    decide.start()
    try:
        assert held.wait(WAIT), "the decision never took its locks"
        release.start()
        release.join(WAIT)  # SKIP LOCKED: it never waits for Ada's rows
        finished = not release.is_alive()
    finally:
        go.set()
        decide.join(WAIT)
        release.join(WAIT)

    assert finished, "the release waited for the decision"
    assert not isinstance(outcomes["release"], BaseException), outcomes["release"]
    assert not isinstance(outcomes["decide"], BaseException), outcomes["decide"]
    _consistent(job, wendy, walter, withdraw=withdraw, dropped=dropped)
