"""Releasing expert review pay after the hold: expert_pay.expert_earnings_release.

The cast: Acme (Alice) asks for expert reviews of a job's items, each holding 0.40 and paying
its expert 0.25. A crowd of new experts settles them: the first expert one review, the second
two, the third three, the fourth one again, and so on. What each expert has available after the
release is worked out by hand from that, never read back from the release's own answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from marketplace import flows_experts
from marketplace.accounts.models import Organization, User
from marketplace.billing import expert_pay, ledger
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import AccountKind, ExpertEarning, LedgerAccount, LedgerTransaction, TransactionKind
from marketplace.quality import experts
from marketplace.quality.models import ExpertReview
from tests.billing.helpers import D, fund, published, tier
from tests.factories import WorkerFactory, grant

pytestmark = pytest.mark.django_db

PAY = D("0.25")


@pytest.fixture(autouse=True)
def _terms(settings: Any, ada: User, acme: Organization) -> None:
    settings.QUORUM_EXPERT_REVIEW_PRICE = "0.40"
    settings.QUORUM_EXPERT_REVIEW_PAY = str(PAY)
    fund(ada, acme, "100.00")
    tier("exact", price="0.50", pay="0.10", overlap=1)


def _reviews_settled(acme: Organization, alice: User, *, crowd: int) -> dict[User, int]:
    """`crowd` new experts settle 1, 2, 3, 1, 2, 3... of the reviews Alice asked for (each paid
    0.25 from the job's escrow into the expert's pending account); how many each settled."""
    settled = {expert: i % 3 + 1 for i, expert in enumerate(WorkerFactory.create_batch(crowd))}
    job = published(acme, items=sum(settled.values()), tier="exact", overlap=1, reward_per_judgment=D("0.10"))
    items = list(job.items.values_list("pk", flat=True))
    flows_experts.expert_reviews_ask(job=job, user=alice, item_ids=items, key=f"ask-{crowd}")
    reviews = iter(ExpertReview.objects.filter(job=job).order_by("pk"))
    for expert, count in settled.items():
        grant(expert, experts.expert_qualification())
        for _ in range(count):
            flows_experts.expert_review_settle(expert=expert, review_id=next(reviews).pk, label="cat")
    return settled


def _statements_to_release(cutoff: datetime) -> int:
    with CaptureQueriesContext(connection) as queries:
        expert_pay.expert_earnings_release(cutoff=cutoff, limit=10_000)
    return len(queries)


def _balance(kind: str, worker: User) -> D:
    account = LedgerAccount.objects.filter(kind=kind, worker=worker).first()
    return account.balance if account else D("0.00")


def test_releasing_thirty_experts_pay_takes_as_many_statements_as_three_and_frees_each_ones_own_pay(
    acme: Organization, alice: User
) -> None:
    past_the_hold = timezone.now() + timedelta(days=1)
    few = _reviews_settled(acme, alice, crowd=3)
    few_statements = _statements_to_release(past_the_hold)
    many = _reviews_settled(acme, alice, crowd=30)
    many_statements = _statements_to_release(past_the_hold)

    assert many_statements == few_statements  # a statement or more per expert would show here
    for expert, reviews in {**few, **many}.items():
        assert _balance(AccountKind.WORKER_AVAILABLE, expert) == reviews * PAY, expert.username
        assert _balance(AccountKind.WORKER_PENDING, expert) == D("0.00"), expert.username
    assert not ExpertEarning.objects.exclude(status=ExpertEarning.Status.AVAILABLE).exists()
    # Each earning names the release that moved its own expert's money, one release per expert.
    assert not ExpertEarning.objects.exclude(settled_transaction__worker_id=F("worker_id")).exists()
    releases = LedgerTransaction.objects.filter(kind=TransactionKind.EARNINGS_RELEASE)
    assert releases.count() == 33
    third = list(few)[2]  # settled three reviews
    first, *_, last = ExpertEarning.objects.filter(worker=third).order_by("pk")
    release = releases.get(worker=third)
    assert release.reference == f"release:expert:{third.pk}:{first.pk}:{last.pk}"
    assert release.memo == "3 expert review pay(s) past the hold period"
    assert ledger_audit().ok


def test_a_release_whose_reference_was_already_posted_is_refused_and_marks_no_earning_available(
    acme: Organization, alice: User
) -> None:
    [(expert, _)] = _reviews_settled(acme, alice, crowd=1).items()
    earning = ExpertEarning.objects.get(worker=expert)
    pending = ledger.account_get(kind=AccountKind.WORKER_PENDING, worker_id=expert.pk)
    available = ledger.account_get(kind=AccountKind.WORKER_AVAILABLE, worker_id=expert.pk)
    # Another run's money under this release's reference: the earning must not be marked for it.
    ledger.transfer(kind=TransactionKind.EARNINGS_RELEASE, reference=f"release:expert:{expert.pk}:{earning.pk}:{earning.pk}",
                    source=pending, target=available, amount=PAY)
    with pytest.raises(ledger.LedgerError, match="was already posted"):
        expert_pay.expert_earnings_release(cutoff=timezone.now() + timedelta(days=1), limit=10_000)
    earning.refresh_from_db()
    assert (earning.status, earning.settled_transaction_id) == (ExpertEarning.Status.PENDING, None)
    assert _balance(AccountKind.WORKER_AVAILABLE, expert) == PAY  # the earlier run's, once
