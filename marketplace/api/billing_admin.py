"""Billing API for admins: top-ups, and payout batches (review with quality, approve or reject,
export for the payment provider, mark paid)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.accounts.models import Organization
from marketplace.api.permissions import IsAdmin
from marketplace.api.common import Pagination, extend_list_schema
from marketplace.billing import payouts, selectors, statements
from marketplace.billing.amounts import money_in
from marketplace.api.billing_common import TAG, m, money_field, r, rate_field
from marketplace.billing.invoices import invoice_mark_paid
from marketplace.billing.models import PayoutBatch
from marketplace.billing.selectors import PayoutRow
from marketplace.billing.services import topup_record
from marketplace.errors import ApplicationError, NotFound

_TOPUP_IN = inline_serializer("TopupIn", {
    "organization": serializers.IntegerField(),
    "amount": money_field(),
    "payment_reference": serializers.CharField(
        max_length=80, help_text="The payment's reference (bank transfer id): recording it twice is a no-op"),
    "memo": serializers.CharField(required=False, allow_blank=True),
})
_TOPUP_OUT = inline_serializer("TopupOut", {
    "transaction": serializers.IntegerField(), "organization": serializers.IntegerField(),
    "amount": money_field(), "memo": serializers.CharField(), "created_at": serializers.DateTimeField(),
    "balance": money_field(help_text="The organization's balance after it"),
})
_PAYOUT_ROW = inline_serializer("PayoutReviewRow", {
    "payout": serializers.IntegerField(), "worker": serializers.IntegerField(),
    "handle": serializers.CharField(),
    "amount": money_field(), "gold_seen": serializers.IntegerField(),
    "gold_accuracy": rate_field(allow_null=True), "kept_after_drop": serializers.IntegerField(
        help_text="Judgments dropped after their pay was released, which the worker kept"),
}, many=True)
_BATCH = inline_serializer("PayoutBatchOut", {
    "id": serializers.IntegerField(), "status": serializers.CharField(), "total": money_field(),
    "created_by": serializers.CharField(), "created_at": serializers.DateTimeField(),
    "reviewed_by": serializers.CharField(allow_null=True),
    "reviewed_at": serializers.DateTimeField(allow_null=True),
    "exported_at": serializers.DateTimeField(allow_null=True),
    "paid_at": serializers.DateTimeField(allow_null=True),
    "payouts": _PAYOUT_ROW,
})
_ERRORS = {
    403: OpenApiResponse(description="permission_denied: admins only"),
    404: OpenApiResponse(description="not_found"),
    409: OpenApiResponse(description="conflict: the batch's status does not allow it"),
}


def _batch(batch: PayoutBatch, rows: list[PayoutRow]) -> dict[str, Any]:
    return {
        "id": batch.pk, "status": batch.status, "total": m(batch.total),
        "created_by": batch.created_by.username, "created_at": batch.created_at,
        "reviewed_by": batch.reviewed_by.username if batch.reviewed_by else None,
        "reviewed_at": batch.reviewed_at, "exported_at": batch.exported_at, "paid_at": batch.paid_at,
        "payouts": [
            {
                "payout": row.payout_id, "worker": row.worker_id, "handle": row.handle,
                "amount": m(row.amount),
                "gold_seen": row.gold_seen, "gold_accuracy": r(row.gold_accuracy),
                "kept_after_drop": row.kept_after_drop,
            }
            for row in rows
        ],
    }


def _batch_get(batch_id: int) -> PayoutBatch:
    batch = PayoutBatch.objects.select_related("created_by", "reviewed_by").filter(pk=batch_id).first()
    if batch is None:
        raise NotFound("Payout batch not found.")
    return batch


def _batch_out(batch_id: int) -> dict[str, Any]:
    batch = _batch_get(batch_id)  # fresh: the service saved a locked copy
    return _batch(batch, selectors.payout_batch_rows(batch=batch))


class TopupCreate(APIView):
    permission_classes = [IsAuthenticated, IsAdmin]

    @extend_schema(
        tags=TAG, operation_id="admin_topups_create", request=_TOPUP_IN,
        summary="Record a payment received outside Quorum into an organization's balance",
        responses={201: _TOPUP_OUT, 400: OpenApiResponse(description="invalid: amount or reference"),
                   **_ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = request.data
        org_id = data.get("organization")
        if isinstance(org_id, bool) or not isinstance(org_id, int):
            raise ApplicationError("organization is required: the organization's id.")
        amount = money_in(data, "amount")
        reference = data.get("payment_reference")
        if not isinstance(reference, str):
            raise ApplicationError("payment_reference is required: the payment's own reference.")
        memo = data.get("memo") or ""
        if not isinstance(memo, str) or len(memo) > 255:
            raise ApplicationError("memo is text of at most 255 characters.")
        organization = Organization.objects.filter(pk=org_id).first()
        if organization is None:
            raise NotFound("Organization not found.")
        tx = topup_record(
            admin=request.user, organization=organization, amount=amount,
            payment_reference=reference, memo=memo,
        )
        return Response({
            "transaction": tx.pk, "organization": organization.pk, "amount": m(amount), "memo": tx.memo,
            "created_at": tx.created_at,
            "balance": m(selectors.organization_balance(organization=organization)),
        }, status=status.HTTP_201_CREATED)


class PayoutBatchListCreate(APIView):
    permission_classes = [IsAuthenticated, IsAdmin]

    @extend_list_schema(
        _BATCH, tags=TAG, operation_id="admin_payout_batches_list",
        summary="Payout batches, newest first, each worker's gold accuracy beside the amount",
    )
    def get(self, request: Request) -> Response:
        paginator = Pagination()
        batches = statements.payout_batches().select_related("created_by", "reviewed_by")
        page = list(paginator.paginate_queryset(batches, request, view=self) or [])
        rows = selectors.payout_batches_rows(batches=page)
        return paginator.get_paginated_response([_batch(b, rows[b.pk]) for b in page])

    @extend_schema(
        tags=TAG, operation_id="admin_payout_batches_create", request=None,
        summary="Gather every requested payout into a new batch for review",
        responses={
            201: _BATCH, 400: OpenApiResponse(description="invalid: no payout requests waiting"), **_ERRORS
        },
    )
    def post(self, request: Request) -> Response:
        batch = payouts.payout_batch_create(admin=request.user)
        return Response(_batch_out(batch.pk), status=status.HTTP_201_CREATED)


ACTIONS = {
    "approve": payouts.payout_batch_approve,
    "reject": payouts.payout_batch_reject,
    "paid": payouts.payout_batch_mark_paid,
}


_REJECT_IN = inline_serializer("PayoutBatchRejectIn", {
    "reason": serializers.CharField(required=False, allow_blank=True, max_length=2000,
                                    help_text="Why (kept in the ledger's memo); required with provider_declined"),
    "provider_declined": serializers.BooleanField(
        required=False, help_text="The batch's file was exported and the provider confirms it paid none of it"),
})


def _reject_terms(data: Any) -> tuple[str, bool]:
    """reason and provider_declined from a reject's body (both optional; an empty body is none)."""
    reason, declined = data.get("reason", ""), data.get("provider_declined", False)
    if not isinstance(reason, str) or len(reason) > 2000:
        raise ApplicationError("reason is text of at most 2000 characters.")
    if not isinstance(declined, bool):
        raise ApplicationError("provider_declined is true or false.")
    return reason, declined


