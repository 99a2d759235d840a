"""Admin: tiers are editable; the ledger is read-only (money moves only through services)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from marketplace.billing.models import (
    Earning,
    InvoicePayment,
    JobBudget,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Payout,
    PayoutBatch,
    QualityCredit,
    Tier,
)
from marketplace.limits import MIN_PAY_PER_JUDGMENT


class TierForm(forms.ModelForm):
    """A tier's terms as an admin edits them. A job pays at least MIN_PAY_PER_JUDGMENT whatever
    its tier says (services.job_pay_check, at create, edit and publish), so a tier paying less
    would be offered to clients and then refuse every job published on it: refused here."""

    class Meta:
        model = Tier
        fields = "__all__"

    def clean_pay_per_judgment(self) -> Decimal:
        pay: Decimal = self.cleaned_data["pay_per_judgment"]
        if pay < MIN_PAY_PER_JUDGMENT:
            raise forms.ValidationError(
                f"Workers are paid at least {MIN_PAY_PER_JUDGMENT} per judgment: publishing refuses a job "
                f"paying less, so a tier paying {pay} could never run a job. Enter {MIN_PAY_PER_JUDGMENT} or more."
            )
        return pay


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    form = TierForm
    list_display = (
        "slug",
        "name",
        "position",
        "is_active",
        "overlap",
        "max_overlap",
        "gold_rate",
        "price_per_item",
        "pay_per_judgment",
        "promised_accuracy",
    )
    list_editable = ("position", "is_active")
    # A job keeps the terms it was published with (JobBudget), so editing a tier never reprices one.


class ReadOnlyAdmin(admin.ModelAdmin):
    """Append-only money: admins look, services write."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LedgerEntryInline(admin.TabularInline):
    model = LedgerEntry
    extra = 0
    can_delete = False
    readonly_fields = ("account", "amount")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "organization", "job", "worker", "balance")
    list_filter = ("kind",)
    list_select_related = ("organization", "job", "worker")
    raw_id_fields = ("organization", "job", "worker")


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "reference", "memo", "created_at")
    list_filter = ("kind",)
    search_fields = ("reference",)
    inlines = [LedgerEntryInline]
    show_full_result_count = False  # one row per judgment: never COUNT(*) them for the paginator


@admin.register(JobBudget)
class JobBudgetAdmin(ReadOnlyAdmin):
    list_display = ("job", "tier", "items", "budget", "charged", "spent", "revenue", "settled_at")
    list_select_related = ("job", "tier")


@admin.register(QualityCredit)
class QualityCreditAdmin(ReadOnlyAdmin):
    list_display = ("job", "promised_accuracy", "delivered_accuracy", "rate", "created_at")


@admin.register(Earning)
class EarningAdmin(ReadOnlyAdmin):
    list_display = ("id", "worker", "job", "amount", "status", "kept_after_drop", "created_at")
    list_filter = ("status", "kept_after_drop")
    raw_id_fields = ("worker", "job", "judgment")
    show_full_result_count = False


class PayoutInline(admin.TabularInline):
    model = Payout
    extra = 0
    can_delete = False
    readonly_fields = ("worker", "amount", "status", "requested_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PayoutBatch)
class PayoutBatchAdmin(ReadOnlyAdmin):
    list_display = ("id", "status", "total", "created_by", "created_at", "paid_at")
    list_filter = ("status",)
    inlines = [PayoutInline]


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = ("id", "worker", "amount", "status", "batch", "requested_at")
    list_filter = ("status",)


@admin.register(InvoicePayment)
class InvoicePaymentAdmin(ReadOnlyAdmin):
    list_display = ("number", "organization", "total", "payment_reference", "paid_at", "recorded_by")
    search_fields = ("number", "payment_reference")
