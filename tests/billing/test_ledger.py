"""Posting: balanced, idempotent by reference, never below zero where the kind forbids it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from marketplace.accounts.models import Organization, User
from marketplace.billing import ledger
from marketplace.billing.ledger import BalanceWouldGoNegative, LedgerError, Leg, account_get
from marketplace.billing.models import (
    AccountKind,
    ClosedTransaction,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
)
from tests.conftest import needs_postgres

D = Decimal


def _balance(account: LedgerAccount) -> Decimal:
    account.refresh_from_db()
    return account.balance


@pytest.fixture
def acme_balance(acme: Organization) -> LedgerAccount:
    return account_get(kind=AccountKind.CLIENT_BALANCE, organization_id=acme.pk)


def test_a_transfer_moves_money_and_its_entries_sum_to_zero(acme_balance: LedgerAccount) -> None:
    tx, created = ledger.transfer(
        kind="topup", reference="t1", source=ledger.world(), target=acme_balance, amount=D("25.00")
    )
    assert created
    assert sorted(e.amount for e in tx.entries.all()) == [D("-25.00"), D("25.00")]
    assert _balance(acme_balance) == D("25.00")
    assert _balance(ledger.world()) == D("-25.00")  # money entered Quorum from outside


def test_posting_the_same_reference_again_returns_the_first_transaction_and_moves_nothing(
    acme_balance: LedgerAccount,
) -> None:
    first, _ = ledger.transfer(
        kind="topup",
        reference="wire-9",
        source=ledger.world(),
        target=acme_balance,
        amount=D("10.00"),
    )
    again, created = ledger.transfer(
        kind="topup",
        reference="wire-9",
        source=ledger.world(),
        target=acme_balance,
        amount=D("10.00"),
    )
    assert again.pk == first.pk and not created
    assert _balance(acme_balance) == D("10.00")
    assert LedgerTransaction.objects.count() == 1


def test_an_unbalanced_posting_is_refused_and_writes_nothing(acme_balance: LedgerAccount) -> None:
    with pytest.raises(LedgerError):
        ledger.post(
            kind="topup",
            reference="bad",
            legs=[Leg(ledger.world(), D("-5.00")), Leg(acme_balance, D("4.99"))],
        )
    assert not LedgerTransaction.objects.exists() and _balance(acme_balance) == D("0.00")


def test_an_amount_with_fractions_of_a_cent_is_refused(acme_balance: LedgerAccount) -> None:
    with pytest.raises(LedgerError):
        ledger.transfer(
            kind="topup",
            reference="x",
            source=ledger.world(),
            target=acme_balance,
            amount=D("1.005"),
        )


def test_a_client_balance_never_goes_negative_but_world_and_revenue_may(
    acme_balance: LedgerAccount, globex: Organization
) -> None:
    globex_balance = account_get(kind=AccountKind.CLIENT_BALANCE, organization_id=globex.pk)
    with pytest.raises(BalanceWouldGoNegative):
        ledger.transfer(
            kind="topup",
            reference="overdraw",
            source=acme_balance,
            target=globex_balance,
            amount=D("0.01"),
        )
    revenue = account_get(kind=AccountKind.PLATFORM_REVENUE)
    ledger.transfer(
        kind="job_settle", reference="loss", source=revenue, target=acme_balance, amount=D("3.00")
    )
    assert _balance(revenue) == D("-3.00") and _balance(acme_balance) == D("3.00")


def test_the_database_refuses_a_negative_cached_balance_for_protected_kinds(
    acme_balance: LedgerAccount,
) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccount.objects.filter(pk=acme_balance.pk).update(balance=D("-1.00"))


def test_each_owner_has_one_account_per_kind(acme: Organization, wendy: User) -> None:
    first = account_get(kind=AccountKind.WORKER_PENDING, worker_id=wendy.pk)
    assert account_get(kind=AccountKind.WORKER_PENDING, worker_id=wendy.pk).pk == first.pk
    assert account_get(kind=AccountKind.WORKER_AVAILABLE, worker_id=wendy.pk).pk != first.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccount.objects.create(kind=AccountKind.WORKER_PENDING, worker=wendy)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerAccount.objects.create(kind=AccountKind.CLIENT_BALANCE, worker=wendy)  # wrong owner


@needs_postgres
def test_postgres_refuses_to_update_or_delete_a_ledger_entry(acme_balance: LedgerAccount) -> None:
    tx, _ = ledger.transfer(
        kind="topup", reference="t", source=ledger.world(), target=acme_balance, amount=D("1.00")
    )
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(transaction=tx).update(amount=D("2.00"))
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        LedgerTransaction.objects.filter(pk=tx.pk).update(memo="edited")


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_refuses_at_commit_a_transaction_whose_entries_do_not_balance(
    acme: Organization,
) -> None:
    account = account_get(kind=AccountKind.CLIENT_BALANCE, organization_id=acme.pk)
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        tx = LedgerTransaction.objects.create(kind="topup", reference="forged")
        LedgerEntry.objects.create(transaction=tx, account=account, amount=D("100.00"))
    assert not LedgerTransaction.objects.filter(reference="forged").exists()
    with connection.cursor() as cursor:  # the trigger is deferred: it ran at commit, not at insert
        cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname = 'billing_entries_balanced'")
        assert cursor.fetchone() == (1,)


def test_a_posted_transaction_takes_no_more_entries_through_the_orm(acme_balance: LedgerAccount) -> None:
    tx, _ = ledger.transfer(
        kind="topup", reference="t", source=ledger.world(), target=acme_balance, amount=D("1.00")
    )
    world = ledger.world()
    pair = [LedgerEntry(transaction=tx, account=world, amount=D("-5.00")),
            LedgerEntry(transaction=tx, account=acme_balance, amount=D("5.00"))]
    with pytest.raises(ClosedTransaction, match=f"transaction {tx.pk} is posted"):
        LedgerEntry.objects.bulk_create(pair)
    with pytest.raises(ClosedTransaction):
        LedgerEntry.objects.create(transaction=tx, account=world, amount=D("-5.00"))
    entry = tx.entries.first()
    assert entry is not None
    entry.amount = D("9.00")
    with pytest.raises(ClosedTransaction):
        entry.save()
    assert sorted(e.amount for e in tx.entries.all()) == [D("-1.00"), D("1.00")]


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_refuses_entries_added_to_a_committed_transaction(acme: Organization) -> None:
    balance = account_get(kind=AccountKind.CLIENT_BALANCE, organization_id=acme.pk)
    world = ledger.world()
    tx, _ = ledger.transfer(kind="topup", reference="t", source=world, target=balance, amount=D("1.00"))
    with pytest.raises(IntegrityError, match="committed"), transaction.atomic():
        with connection.cursor() as cursor:  # a balanced pair, past the ORM's guard
            cursor.execute(
                "INSERT INTO billing_ledgerentry (transaction_id, account_id, amount) "
                "VALUES (%s, %s, -5.00), (%s, %s, 5.00)", [tx.pk, world.pk, tx.pk, balance.pk]
            )
    assert tx.entries.count() == 2


def test_posting_only_new_references_refuses_one_already_posted_and_writes_none_of_the_batch(
    acme_balance: LedgerAccount, globex: Organization
) -> None:
    """post_new is for callers that then mark rows paid: money another run moved under one of
    the references must stop the whole batch, not be marked paid again beside the new ones."""
    globex_balance = account_get(kind=AccountKind.CLIENT_BALANCE, organization_id=globex.pk)
    world = ledger.world()
    ledger.transfer(kind="topup", reference="wire-1", source=world, target=acme_balance, amount=D("10.00"))
    batch = [
        ledger.Posting(kind="topup", reference="wire-2", legs=[Leg(world, D("-4.00")), Leg(globex_balance, D("4.00"))]),
        ledger.Posting(kind="topup", reference="wire-1", legs=[Leg(world, D("-10.00")), Leg(acme_balance, D("10.00"))]),
    ]
    with pytest.raises(LedgerError, match="wire-1 was already posted"):
        ledger.post_new(batch)
    assert list(LedgerTransaction.objects.values_list("reference", flat=True)) == ["wire-1"]
    assert (_balance(acme_balance), _balance(globex_balance), _balance(world)) == (D("10.00"), D("0.00"), D("-10.00"))


def test_posting_only_new_references_returns_each_new_transaction_in_order(acme_balance: LedgerAccount) -> None:
    world = ledger.world()
    batch = [
        ledger.Posting(kind="topup", reference=ref, legs=[Leg(world, -amount), Leg(acme_balance, amount)])
        for ref, amount in (("wire-3", D("1.50")), ("wire-4", D("2.25")))
    ]
    posted = ledger.post_new(batch)
    assert [tx.reference for tx in posted] == ["wire-3", "wire-4"]
    assert [tx.entries.get(account=acme_balance).amount for tx in posted] == [D("1.50"), D("2.25")]
    assert _balance(acme_balance) == D("3.75")
