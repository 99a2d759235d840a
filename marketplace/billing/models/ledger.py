"""The double-entry ledger: accounts, balanced transactions and their entries (see the package docstring)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from marketplace.accounts.models import Organization
from marketplace.billing.models.tiers import MONEY
from marketplace.jobs.models import Job
from marketplace.labeling.models import Judgment


class AccountKind(models.TextChoices):
    WORLD = "world", "World (outside Quorum)"
    CLIENT_BALANCE = "client_balance", "Client balance"
    CLIENT_ESCROW = "client_escrow", "Client escrow (one job)"
    WORKER_PENDING = "worker_pending", "Worker earnings pending"
    WORKER_AVAILABLE = "worker_available", "Worker earnings available"
    PLATFORM_REVENUE = "platform_revenue", "Platform revenue"
    PAYOUTS_IN_FLIGHT = "payouts_in_flight", "Payouts in flight"
    PAYOUTS_PAID = "payouts_paid", "Payouts paid"


MAY_GO_NEGATIVE = (AccountKind.WORLD, AccountKind.PLATFORM_REVENUE)
SINGLETON_KINDS = (
    AccountKind.WORLD,
    AccountKind.PLATFORM_REVENUE,
    AccountKind.PAYOUTS_IN_FLIGHT,
    AccountKind.PAYOUTS_PAID,
)
WORKER_KINDS = (AccountKind.WORKER_PENDING, AccountKind.WORKER_AVAILABLE)


class LedgerAccount(models.Model):
    """One account per kind and owner (an organization, a job, a worker, or nobody)."""

    kind = models.CharField(max_length=20, choices=AccountKind.choices)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    balance = models.DecimalField(**MONEY, default=Decimal("0.00"))  # cache of Σ entries
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=MAY_GO_NEGATIVE) | Q(balance__gte=0),
                name="ledger_account_not_negative",
            ),
            # The owner column that matches the kind is set, and no other.
            models.CheckConstraint(
                condition=(
                    Q(
                        kind__in=SINGLETON_KINDS,
                        organization__isnull=True,
                        job__isnull=True,
                        worker__isnull=True,
                    )
                    | Q(
                        kind=AccountKind.CLIENT_BALANCE,
                        organization__isnull=False,
                        job__isnull=True,
                        worker__isnull=True,
                    )
                    | Q(
                        kind=AccountKind.CLIENT_ESCROW,
                        organization__isnull=False,
                        job__isnull=False,
                        worker__isnull=True,
                    )
                    | Q(
                        kind__in=WORKER_KINDS,
                        organization__isnull=True,
                        job__isnull=True,
                        worker__isnull=False,
                    )
                ),
                name="ledger_account_owner_matches_kind",
            ),
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(kind__in=SINGLETON_KINDS),
                name="ledger_account_one_singleton",
            ),
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(kind=AccountKind.CLIENT_BALANCE),
                name="ledger_account_one_balance_per_org",
            ),
            models.UniqueConstraint(
                fields=["job"],
                condition=Q(kind=AccountKind.CLIENT_ESCROW),
                name="ledger_account_one_escrow_per_job",
            ),
            models.UniqueConstraint(
                fields=["kind", "worker"],
                condition=Q(kind__in=WORKER_KINDS),
                name="ledger_account_one_per_worker_kind",
            ),
        ]

    def __str__(self) -> str:
        owner = self.organization_id or self.job_id or self.worker_id
        return f"{self.kind}:{owner}" if owner else self.kind


class TransactionKind(models.TextChoices):
    TOPUP = "topup", "Top-up"
    ESCROW_OPEN = "escrow_open", "Escrow for the job's items"  # at publish, and for items imported later
    ESCROW_ADD = "escrow_add", "Escrow added to a published job"
    JUDGMENT_PAY = "judgment_pay", "Judgment paid"
    JUDGMENT_PAY_REVERSE = "judgment_pay_reverse", "Dropped judgment's pay withdrawn"
    JUDGMENT_PAY_RESTORE = "judgment_pay_restore", "Withdrawn pay restored by an upheld appeal"
    ESCROW_COVER = "escrow_cover", "Quorum covered pay the escrow could not"
    # billing_held_repair: held pay a settlement paid before settlements held it, taken back from
    # the worker's pending account to Quorum (which the escrow's settlement would have paid).
    HELD_PAY_RECLAIM = "held_pay_reclaim", "Held pay a settlement paid taken back for review"
    EXPERT_PAY = "expert_pay", "Expert review paid from the client's escrow"
    EXPERT_PAY_QUORUM = "expert_pay_quorum", "Expert review paid by Quorum"
    JOB_SETTLE = "job_settle", "Job settled"
    EARNINGS_RELEASE = "earnings_release", "Earnings released"
    PAYOUT_REQUEST = "payout_request", "Payout requested"
    PAYOUT_REJECT = "payout_reject", "Payout batch rejected"
    PAYOUT_PAID = "payout_paid", "Payout batch paid"


class LedgerTransaction(models.Model):
    """One balanced money movement. Related ids are plain references (no cascade, no lock)."""

    kind = models.CharField(max_length=24, choices=TransactionKind.choices)
    reference = models.CharField(max_length=120, unique=True)  # idempotency key, "judgment:123:pay"
    memo = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    job = models.ForeignKey(
        Job,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    judgment = models.ForeignKey(
        Judgment,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor = models.ForeignKey(  # the admin who recorded it, when one did
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )

    class Meta:
        indexes = [
            models.Index(fields=["job", "kind"], name="ledger_tx_job_kind"),
            models.Index(
                fields=["judgment"], name="ledger_tx_judgment", condition=Q(judgment__isnull=False)
            ),
        ]


class ClosedTransaction(Exception):
    """A programming error: entries written to a transaction already posted, or edited."""


class LedgerEntryQuerySet(models.QuerySet["LedgerEntry"]):
    def bulk_create(self, objs: Iterable[LedgerEntry], *args: Any, **kwargs: Any) -> list[LedgerEntry]:
        objs = list(objs)
        _refuse_posted({entry.transaction_id for entry in objs})
        return super().bulk_create(objs, *args, **kwargs)


def _refuse_posted(transaction_ids: set[int]) -> None:
    """A transaction's entries are written once, together, by the call that creates it
    (ledger.post); so a transaction that has entries is posted, and takes no more."""
    posted = LedgerEntry.objects.filter(transaction_id__in=transaction_ids).values_list(
        "transaction_id", flat=True
    ).first()
    if posted is not None:
        raise ClosedTransaction(f"ledger transaction {posted} is posted: it takes no new entries")


class LedgerEntry(models.Model):
    """Append-only: written with its transaction's other entries and never changed. On
    PostgreSQL triggers refuse an update or delete, and an entry for a committed transaction."""

    objects = LedgerEntryQuerySet.as_manager()

    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="entries"
    )
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="entries")
    amount = models.DecimalField(**MONEY)  # signed: + into the account, − out of it

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_not_zero")]
        indexes = [models.Index(fields=["account", "transaction"], name="ledger_entry_account")]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ClosedTransaction(f"ledger entry {self.pk} is append-only: it cannot change")
        _refuse_posted({self.transaction_id})
        super().save(*args, **kwargs)
