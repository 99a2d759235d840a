"""A rule's withdrawal under review on an open job, for the release and audit tests: Wendy is
blocked by the gold rule with all her pay still pending (over the review cap), Walter labels
beside her. Amounts are recomputed from the job's pay per judgment × the answers."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from marketplace import flows_appeals
from marketplace.accounts.models import User
from marketplace.billing import holding, payouts
from marketplace.billing.models import AccountKind, LedgerAccount
from marketplace.billing.posting import job_pay_post
from marketplace.errors import NotQualified
from marketplace.jobs.models import Job, JobStatus
from marketplace.labeling.models import JobBlock, Judgment, JudgmentStatus
from marketplace.quality.appeals import block_event_latest
from marketplace.quality.models import QualityEvent, WithdrawalReview
from tests.quality.worker_helpers import answer_gold, answer_regular, gold_job

RULES = {"min_gold_answers": 3, "gold_accuracy_floor": "0.5", "gold_feedback": True}
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def pay_of(job: Job, worker: User, status: str) -> Decimal:
    """The remainder rule's total for the worker's judgments of that status: n × pay, rounded."""
    answers = Judgment.objects.filter(job=job, worker=worker, status=status).count()
    return (answers * job.reward_per_judgment).quantize(CENT)


def balance(worker: User, kind: str) -> Decimal:
    account = LedgerAccount.objects.filter(kind=kind, worker=worker).first()
    return account.balance if account else ZERO


def past_the_hold() -> datetime:
    return timezone.now() + timedelta(days=settings.QUORUM_EARNINGS_HOLD_DAYS, hours=1)


def blocked_under_review(wendy: User, walter: User, *, posted: bool = True, answers: int = 3,
                         released_first: bool = False) -> tuple[Job, WithdrawalReview, Decimal]:
    """Wendy answers `answers` items (her pay posted, or still owed; with `released_first`
    released past the hold too), the rule blocks her and her withdrawal waits for review; Walter
    answers two items, so the job stays open. Returns the job, the pending review and the pay of
    all Wendy's dropped judgments."""
    job = gold_job(items=8, gold=10, overlap=1, quality_rules=RULES)
    answer_regular(wendy, job, count=answers)
    if posted:
        job_pay_post(job_id=job.pk, everything=True)
    if released_first:
        payouts.earnings_release(now=past_the_hold())
    with contextlib.suppress(NotQualified):
        answer_gold(wendy, job, right=0, wrong=3)
    review = WithdrawalReview.objects.get(job=job, worker=wendy, status=WithdrawalReview.Status.PENDING)
    answer_regular(walter, job, count=2)
    if posted:
        job_pay_post(job_id=job.pk, everything=True)
    job.refresh_from_db()
    assert job.status == JobStatus.OPEN
    return job, review, pay_of(job, wendy, JudgmentStatus.DROPPED)


def rule_blocks(worker: User, job: Job, *, answers: int) -> QualityEvent:
    """The worker answers `answers` regular items (pay posted), then misses gold until the rule
    blocks them; the block's event."""
    answer_regular(worker, job, count=answers)
    job_pay_post(job_id=job.pk, everything=True)
    while not JobBlock.objects.filter(job=job, worker=worker).exists():
        with contextlib.suppress(NotQualified):
            answer_gold(worker, job, right=0, wrong=1)
    event = block_event_latest(job_id=job.pk, worker_id=worker.pk)
    assert event is not None and event.automatic
    return event


def released_then_approved(
    wendy: User, walter: User, ada: User, monkeypatch: pytest.MonkeyPatch
) -> tuple[Job, WithdrawalReview, Decimal]:
    """Pay released during a review and then approved on an open job, as older code left it: the
    release moves Wendy's pay under review past the hold (it did not wait for reviews), and Ada
    approves the withdrawal with the decision of that time, which recorded nothing of what Wendy
    kept. Returns the job, the review and her dropped answers' pay."""
    job, review, dropped = blocked_under_review(wendy, walter)
    with monkeypatch.context() as old_code:
        old_code.setattr(holding, "under_review", lambda: Q(pk__in=[]))  # the release held nothing back
        payouts.earnings_release(now=past_the_hold())
        old_code.setattr(holding, "_released_total", lambda **_: ZERO, raising=False)  # recorded nothing
        flows_appeals.withdrawal_review_decide(review_id=review.pk, actor=ada, approve=True, note="Spam.")
    job.refresh_from_db()
    assert job.status == JobStatus.OPEN
    assert dropped > 0 and balance(wendy, AccountKind.WORKER_AVAILABLE) == dropped  # she kept it all
    return job, review, dropped
