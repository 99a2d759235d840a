"""Webhooks REST API: a client's endpoints (URL, events), their delivery log, and redelivery.

The endpoint's signing secret is in the creation response only, which says `Cache-Control:
no-store`. Every lookup starts from the requester's organization (notifications.selectors):
another organization's ids look absent.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.accounts import carries_secret, validated
from marketplace.api.common import Pagination, extend_list_schema
from marketplace.api.permissions import IsClient
from marketplace.notifications import outbox, selectors, services
from marketplace.notifications.delivering import event_body
from marketplace.notifications.models import Delivery, DeliveryStatus, EventType, WebhookEndpoint
from marketplace.notifications.targets import MAX_URL_LENGTH

TAG = ["webhooks"]
EVENTS = serializers.ListField(
    child=serializers.ChoiceField(choices=EventType.choices), min_length=1, max_length=len(EventType.choices),
    help_text="The events to send here: " + ", ".join(EventType.values),
)


class WebhookCreateInputSerializer(serializers.Serializer):
    url = serializers.URLField(
        max_length=MAX_URL_LENGTH,
        help_text="https://, a public address, port 443, 80 or 1024-65535 but internal services' "
                  "(README; checked now and before every delivery).",
    )
    events = EVENTS
    description = serializers.CharField(max_length=services.MAX_DESCRIPTION, required=False, allow_blank=True)


class WebhookUpdateInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=MAX_URL_LENGTH, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices), min_length=1,
        max_length=len(EventType.choices), required=False,
    )
    description = serializers.CharField(max_length=services.MAX_DESCRIPTION, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False, help_text="false: nothing is sent here until true again")


class WebhookOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField()
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    previous_secret_until = serializers.SerializerMethodField(
        help_text="After a rotation: until when the replaced secret still signs beside the new one "
                  "(a second v1 in Quorum-Signature); null when only the current secret signs.")

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_previous_secret_until(self, endpoint: WebhookEndpoint) -> str | None:
        until = selectors.previous_secret_until(endpoint)
        return serializers.DateTimeField().to_representation(until) if until else None


class WebhookRotateInputSerializer(serializers.Serializer):
    keep_old_hours = serializers.IntegerField(
        min_value=0, max_value=services.MAX_KEEP_OLD_HOURS, required=False,
        default=services.DEFAULT_KEEP_OLD_HOURS,
        help_text="How long the replaced secret keeps signing beside the new one (0: it stops now, "
                  "for a leaked secret).")


class NewWebhookOutputSerializer(WebhookOutputSerializer):
    secret = serializers.CharField(help_text="Signs every delivery (README, \"Webhooks\"). Shown in this response only.")


class DeliveryAttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    at = serializers.DateTimeField()
    response_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(help_text="Empty when the receiver answered 2xx")
    duration_ms = serializers.IntegerField()
    redelivery = serializers.BooleanField(help_text="Asked for by a person")


class DeliveryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    endpoint = serializers.IntegerField(source="endpoint_id")
    event_id = serializers.SerializerMethodField()
    event_type = serializers.CharField(source="event.type")
    job = serializers.IntegerField(source="event.job_id", allow_null=True)
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    attempts = serializers.IntegerField()
    response_code = serializers.IntegerField(allow_null=True, help_text="Of the last attempt")
    error = serializers.CharField(help_text="Of the last attempt; empty when it succeeded")
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    next_attempt_at = serializers.DateTimeField(allow_null=True, help_text="While pending: the next retry")
    created_at = serializers.DateTimeField()

    def get_event_id(self, delivery: Delivery) -> str:
        return f"evt_{delivery.event_id}"


class DeliveryDetailOutputSerializer(DeliveryOutputSerializer):
    body = serializers.SerializerMethodField(help_text="What each attempt sent (before signing)")
    attempt_log = DeliveryAttemptSerializer(many=True)

    def get_body(self, delivery: Delivery) -> dict[str, Any]:
        return event_body(delivery.event)


def present_endpoint(endpoint: WebhookEndpoint, secret: str | None = None) -> dict[str, Any]:
    body = WebhookOutputSerializer(endpoint).data
    return {**body, "secret": secret} if secret is not None else body


class Webhooks(APIView):
    permission_classes = [IsAuthenticated, IsClient]

    @extend_list_schema(WebhookOutputSerializer, tags=TAG, operation_id="v1_webhooks_list",
                        summary="Your organization's webhook endpoints (never their secrets)")
    def get(self, request: Request) -> Response:
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.webhook_endpoints_of(user=request.user), request, view=self)
        return paginator.get_paginated_response([present_endpoint(e) for e in page or []])

    @extend_schema(request=WebhookCreateInputSerializer, responses={201: NewWebhookOutputSerializer}, tags=TAG,
                   summary="Register a webhook endpoint; its signing secret is in this response only")
    @carries_secret
    def post(self, request: Request) -> Response:
        data = validated(WebhookCreateInputSerializer, request.data)
        endpoint, secret = services.webhook_endpoint_create(
            user=request.user, url=data["url"], events=data["events"], description=data.get("description", ""))
        return Response(present_endpoint(endpoint, secret), status=status.HTTP_201_CREATED)


class WebhookDetail(APIView):
    permission_classes = [IsAuthenticated, IsClient]

    @extend_schema(responses={200: WebhookOutputSerializer}, tags=TAG, summary="One webhook endpoint")
    def get(self, request: Request, endpoint_id: int) -> Response:
        return Response(present_endpoint(services.webhook_endpoint_get(user=request.user, endpoint_id=endpoint_id)))

    @extend_schema(request=WebhookUpdateInputSerializer, responses={200: WebhookOutputSerializer}, tags=TAG,
                   summary="Change a webhook endpoint's URL, events, description, or turn it off")
    def patch(self, request: Request, endpoint_id: int) -> Response:
        data = validated(WebhookUpdateInputSerializer, request.data)
        endpoint = services.webhook_endpoint_update(user=request.user, endpoint_id=endpoint_id, fields=data)
        return Response(present_endpoint(endpoint))

    @extend_schema(request=None, responses={204: None}, tags=TAG,
                   summary="Delete a webhook endpoint and its delivery log")
    def delete(self, request: Request, endpoint_id: int) -> Response:
        services.webhook_endpoint_delete(user=request.user, endpoint_id=endpoint_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookSecretRotate(APIView):
    permission_classes = [IsAuthenticated, IsClient]

    @extend_schema(
        request=WebhookRotateInputSerializer, tags=TAG,
        responses={200: NewWebhookOutputSerializer,
                   404: OpenApiResponse(description="not_found: no such webhook endpoint of yours")},
        summary="Give an endpoint a new signing secret (in this response only); the old one keeps "
                "signing beside it for keep_old_hours",
    )
    @carries_secret
    def post(self, request: Request, endpoint_id: int) -> Response:
        data = validated(WebhookRotateInputSerializer, request.data)
        endpoint, secret = services.webhook_endpoint_secret_rotate(
            user=request.user, endpoint_id=endpoint_id, keep_old_hours=data["keep_old_hours"])
        return Response(present_endpoint(endpoint, secret))


class WebhookDeliveries(APIView):
    permission_classes = [IsAuthenticated, IsClient]

    @extend_list_schema(DeliveryOutputSerializer, tags=TAG, operation_id="v1_webhook_deliveries_list",
                        summary="An endpoint's delivery log, newest first")
    def get(self, request: Request, endpoint_id: int) -> Response:
        paginator = Pagination()
        deliveries = selectors.deliveries_of(user=request.user, endpoint_id=endpoint_id)
        page = paginator.paginate_queryset(deliveries, request, view=self)
        return paginator.get_paginated_response(DeliveryOutputSerializer(page or [], many=True).data)


class WebhookDeliveryDetail(APIView):
    permission_classes = [IsAuthenticated, IsClient]

    @extend_schema(responses={200: DeliveryDetailOutputSerializer}, tags=TAG,
                   summary="One delivery: what was sent and every attempt")
    def get(self, request: Request, endpoint_id: int, delivery_id: int) -> Response:
        delivery = selectors.delivery_get(user=request.user, delivery_id=delivery_id, endpoint_id=endpoint_id)
        return Response(DeliveryDetailOutputSerializer(delivery).data)


class WebhookDeliveryRedeliver(APIView):
    permission_classes = [IsAuthenticated, IsClient]

    @extend_schema(
        request=None, tags=TAG,
        responses={202: DeliveryOutputSerializer,
                   404: OpenApiResponse(description="not_found: no such delivery of yours")},
        summary="Send a delivery again: one attempt, now (its result joins the log)",
    )
    def post(self, request: Request, endpoint_id: int, delivery_id: int) -> Response:
        delivery = outbox.delivery_redeliver(user=request.user, delivery_id=delivery_id, endpoint_id=endpoint_id)
        delivery = selectors.delivery_get(user=request.user, delivery_id=delivery.pk, endpoint_id=endpoint_id)
        return Response(DeliveryOutputSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
