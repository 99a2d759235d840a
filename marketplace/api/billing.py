"""Billing API for clients: quotes, their organization's money, invoices (JSON, CSV, HTML).

Tenancy: everything starts from the requester's organization; another organization's job
answers 404 (jobs.selectors.job_get_for_owner), exactly like a missing one.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.accounts.models import Organization
from marketplace.api.permissions import IsClient, IsClientOrAdmin, StaffLookReadOnly
from marketplace.api.common import PAGE_PARAMETERS, Pagination, refuse_unknown_fields
from marketplace.billing import selectors, statements
from marketplace.billing.amounts import money_in
from marketplace.api.billing_common import (
    FORMAT_PARAM,
    TAG,
    InvoiceFormatNegotiation,
    int_in,
    invoice_format,
    m,
    money_field,
    r,
    rate_field,
)
from marketplace.billing.escrow import job_escrow_add_request
from marketplace.billing.invoice_formats import invoice_as_dict, invoice_csv_lines
from marketplace.billing.invoices import Invoice, invoice_for_job, invoice_for_month, month_parse
from marketplace.billing.pricing import ACCURACY_FROM_POOL, ACCURACY_FROM_TIER
from marketplace.errors import ApplicationError, NotFound
from marketplace.limits import MAX_OVERLAP
from marketplace.parsing import id_or_none
from marketplace.money import CURRENCY_CODE
from marketplace.jobs.selectors import job_get_for_owner

_QUOTE_FIELDS = ("items", "workers", "tier", "overlap")
_QUOTE_IN = inline_serializer("QuoteIn", {
    "items": serializers.IntegerField(min_value=1, help_text="Regular items to label"),
    "workers": serializers.IntegerField(
        min_value=1, required=False, help_text="Working at once (default 10)"),
    "tier": serializers.CharField(required=False, help_text="Quote only this tier (a slug from a full quote)"),
    "overlap": serializers.IntegerField(
        min_value=1, max_value=MAX_OVERLAP, required=False,
        help_text="Judgments per item, as a job's fixed overlap (default: each tier's own); more than "
        "the tier's raises the price as publishing would, fewer never lowers it"),
})
_QUOTE_OUT = inline_serializer("QuoteOut", {
    "items": serializers.IntegerField(),
    "workers": serializers.IntegerField(),
    "overlap": serializers.IntegerField(allow_null=True, help_text="As asked; null: each tier's own"),
    "tiers": inline_serializer("TierQuoteOut", {
        "tier": serializers.CharField(), "name": serializers.CharField(),
        "price_per_item": rate_field(), "price": money_field(),
        "escrow": money_field(help_text="Held at publish: the price, or dynamic overlap's worst-case "
                              "worker pay when higher; what is not charged returns at settlement"),
        "expected_judgments": serializers.IntegerField(help_text="Gold judgments included"),
        "promised_accuracy": rate_field(), "expected_accuracy": rate_field(),
        "accuracy_source": serializers.ChoiceField(choices=[ACCURACY_FROM_POOL, ACCURACY_FROM_TIER]),
        "expected_hours": serializers.CharField(help_text="Hours with `workers` labeling at once"),
    }, many=True),
})
_INVOICE = inline_serializer("InvoiceOut", {
    "number": serializers.CharField(),
    "organization": inline_serializer("InvoiceOrganization", {
        "id": serializers.IntegerField(), "name": serializers.CharField()}),
    "period": serializers.CharField(),
    "status": serializers.ChoiceField(choices=["final", "provisional"], help_text="provisional while the "
                                      "invoice can change: the job is not settled, or the month not over"),
    "lines": inline_serializer("InvoiceLineOut", {
        "job": serializers.IntegerField(), "title": serializers.CharField(), "tier": serializers.CharField(),
        "tier_name": serializers.CharField(),
        "items_charged": serializers.IntegerField(
            help_text="Regular items charged: complete, or reopened for more judgments after they completed "
            "(delivered, so charged); may be more than the job's counts.completed_items, which counts items "
            "complete now"),
        "items_reopened": serializers.IntegerField(
            help_text="Of items_charged, those reopened for more judgments and not complete again"),
        "completed_items": serializers.IntegerField(help_text="items_charged's older name (the same number)"),
        "price_per_item": rate_field(), "amount": money_field(),
        "settled_at": serializers.DateTimeField(allow_null=True),
        "quality": serializers.CharField(help_text="The quality promise's verdict and evidence, or why "
                                         "it was not measured"),
    }, many=True),
    "credits": inline_serializer("InvoiceCreditOut", {
        "job": serializers.IntegerField(), "title": serializers.CharField(),
        "promised_accuracy": rate_field(), "delivered_accuracy": rate_field(),
        "interval": serializers.ListField(child=rate_field()), "method": serializers.CharField(),
        "rate": rate_field(), "amount": money_field(),
    }, many=True),
    "expert_reviews": inline_serializer("InvoiceExpertReviewsOut", {
        "job": serializers.IntegerField(), "title": serializers.CharField(),
        "reviews": serializers.IntegerField(help_text="Reviews asked for and settled before the job settled"),
        "price": money_field(), "amount": money_field(),
    }, many=True),
    "extra_judgments": inline_serializer("InvoiceExtraJudgmentsOut", {
        "job": serializers.IntegerField(), "title": serializers.CharField(),
        "judgments": serializers.IntegerField(help_text="More judgments the client asked for and got"),
        "pay": rate_field(), "amount": money_field(),
    }, many=True),
    "subtotal": money_field(), "credits_total": money_field(), "total": money_field(),
    "paid": inline_serializer("InvoicePaidOut", {
        "paid_at": serializers.DateTimeField(), "total": money_field(),
        "payment_reference": serializers.CharField(),
    }, allow_null=True),
})
_INVOICE_RESPONSES: dict[Any, Any] = {
    (200, "application/json"): _INVOICE,
    (200, "text/csv"): OpenApiTypes.STR,
    (200, "text/html"): OpenApiTypes.STR,
    400: OpenApiResponse(description="invalid: bad month or format"),
    404: OpenApiResponse(description="not_found"),
}


class QuoteView(APIView):
    permission_classes = [IsAuthenticated, IsClientOrAdmin]

    @extend_schema(
        tags=TAG, operation_id="quotes_create", request=_QUOTE_IN, responses={200: _QUOTE_OUT},
        summary="Price, expected accuracy and time for N items on every tier, side by side",
        description="expected_accuracy comes from the measured gold accuracy of the tier's qualified "
        "worker pool when there is history (accuracy_source=measured_pool), else from the tier's "
        "default (tier_default).",
    )
    def post(self, request: Request) -> Response:
        data = request.data
        refuse_unknown_fields(_QUOTE_FIELDS, data)
        items = int_in(data, "items")
        workers = int_in(data, "workers", default=10, high=100_000)
        overlap = None if data.get("overlap") is None else int_in(data, "overlap", high=MAX_OVERLAP)
        tier = data.get("tier")
        if tier is not None and not isinstance(tier, str):
            raise ApplicationError("tier must be a tier's slug (text), such as \"standard\".", details={"tier": "invalid"})
        quotes = selectors.job_quote(items=items, workers=workers, tier=tier, overlap=overlap)
        return Response({
            "items": items,
            "workers": workers,
            "overlap": overlap,
            "tiers": [
                {
                    "tier": q.tier, "name": q.name, "price_per_item": r(q.price_per_item),
                    "price": m(q.price), "escrow": m(q.escrow), "expected_judgments": q.expected_judgments,
                    "promised_accuracy": r(q.promised_accuracy), "expected_accuracy": r(q.expected_accuracy),
                    "accuracy_source": q.accuracy_source, "expected_hours": m(q.expected_hours),
                }
                for q in quotes
            ],
        })


class BillingOverview(APIView):
    permission_classes = [IsAuthenticated, IsClient]

    @extend_schema(
        tags=TAG, operation_id="billing_retrieve", summary="Your organization's balance, escrows and ledger",
        parameters=[
            *PAGE_PARAMETERS,
        ],
        responses={200: inline_serializer("BillingOut", {
            "organization": inline_serializer("BillingOrganization", {
                "id": serializers.IntegerField(), "name": serializers.CharField()}),
            "balance": money_field(), "escrow_total": money_field(),
            "open_jobs": inline_serializer("OpenEscrowOut", {
                "job": serializers.IntegerField(), "title": serializers.CharField(),
                "status": serializers.CharField(), "budget": money_field(), "escrow": money_field(),
            }, many=True),
            "transactions": inline_serializer("LedgerPage", {
                "count": serializers.IntegerField(), "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": inline_serializer("OrganizationTransaction", {
                    "id": serializers.IntegerField(), "kind": serializers.CharField(),
                    "memo": serializers.CharField(), "job": serializers.IntegerField(allow_null=True),
                    "created_at": serializers.DateTimeField(),
                    "balance_change": money_field(), "escrow_change": money_field(),
                }, many=True),
            }),
        })},
    )
    def get(self, request: Request) -> Response:
        organization = request.user.organization
        escrows = statements.organization_open_escrows(organization=organization)
        paginator = Pagination()
        page = paginator.paginate_queryset(
            statements.organization_transactions(organization=organization), request, view=self
        ) or []
        rows = []
        for tx in page:
            balance_change, escrow_change = statements.transaction_changes(tx)
            rows.append({
                "id": tx.pk, "kind": tx.kind, "memo": tx.memo, "job": tx.job_id, "created_at": tx.created_at,
                "balance_change": m(balance_change), "escrow_change": m(escrow_change),
            })
        assert paginator.page is not None
        return Response({
            "organization": {"id": organization.pk, "name": organization.name},
            "balance": m(selectors.organization_balance(organization=organization)),
            "escrow_total": m(sum((e.escrow for e in escrows), statements.ZERO)),
            "open_jobs": [
                {
                    "job": e.job_id, "title": e.title, "status": e.status,
                    "budget": m(e.budget), "escrow": m(e.escrow),
                }
                for e in escrows
            ],
            "transactions": {
                "count": paginator.page.paginator.count,
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
                "results": rows,
            },
        })


def invoice_response(
    invoice: Invoice, fmt: str, request: Request, *, job_id: int | None = None,
) -> HttpResponse | StreamingHttpResponse | Response:
    if fmt == "csv":
        response = StreamingHttpResponse(invoice_csv_lines(invoice), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="invoice-{invoice.number}.csv"'
        return response
    body = invoice_as_dict(invoice)
    if fmt == "html":  # the portal's page (autoescaped: job titles and credit methods are text)
        ctx = {"invoice": body, "issued": timezone.now(), "currency": CURRENCY_CODE, "job_id": job_id}
        return HttpResponse(render_to_string("client/invoice.html", ctx, request=request._request))
    return Response(body)


def _invoice_organization(request: Request) -> Organization:
    """A client's own organization; an admin names one with ?organization=<id>."""
    user = request.user
    raw = request.query_params.get("organization", "")
    # Checked for clients too (who cannot name another): a malformed request is a 400 for anyone.
    organization_id = id_or_none(raw) if raw else None
    if raw and organization_id is None:
        raise ApplicationError("organization must be an organization id.", details={"organization": raw[:20]})
    if not user.is_admin:
        return user.organization
    organization = Organization.objects.filter(pk=organization_id).first() if organization_id else None
    if organization is None:
        raise NotFound("Organization not found: admins pass ?organization=<id>.")
    return organization


