"""Billing: tiers, the double-entry ledger, job budgets, worker earnings and payouts.

The ledger
- Every money movement is one LedgerTransaction whose LedgerEntry amounts (signed, 2 places)
  sum to zero. Entries and transactions are append-only: nothing updates or deletes them (on
  PostgreSQL a trigger refuses it, and a deferred trigger refuses an unbalanced transaction at
  commit). `LedgerTransaction.reference` is unique: posting a reference twice returns the first
  transaction (idempotent retries).
- An account's balance is the sum of its entries. `LedgerAccount.balance` caches it, updated
  with F() in the same database transaction as the entries; `billing_audit` proves them equal.
- `world` is the outside (money entering and leaving Quorum) and goes negative as clients top
  up; `platform_revenue` may go negative (a platform loss). Every other account is never
  negative: a CheckConstraint on the cached balance, and a check under lock before posting.

Where money flows
    top-up        world → client_balance(org)
    publish       client_balance → client_escrow(job)            budget = items × price
    judgment      client_escrow → worker_pending(worker)          pay per accepted judgment
    drop (block)  worker_pending → client_escrow                  only while pending
    settle        client_escrow ⇄ platform_revenue                charged − spent
                  client_escrow → client_balance                  the unspent rest
    release       worker_pending → worker_available               after the hold period
    payout        worker_available → payouts_in_flight → payouts_paid (rejected: back)
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from marketplace.accounts.models import Organization
from marketplace.jobs.models import Job
from marketplace.labeling.models import Judgment

MONEY = {"max_digits": 14, "decimal_places": 2}  # currency units, 2 places
RATE = {"max_digits": 12, "decimal_places": 4}  # currency units (or a share), 4 places
SHARE = {"max_digits": 5, "decimal_places": 4}  # 0..1, 4 places


class Tier(models.Model):
    """A cost-quality tier. Admins edit them; a data migration seeds economy/standard/premium."""

    slug = models.SlugField(max_length=40, unique=True)  # matches Job.tier
    name = models.CharField(max_length=80)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)  # order in quotes, cheapest first
    is_active = models.BooleanField(default=True)
    overlap = models.PositiveSmallIntegerField(default=3)  # fixed, or the minimum when dynamic
    max_overlap = models.PositiveSmallIntegerField(null=True, blank=True)
    target_confidence = models.DecimalField(**SHARE, null=True, blank=True)
    gold_rate = models.DecimalField(**SHARE, default=Decimal("0.1000"))
    # Workers below this smoothed gold accuracy are not admitted to the tier's jobs.
    worker_min_accuracy = models.DecimalField(**SHARE, default=Decimal(0))
    quality_rules = models.JSONField(default=dict, blank=True)  # Job.quality_rules keys
    price_per_item = models.DecimalField(**RATE)  # client, per completed regular item
    pay_per_judgment = models.DecimalField(**RATE)  # worker, per accepted judgment (gold too)
    platform_fee_rate = models.DecimalField(**SHARE, default=Decimal(0))  # informational
    promised_accuracy = models.DecimalField(**SHARE)  # minimum accuracy of delivered labels
    assumed_worker_accuracy = models.DecimalField(**SHARE)  # quotes without measured history
    seconds_per_judgment = models.DecimalField(max_digits=7, decimal_places=2, default=Decimal(10))

    class Meta:
        ordering = ["position", "slug"]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1), name="tier_overlap_positive"),
            models.CheckConstraint(
                condition=Q(max_overlap__isnull=True) | Q(max_overlap__gte=models.F("overlap")),
                name="tier_max_overlap_ge_overlap",
            ),
            models.CheckConstraint(
                condition=Q(gold_rate__gte=0) & Q(gold_rate__lte=Decimal("0.5")),
                name="tier_gold_rate_range",
            ),
            models.CheckConstraint(
                condition=Q(price_per_item__gte=0) & Q(pay_per_judgment__gte=0),
                name="tier_prices_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name


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
    ESCROW_OPEN = "escrow_open", "Escrow opened at publish"
    JUDGMENT_PAY = "judgment_pay", "Judgment paid"
    JUDGMENT_PAY_REVERSE = "judgment_pay_reverse", "Dropped judgment's pay withdrawn"
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


class LedgerEntry(models.Model):
    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="entries"
    )
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="entries")
    amount = models.DecimalField(**MONEY)  # signed: + into the account, − out of it

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_not_zero")]
        indexes = [models.Index(fields=["account", "transaction"], name="ledger_entry_account")]


class JobBudget(models.Model):
    """A published job's escrow terms (fixed at publish) and, once settled, its charge."""

    job = models.OneToOneField(Job, on_delete=models.PROTECT, related_name="budget")
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    price_per_item = models.DecimalField(**RATE)
    pay_per_judgment = models.DecimalField(**RATE)
    items = models.PositiveIntegerField(default=0)  # regular items escrowed for
    budget = models.DecimalField(
        **MONEY, default=Decimal("0.00")
    )  # Σ escrowed at publish (+ later imports)
    opened_at = models.DateTimeField(auto_now_add=True)
    # Filled once by job_settle.
    settled_at = models.DateTimeField(null=True, blank=True)
    completed_items = models.PositiveIntegerField(null=True, blank=True)
    gross = models.DecimalField(**MONEY, null=True, blank=True)  # completed items × price
    credits = models.DecimalField(**MONEY, null=True, blank=True)  # quality credit
    charged = models.DecimalField(**MONEY, null=True, blank=True)  # gross − credits
    spent = models.DecimalField(**MONEY, null=True, blank=True)  # worker pay from this escrow
    revenue = models.DecimalField(**MONEY, null=True, blank=True)  # charged − spent (may be < 0)
    refunded = models.DecimalField(**MONEY, null=True, blank=True)  # back to the client balance

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(charged__isnull=True) | Q(charged__lte=models.F("budget")),
                name="job_budget_charge_within_budget",
            ),
        ]


