"""Reads of webhook endpoints and their delivery log, always from the requester's organization."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, QuerySet
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import NotFound
from marketplace.notifications.models import Delivery, WebhookEndpoint
from marketplace.notifications.services import organization_of


def previous_secret_until(endpoint: WebhookEndpoint, *, now: datetime | None = None) -> datetime | None:
    """Until when the secret a rotation replaced still signs beside the current one; None when
    only the current one signs (no rotation kept one, or its window has passed)."""
    until = endpoint.previous_secret_until
    if not endpoint.previous_secret or until is None or until <= (now or timezone.now()):
        return None
    return until


def webhook_endpoints_of(*, user: User) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(organization_id=organization_of(user)).annotate(
        delivery_count=Count("deliveries")
    ).order_by("pk")


def deliveries_of(*, user: User, endpoint_id: int | None = None) -> QuerySet[Delivery]:
    """The organization's deliveries, newest first; one endpoint's when given (404 if not theirs)."""
    deliveries = Delivery.objects.filter(endpoint__organization_id=organization_of(user))
    if endpoint_id is not None:
        if not WebhookEndpoint.objects.filter(pk=endpoint_id, organization_id=organization_of(user)).exists():
            raise NotFound("No such webhook endpoint.")
        deliveries = deliveries.filter(endpoint_id=endpoint_id)
    return deliveries.select_related("event", "endpoint").order_by("-pk")


def delivery_get(*, user: User, delivery_id: int, endpoint_id: int | None = None) -> Delivery:
    """One delivery with its attempts (of that endpoint, when given); another organization's
    looks absent (404)."""
    deliveries = Delivery.objects.filter(pk=delivery_id, endpoint__organization_id=organization_of(user))
    if endpoint_id is not None:
        deliveries = deliveries.filter(endpoint_id=endpoint_id)
    delivery = deliveries.select_related("event", "endpoint").prefetch_related("attempt_log").first()
    if delivery is None:
        raise NotFound("No such delivery.")
    return delivery