class MonthlyInvoice(APIView):
    permission_classes = [IsAuthenticated, IsClientOrAdmin]
    renderer_classes = [JSONRenderer]  # csv and html bypass renderers: see InvoiceFormatNegotiation
    content_negotiation_class = InvoiceFormatNegotiation

    @extend_schema(
        tags=TAG, operation_id="billing_invoice_month", summary="Your organization's invoice for a month",
        description="Jobs settled in that UTC month: a line per job and tier, credits for missed quality "
        "promises with their evidence, the total. Provisional until the month is over (jobs settling "
        "before then join it); final, and payable, after.",
        parameters=[
            OpenApiParameter("month", str, required=False, description="YYYY-MM (default: this month)"),
            OpenApiParameter("organization", int, required=False, description="Admins: whose invoice"),
            FORMAT_PARAM,
        ],
        responses=_INVOICE_RESPONSES,
    )
    def get(self, request: Request) -> HttpResponse | StreamingHttpResponse | Response:
        fmt = invoice_format(request)
        year, month = month_parse(request.query_params.get("month"))
        organization = _invoice_organization(request)
        invoice = invoice_for_month(organization=organization, year=year, month=month)
        return invoice_response(invoice, fmt, request)


class JobInvoice(APIView):
    permission_classes = [IsAuthenticated, IsClientOrAdmin, StaffLookReadOnly]
    renderer_classes = [JSONRenderer]  # csv and html bypass renderers: see InvoiceFormatNegotiation
    content_negotiation_class = InvoiceFormatNegotiation

    @extend_schema(
        tags=TAG, operation_id="job_invoice_retrieve",
        summary="One job's invoice (provisional until settled)",
        parameters=[FORMAT_PARAM], responses=_INVOICE_RESPONSES,
    )
    def get(self, request: Request, job_id: int) -> HttpResponse | StreamingHttpResponse | Response:
        fmt = invoice_format(request)
        job = job_get_for_owner(user=request.user, job_id=job_id)  # another org's job: 404
        return invoice_response(invoice_for_job(job=job), fmt, request, job_id=job.pk)


