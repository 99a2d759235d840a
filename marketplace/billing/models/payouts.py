"""Worker earnings, payout requests and batches, and invoices marked paid."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from marketplace.accounts.models import Organization
from marketplace.billing.models.ledger import LedgerTransaction
from marketplace.billing.models.tiers import MONEY
from marketplace.jobs.models import Job
from marketplace.labeling.models import Judgment


class Earning(models.Model):
    """A worker's pay for one judgment, from payment to release (the ledger's detail rows)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending (hold period)"
        AVAILABLE = "available", "Available"
        REVERSED = "reversed", "Withdrawn: judgment dropped while pending"
        # The job settled while an admin still reviewed the withdrawal (WithdrawalReview): not
        # the worker's until the admin leaves it with them (billing/holding.py).
        HELD = "held", "Held: its withdrawal awaits an admin's review"

    judgment = models.OneToOneField(Judgment, on_delete=models.PROTECT, related_name="earning")
    # No index of its own: earning_rank_unique leads with it (each submit inserts an earning and
    # each posting batch rewrites it, both into every index).
    job = models.ForeignKey(Job, on_delete=models.PROTECT, related_name="+", db_index=False)
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="earnings"
    )
    # k-th paid judgment of this worker in this job (pricing.judgment_pay_amount: the remainder
    # rule). An answer its worker undid gives its rank up (−its id, reversals.judgment_pay_withdraw)
    # so the next answer takes that rank and pays what it paid: otherwise undoing the ranks that
    # round down and answering again would collect only the ones that round up.
    rank = models.IntegerField()
    amount = models.DecimalField(**MONEY)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # True when the judgment was dropped after its pay was released: the worker keeps it.
    kept_after_drop = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    # When the pay moved from the escrow into the worker's pending account: a submit writes its
    # earning only (no shared row), and billing/posting.py moves a job's earnings in batches, on a
    # schedule and at settlement. Null: still owed from the escrow. A 0.00 earning is posted at once.
    posted_at = models.DateTimeField(null=True, blank=True)
    pay_transaction = models.ForeignKey(  # the batch that posted it; null for a 0.00 earning
        LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    settled_transaction = models.ForeignKey(  # the release or reversal that moved it on
        LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The block (its BLOCKED QualityEvent) whose withdrawal took this pay (REVERSED) or holds it
    # (HELD): an upheld appeal of that block gives back these earnings only, never those an
    # earlier (say, an admin's final) block withdrew. A plain reference, no constraint and no
    # index: every submit writes an earning, and a restore reads one (job, worker)'s rows,
    # which earning_rank_unique finds.
    withdrawn_by = models.ForeignKey(
        "quality.QualityEvent", null=True, blank=True, on_delete=models.DO_NOTHING,
        db_constraint=False, db_index=False, related_name="+",
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
            models.Index(
                fields=["job", "id"], condition=Q(posted_at__isnull=True), name="earning_unposted"
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
    # The client's Idempotency-Key: a retried request returns this payout instead of a second one.
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_positive"),
            models.UniqueConstraint(fields=["worker", "idempotency_key"], name="payout_idempotent",
                                    condition=Q(idempotency_key__isnull=False)),
        ]
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
