"""Client money end to end at the service level: top-up, publish, pay, drop, settle, credit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from marketplace.accounts.models import Organization, User
from marketplace.billing.models import Earning, JobBudget, LedgerTransaction, Tier, TransactionKind
from marketplace.billing.audit import ledger_audit
from marketplace.billing.payouts import earnings_release
from marketplace.billing.posting import job_pay_post
from marketplace.billing.selectors import job_escrow, organization_balance, worker_money
from marketplace.billing.services import (
    DROPPED_JUDGMENT_PAY_POLICY,
    InsufficientFunds,
    job_escrow_open,
    job_quality_credit,
    job_settle,
    judgment_pay,
    topup_record,
)
from marketplace.billing.reversals import judgment_pay_reverse, worker_job_pay_reverse
from marketplace.errors import Conflict, PermissionDenied
from marketplace.jobs.models import Item, JobStatus
from marketplace.jobs.services import ItemRow, item_bulk_create, job_transition
from marketplace.labeling.models import Judgment
from marketplace.labeling.relabeling import judgments_drop
from tests.billing.helpers import D, fund, published, tier, work, work_all, work_through_flow
from tests.factories import WorkerFactory, open_job_with_items

pytestmark = pytest.mark.django_db


def test_an_admin_records_a_top_up_once_per_payment_reference(
    ada: User, acme: Organization
) -> None:
    fund(ada, acme, "50.00", ref="wire-1")
    fund(ada, acme, "50.00", ref="wire-1")  # the same wire recorded twice
    fund(ada, acme, "20.00", ref="wire-2")
    assert organization_balance(organization=acme) == D("70.00")


def test_a_client_cannot_record_a_top_up(alice: User, acme: Organization) -> None:
    with pytest.raises(PermissionDenied):
        topup_record(admin=alice, organization=acme, amount=D("5.00"), payment_reference="self")


def test_publishing_moves_regular_items_times_the_price_into_escrow_and_gold_is_free(
    ada: User, acme: Organization
) -> None:
    fund(ada, acme, "10.00")
    job = published(acme, items=40, gold=5)  # standard tier: 0.10 per item
    assert job_escrow(job_id=job.pk) == D("4.00")
    assert organization_balance(organization=acme) == D("6.00")


def test_publishing_without_enough_money_says_how_much_is_missing_and_moves_nothing(
    ada: User, acme: Organization
) -> None:
    fund(ada, acme, "2.50")
    job = open_job_with_items(organization=acme, items=40, publish=False)
    with pytest.raises(InsufficientFunds, match=r"1\.50 is missing") as refused:
        job_escrow_open(job=job)
    assert refused.value.details["missing"] == "1.50"
    assert organization_balance(organization=acme) == D("2.50")
    assert not JobBudget.objects.filter(job=job).exists()


def test_a_job_below_its_tiers_pay_cannot_be_published(ada: User, acme: Organization) -> None:
    fund(ada, acme, "100.00")
    job = open_job_with_items(
        organization=acme, items=3, tier="premium", publish=False
    )  # pays 0.02 < 0.04
    with pytest.raises(Exception, match="at least 0.0400"):
        job_escrow_open(job=job)


def test_a_job_on_a_tier_no_longer_offered_cannot_be_published_and_stays_a_draft(
    ada: User, acme: Organization, alice: User, client_for: Any
) -> None:
    fund(ada, acme, "100.00")
    Tier.objects.filter(slug="premium").update(is_active=False)
    job = open_job_with_items(organization=acme, items=3, tier="premium", reward_per_judgment=D("0.04"),
                              publish=False)

    refused = client_for(alice).post(f"/api/v1/jobs/{job.pk}/publish/")

    assert refused.status_code == 400 and "no longer offered" in refused.json()["error"]["message"]
    job.refresh_from_db()
    assert job.status == JobStatus.DRAFT and not JobBudget.objects.filter(job=job).exists()
    assert organization_balance(organization=acme) == D("100.00")


def test_a_job_priced_at_a_sub_cent_pay_holds_enough_for_every_workers_rounded_pay(
    ada: User, acme: Organization
) -> None:
    # The hold counts each judgment at its pay rounded up to the cent (0.0125 → 0.02): 10 items
    # hold 0.20, more than three workers doing 4, 3 and 3 judgments are owed after the remainder
    # rule's rounding (0.05 + 0.04 + 0.04 = 0.13), whoever does how many.
    tier("exact", price="0.0125", pay="0.0125", overlap=1)
    fund(ada, acme, "1.00")
    job = published(acme, items=10, tier="exact", overlap=1, reward_per_judgment=D("0.0125"))
    assert job_escrow(job_id=job.pk) == D("0.20")

    workers = [WorkerFactory() for _ in range(3)]
    paid = [work(workers[n % 3], job) for n in range(10)]

    assert all(earning is not None for earning in paid)
    assert [worker_money(worker=w).pending for w in workers] == [D("0.05"), D("0.04"), D("0.04")]
    assert job_escrow(job_id=job.pk) == D("0.07")


def test_items_imported_into_an_open_job_are_escrowed_on_the_next_call(
    ada: User, acme: Organization
) -> None:
    fund(ada, acme, "10.00")
    job = published(acme, items=10)
    item_bulk_create(job=job, rows=[ItemRow(data={"text": "late"}, external_id="late")], gold=False)
    job_escrow_open(job=job)
    job_escrow_open(job=job)  # nothing new: nothing moves
    assert job_escrow(job_id=job.pk) == D("1.10")
    assert JobBudget.objects.get(job=job).items == 11


def test_each_accepted_judgment_pays_the_worker_once_even_when_retried(
    ada: User, acme: Organization, wendy: User
) -> None:
    fund(ada, acme, "10.00")
    job = published(acme, items=5)
    earning = work(wendy, job)
    assert earning is not None and earning.amount == D("0.02")
    judgment = Judgment.objects.get(pk=earning.judgment_id)
    assert judgment_pay(judgment=judgment).pk == earning.pk  # a retried submit
    assert Earning.objects.filter(judgment=judgment).count() == 1
    assert worker_money(worker=wendy).pending == D("0.02")
    assert job_escrow(job_id=job.pk) == D("0.48")
    job_pay_post(job_id=job.pk)  # posted once, and a second posting finds nothing left
    assert job_pay_post(job_id=job.pk).earnings == 0
    pays = LedgerTransaction.objects.filter(kind=TransactionKind.JUDGMENT_PAY, worker_id=wendy.pk)
    assert [p.pk for p in pays] == [Earning.objects.get(judgment=judgment).pay_transaction_id]
    assert worker_money(worker=wendy).pending == D("0.02")
    assert job_escrow(job_id=job.pk) == D("0.48")


def test_gold_judgments_are_paid_like_any_other(ada: User, acme: Organization, wendy: User) -> None:
    fund(ada, acme, "10.00")
    job = published(acme, items=2, gold=1)
    gold_item = Item.objects.get(job=job, is_gold=True)
    # The worker cannot tell gold apart, so it is paid: made directly, as the gold draw is random.
    gold = Judgment.objects.create(job=job, item=gold_item, worker=wendy, label="dog", is_gold=True)
    assert judgment_pay(judgment=gold).amount == D("0.02")
    assert worker_money(worker=wendy).pending == D("0.02")


def test_a_job_priced_under_its_own_pay_holds_that_pay_and_settles_at_a_loss_for_quorum(
    ada: User, acme: Organization
) -> None:
    fund(ada, acme, "10.00")
    tier("tight", price="0.1000", pay="0.0200", overlap=10)
    job = published(acme, items=1, overlap=10, tier="tight")  # 10 judgments of 0.02: 0.20 held
    assert job_escrow(job_id=job.pk) == D("0.20")

    paid = [work_through_flow(WorkerFactory(), job) for _ in range(10)]

    assert all(paid) and Judgment.objects.filter(job=job).count() == 10  # never paused
    budget = JobBudget.objects.get(job=job)
    assert budget.settled_at is not None  # the tenth judgment completed the job
    assert (budget.charged, budget.spent, budget.revenue) == (D("0.10"), D("0.20"), D("-0.10"))
    assert budget.refunded == D("0.10")
    assert ledger_audit().violations == []


def test_a_sub_cent_pay_carries_remainders_so_the_worker_gets_exactly_n_times_the_rate(
    ada: User, acme: Organization, wendy: User
) -> None:
    fund(ada, acme, "10.00")
    tier("penny", price="0.0500", pay="0.0125", overlap=1)
    job = published(acme, items=8, overlap=1, tier="penny", reward_per_judgment="0.0125")
    earnings = work_all(wendy, job)
    assert [e.amount for e in earnings] == [
        D(x) for x in ["0.01", "0.01", "0.02", "0.01", "0.01", "0.02", "0.01", "0.01"]
    ]
    assert worker_money(worker=wendy).pending == D("0.10")  # 8 × 0.0125


def test_a_blocked_workers_pending_pay_goes_back_to_the_escrow(
    ada: User, acme: Organization, wendy: User
) -> None:
    fund(ada, acme, "10.00")
    job = published(acme, items=4)
    work_all(wendy, job)
    judgments_drop(job_id=job.pk, worker_id=wendy.pk)
    reversed_ = worker_job_pay_reverse(job_id=job.pk, worker_id=wendy.pk, block_event_id=None)
    assert {e.status for e in reversed_} == {Earning.Status.REVERSED}
    assert worker_money(worker=wendy).pending == D("0.00")
    assert job_escrow(job_id=job.pk) == D("0.40")
    assert worker_job_pay_reverse(job_id=job.pk, worker_id=wendy.pk, block_event_id=None) == []  # idempotent


def test_pay_already_released_is_kept_by_the_worker_when_the_judgment_is_dropped(
    ada: User, acme: Organization, wendy: User
) -> None:
    fund(ada, acme, "10.00")
    job = published(acme, items=2)
    earning = work(wendy, job)
    assert earning is not None
    earnings_release(now=earning.created_at + timedelta(days=8))
    judgments_drop(job_id=job.pk, worker_id=wendy.pk)
    kept = judgment_pay_reverse(judgment=Judgment.objects.get(pk=earning.judgment_id))
    assert kept is not None and kept.kept_after_drop and kept.status == Earning.Status.AVAILABLE
    assert worker_money(worker=wendy).available == D("0.02")
    assert "never clawed back" in DROPPED_JUDGMENT_PAY_POLICY


def test_completing_a_job_charges_completed_items_pays_workers_and_returns_the_rest(
    ada: User, acme: Organization
) -> None:
    fund(ada, acme, "10.00")
    job = published(acme, items=4, gold=2, gold_rate="0.1")  # the standard tier's settings
    crowd = [WorkerFactory() for _ in range(3)]
    for worker in crowd:
        work_all(worker, job)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    budget = job_settle(job=job)
    assert budget is not None
    paid = sum(worker_money(worker=w).pending for w in crowd)
    assert budget.charged == D("0.40") == budget.gross  # 4 items × 0.10
    assert budget.spent == paid  # 12 regular judgments + the gold ones, 0.02 each
    assert budget.revenue == D("0.40") - paid
    assert job_escrow(job_id=job.pk) == D("0.00")
    assert organization_balance(organization=acme) == D("9.60")  # budget − charge came back


def test_settling_twice_charges_once(ada: User, acme: Organization, wendy: User) -> None:
    fund(ada, acme, "10.00")
    job = published(acme, items=3)
    work(wendy, job)
    job = job_transition(job=job, to=JobStatus.CANCELLED)
    first = job_settle(job=job)
    second = job_settle(job=job)
    assert first is not None and second is not None and first.settled_at == second.settled_at
    assert LedgerTransaction.objects.filter(reference=f"job:{job.pk}:settle").count() == 1
    # Cancelled before any item completed: nothing charged; the platform paid wendy's judgment.
    assert first.charged == D("0.00") and first.revenue == D("-0.02")
    assert organization_balance(organization=acme) == D("10.00")


def test_an_open_job_cannot_be_settled(ada: User, acme: Organization) -> None:
    fund(ada, acme, "10.00")
    job = published(acme, items=3)
    with pytest.raises(Conflict):
        job_settle(job=job)


def test_a_missed_quality_promise_credits_the_client_at_settlement(
    ada: User, acme: Organization
) -> None:
    fund(ada, acme, "100.00")
    job = published(acme, items=4)
    for worker in [WorkerFactory() for _ in range(3)]:
        work_all(worker, job)
    # Standard promises 0.90; an interval topping out at 0.88 proves two points short: 20% back.
    credit = job_quality_credit(
        job=job,
        delivered_accuracy=D("0.85"),
        interval=(D("0.80"), D("0.88")),
        method="accuracy on 50 held-back gold items, Wilson 95% interval",
    )
    assert credit.rate == D("0.2000")
    budget = job_settle(job=job)
    assert budget is not None
    assert (budget.gross, budget.credits, budget.charged) == (D("0.40"), D("0.08"), D("0.32"))
    with pytest.raises(Conflict):
        job_quality_credit(
            job=job, delivered_accuracy=D("0.5"), interval=(D("0.4"), D("0.6")), method="late"
        )