class JobEscrowAdd(APIView):
    permission_classes = [IsAuthenticated, IsClientOrAdmin, StaffLookReadOnly]

    @extend_schema(
        tags=TAG, operation_id="job_escrow_add",
        summary="Add to a published job's escrow (e.g. to resume a job paused for funds)",
        description="Moves `amount` from the organization's balance into the job's escrow. This raises "
        "the hold, not the price: the charge stays completed items × price − credit and the unspent "
        "escrow returns at settlement. The `Idempotency-Key` header is required and scoped to the job: "
        "the same key with the same amount adds nothing more and answers the first response again "
        "(`replayed` true); with another amount, or a key this job's more-judgments or expert-review "
        "request used, it is a 409 naming the clash.",
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=True)],
        request=inline_serializer("EscrowAddIn", {"amount": money_field()}),
        responses={200: inline_serializer("EscrowAddOut", {
            "job": serializers.IntegerField(),
            "budget": money_field(help_text="The job's hold after this addition"),
            "added": money_field(help_text="What this request moved into the escrow (on a replay: what the "
                                 "first request moved)"),
            "added_total": money_field(help_text="Everything added to this job's escrow after publishing, "
                                       "this request included: by hand, and the holds of more judgments "
                                       "and expert reviews"),
            "replayed": serializers.BooleanField(help_text="A retry under a key that already did this: "
                                                 "the first response's figures, nothing moved")}),
            402: OpenApiResponse(description="insufficient_funds: details name the amount missing"),
            400: OpenApiResponse(description="invalid: amount (a decimal string) or key"),
            404: OpenApiResponse(description="not_found"),
            409: OpenApiResponse(description="conflict: never published, settled, or the key "
                                 "already made another request of this job (details: differs, first)")},
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = job_get_for_owner(user=request.user, job_id=job_id)  # another org's job: 404
        done = job_escrow_add_request(job=job, user=request.user, amount=money_in(request.data, "amount"),
                                      key=request.headers.get("Idempotency-Key", ""))
        return Response({"job": done.job, "budget": m(done.budget), "added": m(done.added),
                         "added_total": m(done.added_total), "replayed": done.replayed})