class QualityCredit(models.Model):
    """The evidence of a missed quality promise; job_settle turns `rate` into an amount."""

    job = models.OneToOneField(Job, on_delete=models.PROTECT, related_name="quality_credit")
    promised_accuracy = models.DecimalField(**SHARE)
    delivered_accuracy = models.DecimalField(**SHARE)
    interval_low = models.DecimalField(**SHARE)
    interval_high = models.DecimalField(**SHARE)
    method = models.TextField()  # how delivered accuracy was estimated, for the invoice
    rate = models.DecimalField(**SHARE)  # share of the charge credited (pricing.credit_rate)
    created_at = models.DateTimeField(auto_now=True)


class Earning(models.Model):
    """A worker's pay for one judgment, from payment to release (the ledger's detail rows)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending (hold period)"
        AVAILABLE = "available", "Available"
        REVERSED = "reversed", "Withdrawn: judgment dropped while pending"

    judgment = models.OneToOneField(Judgment, on_delete=models.PROTECT, related_name="earning")
    job = models.ForeignKey(Job, on_delete=models.PROTECT, related_name="+")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="earnings"
    )
    rank = models.PositiveIntegerField()  # k-th paid judgment of this worker in this job
    amount = models.DecimalField(**MONEY)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # True when the judgment was dropped after its pay was released: the worker keeps it.
    kept_after_drop = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    pay_transaction = models.ForeignKey(  # null when the remainder rule made this judgment pay 0.00
        LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    settled_transaction = models.ForeignKey(  # the release or reversal that moved it on
        LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "worker", "rank"], name="earning_rank_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="earning_not_negative"),
        ]
        indexes = [
            models.Index(
                fields=["created_at", "id"], condition=Q(status="pending"), name="earning_pending"
            ),
        ]


class PayoutBatch(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        PAID = "paid", "Paid"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    total = models.DecimalField(**MONEY)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    exported_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)


class Payout(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        BATCHED = "batched", "In a batch under review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected (returned to available)"
        PAID = "paid", "Paid"

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts"
    )
    amount = models.DecimalField(**MONEY)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    batch = models.ForeignKey(
        PayoutBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="payouts"
    )
    requested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payout_positive")]
        indexes = [
            models.Index(fields=["id"], condition=Q(status="requested"), name="payout_requested")
        ]


class InvoicePayment(models.Model):
    """An admin's record that an invoice was paid (invoices themselves are read, not stored:
    billing/invoices.py). One per invoice number; `total` is the invoice's total when marked."""

    number = models.CharField(max_length=120, unique=True)  # ACME-2026-11, ACME-JOB-42
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    total = models.DecimalField(**MONEY)
    payment_reference = models.CharField(max_length=80, blank=True)
    paid_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