class PayoutBatchAction(APIView):
    """POST .../{id}/approve/, .../reject/ (amounts return to the workers) or .../paid/."""

    permission_classes = [IsAuthenticated, IsAdmin]

    @extend_schema(
        tags=TAG, operation_id="admin_payout_batch_action", request=_REJECT_IN,
        summary="Approve, reject or mark paid a payout batch (reject: an optional reason; a batch "
                "whose file was exported only with provider_declined and a reason; paid: only an "
                "exported batch, else 409)",
        responses={200: _BATCH, **_ERRORS},
    )
    def post(self, request: Request, batch_id: int, action: str) -> Response:
        batch = _batch_get(batch_id)
        if action == "reject":
            reason, declined = _reject_terms(request.data)
            payouts.payout_batch_reject(admin=request.user, batch=batch, reason=reason, provider_declined=declined)
        else:
            ACTIONS[action](admin=request.user, batch=batch)
        return Response(_batch_out(batch.pk))


class PayoutBatchExport(APIView):
    permission_classes = [IsAuthenticated, IsAdmin]

    @extend_schema(
        tags=TAG, operation_id="admin_payout_batch_export",
        summary="An approved batch as CSV for the payment provider (stamps the batch's exported_at)",
        request=None, responses={(200, "text/csv"): OpenApiTypes.STR, **_ERRORS},
    )
    def post(self, request: Request, batch_id: int) -> HttpResponse:
        # A POST, not a GET: exporting is recorded on the batch, and a GET must change nothing
        # (a prefetching browser or a crawler of links would otherwise stamp it).
        batch = _batch_get(batch_id)
        body = payouts.payout_batch_export_csv(admin=request.user, batch=batch)
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="payout-batch-{batch.pk}.csv"'
        return response


class InvoicePaid(APIView):
    permission_classes = [IsAuthenticated, IsAdmin]

    @extend_schema(
        tags=TAG, operation_id="admin_invoice_paid",
        summary="Mark a final invoice paid (a settled job's, or a month that is over)",
        request=inline_serializer("InvoicePaidIn", {
            "payment_reference": serializers.CharField(required=False, allow_blank=True)}),
        responses={200: inline_serializer("InvoicePaymentOut", {
            "number": serializers.CharField(), "organization": serializers.IntegerField(),
            "total": money_field(), "payment_reference": serializers.CharField(),
            "paid_at": serializers.DateTimeField(), "recorded_by": serializers.CharField(),
        }), **_ERRORS},
    )
    def post(self, request: Request, number: str) -> Response:
        reference = request.data.get("payment_reference", "")
        if not isinstance(reference, str):
            raise ApplicationError("payment_reference is text.")
        payment = invoice_mark_paid(admin=request.user, number=number, payment_reference=reference)
        return Response({
            "number": payment.number, "organization": payment.organization_id, "total": m(payment.total),
            "payment_reference": payment.payment_reference, "paid_at": payment.paid_at,
            "recorded_by": payment.recorded_by.username,
        })
