"""Sending a delivery: claim it, sign the body, make the request, log the attempt, plan a retry.

Retries back off exponentially (QUORUM_WEBHOOK_RETRY_BASE_SECONDS × 2^(n−1), at most 6 hours)
until QUORUM_WEBHOOK_MAX_ATTEMPTS; then the delivery is failed and waits for a person's
redelivery, which makes one attempt.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from marketplace.isotime import iso_utc, z_form
from marketplace.notifications import sealing, signing
from marketplace.notifications.models import Delivery, DeliveryAttempt, DeliveryStatus, Event, WebhookEndpoint
from marketplace.notifications.selectors import previous_secret_until
from marketplace.notifications.sending import webhook_post

logger = logging.getLogger(__name__)

# A sender holds a delivery this long (its claim); longer than any request (sending.TOTAL_SECONDS),
# so only a sender that died lets another one retry it.
SEND_LEASE = timedelta(seconds=60)
MAX_BACKOFF = timedelta(hours=6)


def event_body(event: Event) -> dict[str, Any]:
    """What a delivery sends (README, "Webhooks"): datetimes as the API writes them (isotime)."""
    return {"id": f"evt_{event.pk}", "type": event.type, "created_at": iso_utc(event.created_at),
            "sequence": event.sequence, "data": _times_z(event.data)}


def _times_z(value: Any) -> Any:
    """`data` with each `*_at` text in the API's "Z" form: events recorded before job_events
    wrote that form stored "+00:00", and a retry or redelivery of one sends what it sends now."""
    if isinstance(value, dict):
        return {key: z_form(item) if key.endswith("_at") and isinstance(item, str) else _times_z(item)
                for key, item in value.items()}
    return value


def _backoff(attempts: int) -> timedelta:
    """Wait before automatic attempt attempts+1: base × 2^(attempts−1), at most MAX_BACKOFF."""
    base = timedelta(seconds=settings.QUORUM_WEBHOOK_RETRY_BASE_SECONDS)
    return min(base * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> bool:
    """Make one attempt of a due delivery; False when it was not due or another sender holds it.

    The claim is a compare-and-set of next_attempt_at (no lock is held while the request runs,
    up to sending.TOTAL_SECONDS): a sender that dies mid-request leaves it due again after
    SEND_LEASE. The result is written in a short transaction of its own."""
    now = now or timezone.now()
    claimed = Delivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + SEND_LEASE)
    if not claimed:
        return False
    delivery = Delivery.objects.select_related("endpoint", "event").get(pk=delivery_id)
    endpoint, event = delivery.endpoint, delivery.event
    secret, unreadable = _secret_of(endpoint) if endpoint.is_active else (None, "")
    if secret is not None:
        body = signing.body_encode(event_body(event))
        headers = {
            signing.SIGNATURE_HEADER: signing.signature_header(
                secret=secret, timestamp=int(timezone.now().timestamp()), body=body,
                previous=_previous_secret_of(endpoint, now=timezone.now())),
            "Quorum-Event": event.type,
            "Quorum-Delivery": str(delivery.pk),
        }
        outcome = webhook_post(url=endpoint.url, body=body, headers=headers)
        ok, code, error, duration = outcome.ok, outcome.response_code, outcome.error, outcome.duration_ms
    elif not endpoint.is_active:
        ok, code, error, duration = False, None, "not sent: the endpoint is disabled", 0
    else:  # retried with backoff like any failure: restoring the old key as a fallback mends it
        ok, code, error, duration = False, None, f"not sent: {unreadable}", 0
    _attempt_record(delivery=delivery, ok=ok, code=code, error=error, duration_ms=duration)
    return True


def _secret_of(endpoint: WebhookEndpoint) -> tuple[str | None, str]:
    """The endpoint's signing secret, or None and why no key of this server opens it."""
    try:
        return sealing.secret_unseal(stored=endpoint.secret), ""
    except sealing.SecretUnreadable as exc:
        return None, exc.message


def _previous_secret_of(endpoint: WebhookEndpoint, *, now: datetime) -> str | None:
    """The secret a rotation replaced, while its window lasts; None after it, or when no key of
    this server opens it (the new secret still signs: receivers that moved on verify)."""
    if previous_secret_until(endpoint, now=now) is None:
        return None
    try:
        return sealing.secret_unseal(stored=endpoint.previous_secret)
    except sealing.SecretUnreadable:
        logger.warning("webhook endpoint %s: the rotated-out secret is unreadable; signed with the new one only",
                       endpoint.pk)
        return None


@transaction.atomic
def _attempt_record(*, delivery: Delivery, ok: bool, code: int | None, error: str, duration_ms: int) -> None:
    """Log the attempt and set the delivery's state. `delivery` was read when the attempt was
    claimed; two quick redeliveries can have two attempts in flight, so the row is locked and read
    again here: each attempt gets its own number, and a failure never turns a delivery the
    receiver once accepted into "failed" (it stays delivered; the log shows the failure)."""
    now = timezone.now()
    fresh = Delivery.objects.select_for_update().get(pk=delivery.pk)
    attempts = fresh.attempts + 1
    redelivery = delivery.redelivery_asked or fresh.redelivery_asked  # as asked when it was claimed
    DeliveryAttempt.objects.create(
        delivery=delivery, number=attempts, at=now, response_code=code, error=error,
        duration_ms=duration_ms, redelivery=redelivery,
    )
    delivered_before = fresh.attempt_log.filter(error="", response_code__isnull=False).exists()
    if ok or delivered_before:
        status, next_at = DeliveryStatus.SUCCEEDED, None
    elif redelivery or attempts >= settings.QUORUM_WEBHOOK_MAX_ATTEMPTS or not delivery.endpoint.is_active:
        status, next_at = DeliveryStatus.FAILED, None
    else:
        status, next_at = DeliveryStatus.PENDING, now + _backoff(attempts)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status, attempts=attempts, next_attempt_at=next_at, last_attempt_at=now,
        response_code=code, error=error, redelivery_asked=False,
    )
    if not ok:
        logger.info("webhook delivery %s attempt %s failed: %s", delivery.pk, attempts, error)


def deliveries_due(*, now: datetime, limit: int) -> list[int]:
    """Pending deliveries whose next attempt is due (a live sender's claim is in the future)."""
    return list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at").values_list("pk", flat=True)[:limit]
    )
