"""Billing API for workers: their own earnings and payouts, and the dropped-judgment pay policy."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.permissions import IsWorker
from marketplace.api.common import Pagination, extend_list_schema
from marketplace.billing import payouts, selectors, statements
from marketplace.billing.amounts import money_in
from marketplace.api.billing_common import TAG, m, money_field
from marketplace.billing.models import Payout
from marketplace.billing.services import DROPPED_JUDGMENT_PAY_POLICY

_PAYOUT = inline_serializer("MyPayoutOut", {
    "id": serializers.IntegerField(), "amount": money_field(), "status": serializers.CharField(),
    "requested_at": serializers.DateTimeField(),
})


def _payout(payout: Payout) -> dict[str, Any]:
    return {
        "id": payout.pk, "amount": m(payout.amount), "status": payout.status,
        "requested_at": payout.requested_at,
    }


class MyEarnings(APIView):
    permission_classes = [IsAuthenticated, IsWorker]

    @extend_schema(
        tags=TAG, operation_id="me_earnings_retrieve", summary="Your earnings: pending, available, paid, held for review",
        responses={200: inline_serializer("MyEarningsOut", {
            "pending": money_field(help_text="Within the hold period (pay held for review aside: see held)"),
            "available": money_field(),
            "in_flight": money_field(help_text="Requested, not yet paid"), "paid": money_field(),
            "held": money_field(help_text="Held for an admin's review of a quality block's withdrawal "
                                          "(the sum of held_for_review), from the moment the review opens: "
                                          "not payable until the admin decides; in none of the figures above"),
            "held_for_review": inline_serializer("MyHeldPayOut", {
                "job": serializers.IntegerField(), "title": serializers.CharField(),
                "answers": serializers.IntegerField(help_text="The dropped answers whose pay is held"),
                "amount": money_field(),
            }, many=True),
            "held_reason": serializers.CharField(help_text="Why pay is held and what happens to it"),
            "hold_days": serializers.IntegerField(), "min_payout": money_field(),
            "recent": inline_serializer("MyEarningOut", {
                "job": serializers.IntegerField(), "title": serializers.CharField(), "amount": money_field(),
                "status": serializers.CharField(), "kept_after_drop": serializers.BooleanField(),
                "created_at": serializers.DateTimeField(),
            }, many=True),
            "policy": serializers.CharField(help_text="What happens to the pay of dropped judgments"),
        })},
    )
    def get(self, request: Request) -> Response:
        worker = request.user
        money = selectors.worker_money(worker=worker)
        held = statements.worker_held_pay(worker=worker)
        return Response({
            "pending": m(statements.pending_less_held(pending=money.pending, held=held)),
            "available": m(money.available),
            "in_flight": m(money.in_flight), "paid": m(money.paid),
            "held": m(sum((h.amount for h in held), Decimal("0.00"))),
            "held_for_review": [
                {"job": h.job_id, "title": h.title, "answers": h.answers, "amount": m(h.amount)} for h in held
            ],
            "held_reason": statements.HELD_FOR_REVIEW_REASON,
            "hold_days": payouts.hold_days(), "min_payout": m(payouts.min_payout()),
            "recent": [
                {
                    "job": e.job_id, "title": e.job.title, "amount": m(e.amount), "status": e.status,
                    "kept_after_drop": e.kept_after_drop, "created_at": e.created_at,
                }
                for e in statements.worker_recent_earnings(worker=worker)
            ],
            "policy": DROPPED_JUDGMENT_PAY_POLICY,
        })


class MyPayouts(APIView):
    permission_classes = [IsAuthenticated, IsWorker]

    @extend_list_schema(_PAYOUT, tags=TAG, operation_id="me_payouts_list", summary="Your payout requests, newest first")
    def get(self, request: Request) -> Response:
        paginator = Pagination()
        mine = statements.worker_payouts(worker=request.user)
        page = paginator.paginate_queryset(mine, request, view=self) or []
        return paginator.get_paginated_response([_payout(p) for p in page])

    @extend_schema(
        tags=TAG, operation_id="me_payouts_create", summary="Ask for a payout of your available earnings",
        description="Send an `Idempotency-Key` header to make retries safe: a request repeated with the "
        "same key returns the first payout (201, as the first time) and moves nothing; the same key "
        "with another amount is 409.",
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)],
        request=inline_serializer("MyPayoutIn", {"amount": money_field()}),
        responses={201: _PAYOUT, 400: OpenApiResponse(description="invalid: amount, or below the minimum"),
                   402: OpenApiResponse(description="insufficient_funds: more than is available"),
                   409: OpenApiResponse(description="conflict: the key was used for another amount")},
    )
    def post(self, request: Request) -> Response:
        payout = payouts.payout_request(worker=request.user, amount=money_in(request.data, "amount"),
                                        key=request.headers.get("Idempotency-Key"))
        return Response(_payout(payout), status=status.HTTP_201_CREATED)
