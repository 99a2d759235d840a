"""Worker money: the hold period, payout requests and admin-reviewed payout batches."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from marketplace.accounts.models import Organization, User
from marketplace.billing import posting
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import (
    AccountKind,
    Earning,
    LedgerAccount,
    LedgerTransaction,
    Payout,
    PayoutBatch,
)
from marketplace.billing.payouts import (
    earnings_release,
    payout_batch_approve,
    payout_batch_create,
    payout_batch_export_csv,
    payout_batch_mark_paid,
    payout_batch_reject,
    payout_request,
)
from marketplace.billing.selectors import payout_batch_rows, worker_money
from marketplace.billing.services import InsufficientFunds
from marketplace.errors import ApplicationError, Conflict, PermissionDenied
from marketplace.labeling.models import Judgment
from marketplace.quality.models import WorkerJobStats
from tests.billing.helpers import D, fund, published, tier, work, work_all
from tests.factories import WorkerFactory

pytestmark = pytest.mark.django_db


def test_earnings_stay_pending_for_the_hold_period_then_become_available(
    ada: User, acme: Organization, wendy: User
) -> None:
    fund(ada, acme, "10.00")
    work_all(wendy, published(acme, items=5))
    assert earnings_release(now=timezone.now() + timedelta(days=6)).earnings == 0
    released = earnings_release(now=timezone.now() + timedelta(days=7, minutes=1))
    assert (released.earnings, released.workers, released.amount) == (5, 1, D("0.10"))
    assert earnings_release(now=timezone.now() + timedelta(days=30)).earnings == 0  # idempotent
    money = worker_money(worker=wendy)
    assert (money.pending, money.available) == (D("0.00"), D("0.10"))


def test_a_payout_under_the_minimum_is_refused(wendy: User) -> None:
    with pytest.raises(ApplicationError, match="smallest payout is 10.00"):
        payout_request(worker=wendy, amount=D("9.99"))


@pytest.mark.usefixtures("earned")
def test_a_payout_beyond_the_available_earnings_says_how_much_is_missing(wendy: User) -> None:
    with pytest.raises(InsufficientFunds, match="0.05 more than that"):
        payout_request(worker=wendy, amount=D("0.25"))
    assert worker_money(worker=wendy).available == D("0.20")


@pytest.mark.usefixtures("earned")
def test_a_batch_is_reviewed_with_quality_beside_amounts_approved_exported_and_paid(
    ada: User, wendy: User, walter: User
) -> None:
    payout_request(worker=wendy, amount=D("0.20"))
    payout_request(worker=walter, amount=D("0.15"))
    job = Judgment.objects.filter(worker=wendy).first().job  # type: ignore[union-attr]
    WorkerJobStats.objects.create(job=job, worker=wendy, gold_seen=20, gold_correct=18)
    batch = payout_batch_create(admin=ada)
    assert batch.total == D("0.35")
    rows = {row.handle: row for row in payout_batch_rows(batch=batch)}
    assert rows["wendy"].gold_accuracy == D("0.9000") and rows["walter"].gold_accuracy is None

    payout_batch_approve(admin=ada, batch=batch)
    with pytest.raises(Conflict, match="^An approved payout batch cannot be approved"):
        payout_batch_approve(admin=ada, batch=batch)
    csv_text = payout_batch_export_csv(admin=ada, batch=batch)
    assert csv_text.endswith("\r\n") and "\n" not in csv_text.replace("\r\n", "")  # RFC 4180, as every CSV
    assert csv_text.splitlines() == [
        "payout_id,worker_id,handle,amount",
        f"{rows['wendy'].payout_id},{wendy.pk},wendy,0.20",
        f"{rows['walter'].payout_id},{walter.pk},walter,0.15",
    ]
    payout_batch_mark_paid(admin=ada, batch=batch)
    assert worker_money(worker=wendy).paid == D("0.20")
    assert worker_money(worker=walter).available == D("0.05")
    assert set(Payout.objects.values_list("status", flat=True)) == {Payout.Status.PAID}
    with pytest.raises(Conflict):
        payout_batch_reject(admin=ada, batch=batch)  # paid is final


@pytest.mark.usefixtures("earned")
def test_a_rejected_batch_returns_every_amount_to_its_worker(ada: User, wendy: User) -> None:
    payout_request(worker=wendy, amount=D("0.20"))
    assert worker_money(worker=wendy).available == D("0.00")
    batch = payout_batch_reject(admin=ada, batch=payout_batch_create(admin=ada))
    assert batch.status == PayoutBatch.Status.REJECTED
    assert worker_money(worker=wendy).available == D("0.20")
    with pytest.raises(ApplicationError, match="No payout requests"):
        payout_batch_create(admin=ada)  # the rejected request is not gathered again


@pytest.mark.usefixtures("earned")
def test_an_exported_batch_is_rejected_only_when_the_provider_paid_none_of_it(ada: User, wendy: User) -> None:
    """The payment file is with the provider: giving the amounts back now would let Wendy ask
    for them again while the provider pays the file, so she would be paid twice."""
    payout_request(worker=wendy, amount=D("0.20"))
    batch = payout_batch_create(admin=ada)
    payout_batch_approve(admin=ada, batch=batch)
    payout_batch_export_csv(admin=ada, batch=batch)
    with pytest.raises(Conflict, match="could pay its workers twice"):
        payout_batch_reject(admin=ada, batch=batch, reason="changed my mind")
    with pytest.raises(Conflict, match="with a reason"):
        payout_batch_reject(admin=ada, batch=batch, provider_declined=True)  # no reason
    money = worker_money(worker=wendy)
    assert (money.available, money.in_flight) == (D("0.00"), D("0.20"))  # still with the provider

    batch = payout_batch_reject(admin=ada, batch=batch, reason="provider bounced the file", provider_declined=True)
    assert batch.status == PayoutBatch.Status.REJECTED
    assert worker_money(worker=wendy).available == D("0.20")
    assert ledger_audit().ok


@pytest.mark.usefixtures("earned")
def test_only_admins_handle_batches_and_an_unapproved_batch_is_not_paid(
    ada: User, alice: User, wendy: User
) -> None:
    payout_request(worker=wendy, amount=D("0.20"))
    with pytest.raises(PermissionDenied):
        payout_batch_create(admin=alice)
    batch = payout_batch_create(admin=ada)
    with pytest.raises(Conflict):
        payout_batch_mark_paid(admin=ada, batch=batch)
    with pytest.raises(Conflict):
        payout_batch_export_csv(admin=ada, batch=batch)


def _books(*workers: User) -> tuple[Any, ...]:
    """What marking a batch paid would change: the workers' money, the ledger, every status."""
    return (
        [worker_money(worker=w) for w in workers],
        list(LedgerAccount.objects.order_by("id").values_list("id", "balance")),
        LedgerTransaction.objects.count(),
        list(PayoutBatch.objects.order_by("id").values_list("status", "exported_at", "paid_at")),
        list(Payout.objects.order_by("id").values_list("status", flat=True)),
    )


