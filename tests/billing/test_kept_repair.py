"""billing_kept_repair: approved withdrawal reviews whose pay the worker kept (the audit names
them: tests/billing/test_audit_withdrawals.py) have their pay put where the approval says.

Wendy misses three gold answers in Acme's job and the gold rule blocks her; all her pay there is
still pending, so the withdrawal waits for Ada, an admin. Walter labels beside her. Under the old
code the release did not wait for the review and moved Wendy's pay past the hold, and Ada's
approval then found it released and left it, recording nothing: Wendy kept pay the review says
was withdrawn. Or the job settled and the old approval marked her pending pay kept and moved
nothing. Amounts are recomputed as the job's pay × Wendy's dropped answers.
"""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Q

from marketplace import flows_appeals
from marketplace.accounts.models import User
from marketplace.billing import holding, payouts, posting
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import AccountKind, Earning, LedgerAccount
from marketplace.billing.services import DROPPED_JUDGMENT_PAY_POLICY
from marketplace.jobs.models import Item, Job, JobStatus
from marketplace.labeling.models import JudgmentStatus
from marketplace.quality import appeals
from marketplace.quality.models import WithdrawalReview
from tests.billing.review_helpers import (
    ZERO, balance, blocked_under_review, past_the_hold, pay_of, released_then_approved,
)
from tests.quality.worker_helpers import answer_regular

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command("billing_kept_repair", *args, stdout=out)
    return out.getvalue()


def _revenue() -> Decimal:
    account = LedgerAccount.objects.filter(kind=AccountKind.PLATFORM_REVENUE).first()
    return account.balance if account else ZERO


def _finishes(walter: User, job: Job) -> None:
    """Walter labels every item still open (overlap 1: one answer each); the job completes and settles."""
    answer_regular(walter, job, count=Item.objects.filter(job=job, is_gold=False, is_complete=False).count())


def test_a_dry_run_lists_the_review_and_changes_nothing(
    wendy: User, walter: User, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job, review, dropped = released_then_approved(wendy, walter, ada, monkeypatch)

    out = _run()

    assert f"review {review.pk} (job {job.pk}, worker {wendy.pk}): {dropped} released, left with the worker" in out
    assert "dry run" in out
    assert WithdrawalReview.objects.get(pk=review.pk).left_with_worker is None
    assert not ledger_audit().ok


def test_applied_it_leaves_released_pay_with_the_worker_and_records_it_on_the_review(
    wendy: User, walter: User, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job, review, dropped = released_then_approved(wendy, walter, ada, monkeypatch)
    revenue = _revenue()

    _run("--apply")

    assert "never clawed back" in DROPPED_JUDGMENT_PAY_POLICY  # what the worker was promised
    assert balance(wendy, AccountKind.WORKER_AVAILABLE) == dropped and _revenue() == revenue
    assert WithdrawalReview.objects.get(pk=review.pk).left_with_worker == dropped
    assert ledger_audit().ok, ledger_audit().violations
    assert "0 approved review(s) repaired" in _run("--apply")  # idempotent


def test_an_old_approval_on_a_settled_job_has_its_pending_pay_withdrawn_to_quorum(
    wendy: User, walter: User, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the held status, the settlement paid Wendy's dropped work and Ada's approval on the
    settled job marked the pay kept and moved nothing: still pending, the repair withdraws it as
    today's settlement and approval would have, to Quorum."""
    job, review, dropped = blocked_under_review(wendy, walter)
    with monkeypatch.context() as old_code:
        old_code.setattr(posting, "earnings_hold", lambda **_: ZERO)
        _finishes(walter, job)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    Earning.objects.filter(job=job, worker=wendy, judgment__status=JudgmentStatus.DROPPED).update(kept_after_drop=True)
    appeals.withdrawal_review_close(review=review, actor=ada, approved=True, note="Spam.")
    assert any(f"pending though withdrawal review {review.pk} was approved" in v for v in ledger_audit().violations)
    assert balance(wendy, AccountKind.WORKER_PENDING) == dropped
    revenue = _revenue()

    out = _run("--apply")

    assert f"review {review.pk} (job {job.pk}, worker {wendy.pk}): {dropped} still pending withdrawn to Quorum" in out
    assert balance(wendy, AccountKind.WORKER_PENDING) == ZERO
    assert balance(wendy, AccountKind.WORKER_AVAILABLE) == ZERO
    assert _revenue() == revenue + dropped
    withdrawn = Earning.objects.filter(job=job, worker=wendy, status=Earning.Status.REVERSED,
                                       withdrawn_by_id=review.block_event_id)
    assert sum(withdrawn.values_list("amount", flat=True), ZERO) == dropped
    assert pay_of(job, walter, JudgmentStatus.ACCEPTED) == balance(walter, AccountKind.WORKER_PENDING)
    assert ledger_audit().ok, ledger_audit().violations


def test_today_an_approval_records_the_released_pay_it_leaves_and_the_audit_agrees(
    wendy: User, walter: User, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """billing_held_repair left Wendy's released pay with her (a settled job's old payment, listed);
    Ada then approves the withdrawal: the decision records what stays with Wendy, and says so."""
    job, review, dropped = blocked_under_review(wendy, walter)
    with monkeypatch.context() as old_code:
        old_code.setattr(holding, "under_review", lambda: Q(pk__in=[]))
        old_code.setattr(posting, "earnings_hold", lambda **_: ZERO)
        payouts.earnings_release(now=past_the_hold())
        _finishes(walter, job)
    call_command("billing_held_repair", "--apply", stdout=StringIO())
    assert ledger_audit().ok, ledger_audit().violations

    _, decided = flows_appeals.withdrawal_review_decide(review_id=review.pk, actor=ada, approve=True, note="Spam.")

    assert decided.released == dropped and decided.withdrawn == ZERO
    assert WithdrawalReview.objects.get(pk=review.pk).left_with_worker == dropped
    assert balance(wendy, AccountKind.WORKER_AVAILABLE) == dropped
    assert ledger_audit().ok, ledger_audit().violations
    assert "0 approved review(s)" in _run()