@pytest.mark.usefixtures("earned")
def test_an_approved_batch_is_marked_paid_only_once_its_file_went_to_the_provider(
    ada: User, wendy: User, walter: User
) -> None:
    """The provider pays the file it was sent: a batch never exported was carried by no file,
    so marking it paid would record money as paid that nobody paid."""
    payout_request(worker=wendy, amount=D("0.20"))
    payout_request(worker=walter, amount=D("0.15"))
    batch = payout_batch_approve(admin=ada, batch=payout_batch_create(admin=ada))
    before = _books(wendy, walter)

    with pytest.raises(Conflict, match=f"Export payout batch {batch.pk}'s payment file before marking it paid"):
        payout_batch_mark_paid(admin=ada, batch=batch)
    assert _books(wendy, walter) == before  # nothing moved, nothing changed status
    assert worker_money(worker=wendy).in_flight == D("0.20")

    payout_batch_export_csv(admin=ada, batch=batch)
    paid = payout_batch_mark_paid(admin=ada, batch=batch)
    assert paid.status == PayoutBatch.Status.PAID and paid.paid_at >= paid.exported_at  # type: ignore[operator]
    assert (worker_money(worker=wendy).paid, worker_money(worker=walter).paid) == (D("0.20"), D("0.15"))
    assert LedgerAccount.objects.get(kind=AccountKind.PAYOUTS_PAID).balance == D("0.35")
    assert ledger_audit().ok

    again = payout_batch_export_csv(admin=ada, batch=batch)  # the admin downloads the file once more
    assert again.count("\n") == 3  # the header and the same two payouts
    batch.refresh_from_db()
    assert batch.exported_at == paid.exported_at and batch.exported_at <= batch.paid_at  # the first export's


@pytest.mark.usefixtures("earned")
def test_a_retried_payout_request_with_the_same_key_pays_out_once(wendy: User, client_for: Any) -> None:
    api = client_for(wendy)
    first = api.post("/api/v1/me/payouts/", {"amount": "0.20"}, format="json", HTTP_IDEMPOTENCY_KEY="req-1")
    retry = api.post("/api/v1/me/payouts/", {"amount": "0.20"}, format="json", HTTP_IDEMPOTENCY_KEY="req-1")
    assert first.status_code == retry.status_code == 201
    assert first.json()["id"] == retry.json()["id"]
    assert Payout.objects.filter(worker=wendy).count() == 1
    assert worker_money(worker=wendy).available == D("0.00")  # 0.20 earned, 0.20 asked for once


@pytest.mark.usefixtures("earned")
def test_the_same_key_for_another_amount_is_refused_and_moves_nothing(wendy: User, client_for: Any) -> None:
    api = client_for(wendy)
    api.post("/api/v1/me/payouts/", {"amount": "0.10"}, format="json", HTTP_IDEMPOTENCY_KEY="req-2")
    again = api.post("/api/v1/me/payouts/", {"amount": "0.15"}, format="json", HTTP_IDEMPOTENCY_KEY="req-2")
    assert again.status_code == 409 and "0.10" in again.json()["error"]["message"]
    assert worker_money(worker=wendy).available == D("0.10")  # only the first 0.10 left


def _release_statements(ada: User, acme: Organization, workers: int) -> tuple[int, set[D], int]:
    """Release a week-old job where `workers` workers each earned two judgments' pay: the
    statements the release ran, what each worker then had available, the earnings released."""
    fund(ada, acme, "100.00")
    job = published(acme, items=2 * workers + 1, overlap=1)  # one item left: the job stays open
    crowd = WorkerFactory.create_batch(workers)
    for worker in crowd:
        work(worker, job)
        work(worker, job)
    posting.job_pay_post(job_id=job.pk)  # posted first, so the release alone is counted
    with CaptureQueriesContext(connection) as queries:
        released = earnings_release(now=timezone.now() + timedelta(days=8))
    return len(queries), {worker_money(worker=w).available for w in crowd}, released.earnings


def test_a_release_frees_a_crowds_pay_in_as_many_statements_as_two_workers(ada: User, acme: Organization) -> None:
    few, few_available, few_released = _release_statements(ada, acme, workers=2)
    many, many_available, many_released = _release_statements(ada, acme, workers=60)

    # By hand: 2 judgments x 0.02 each, all of it past the hold.
    assert few_available == many_available == {D("0.04")}
    assert (few_released, many_released) == (4, 120)
    assert many == few  # one statement or more per worker would show here
    assert not Earning.objects.filter(status=Earning.Status.PENDING).exists()
    # Each released earning names the transaction that moved its own worker's money.
    assert not Earning.objects.exclude(settled_transaction__worker_id=F("worker_id")).exists()
    assert ledger_audit().ok


def test_a_release_makes_a_workers_zero_pay_available_without_a_ledger_transaction(
    ada: User, acme: Organization, wendy: User, walter: User
) -> None:
    """At 0.004 per judgment a worker's first judgment earns 0.00 and their second 0.01 (pay is
    rounded on the running total). Wendy judges once, Walter twice."""
    fund(ada, acme, "10.00")
    tier("tiny", price="0.05", pay="0.004", overlap=1)
    job = published(acme, items=4, tier="tiny", overlap=1, reward_per_judgment=D("0.004"))
    work(wendy, job)
    work(walter, job)
    work(walter, job)
    posting.job_pay_post(job_id=job.pk)
    released = earnings_release(now=timezone.now() + timedelta(days=8))
    assert (released.earnings, released.workers, released.amount) == (3, 2, D("0.01"))
    assert worker_money(worker=wendy).available == D("0.00")
    assert worker_money(worker=walter).available == D("0.01")
    [wendys] = Earning.objects.filter(worker=wendy)
    assert (wendys.amount, wendys.status, wendys.settled_transaction_id) == (D("0.00"), Earning.Status.AVAILABLE, None)
    walters = Earning.objects.filter(worker=walter)
    assert {e.status for e in walters} == {Earning.Status.AVAILABLE}
    assert {e.settled_transaction.worker_id for e in walters} == {walter.pk}  # type: ignore[union-attr]
    assert ledger_audit().ok
