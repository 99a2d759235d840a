"""Webhook endpoints: a client registers, edits and deletes them (API and portal).

Every lookup starts from the requester's organization: another organization's endpoint looks
absent (404). The URL is checked when registered or changed (targets.py) and before every request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import ApplicationError, NotFound
from marketplace.notifications import signing
from marketplace.notifications.models import EventType, WebhookEndpoint
from marketplace.notifications.sealing import SecretUnreadable, secret_reseal, secret_seal
from marketplace.notifications.targets import target_check

MAX_ENDPOINTS = 20  # per organization
MAX_DESCRIPTION = 200


def organization_of(user: User) -> int:
    if not user.is_client or user.organization_id is None:
        raise NotFound("No such webhook endpoint.")
    return user.organization_id


def events_check(events: Any) -> list[str]:
    """A non-empty list of known event types, each once, in the order given."""
    known = [choice.value for choice in EventType]
    if not isinstance(events, list | tuple) or not events:
        raise ApplicationError(f"events must be a non-empty list; choose from {', '.join(known)}.")
    unknown = [str(e)[:40] for e in events if e not in known]
    if unknown:
        raise ApplicationError(
            f"Unknown event {unknown[0]!r}; choose from {', '.join(known)}.", details={"unknown_events": unknown[:10]}
        )
    return list(dict.fromkeys(events))


def _description_check(description: Any) -> str:
    if not isinstance(description, str):
        raise ApplicationError("description must be text.")
    if len(description) > MAX_DESCRIPTION:
        raise ApplicationError(f"description must be at most {MAX_DESCRIPTION} characters.")
    return description.strip()


@transaction.atomic
def webhook_endpoint_create(
    *, user: User, url: str, events: Sequence[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Register a URL for some events; returns the endpoint and its secret (shown this once).

    The URL is checked now (https, a public address: targets.py) and again before each request."""
    organization_id = organization_of(user)
    checked_events = events_check(events)
    checked_description = _description_check(description)
    target_check(url)
    if WebhookEndpoint.objects.filter(organization_id=organization_id).count() >= MAX_ENDPOINTS:
        raise ApplicationError(f"An organization can have at most {MAX_ENDPOINTS} webhook endpoints.")
    secret = signing.secret_generate()
    endpoint = WebhookEndpoint.objects.create(
        organization_id=organization_id, url=url.strip(), events=checked_events,
        description=checked_description, secret=secret_seal(secret=secret), created_by=user,
    )
    return endpoint, secret


def webhook_endpoint_get(*, user: User, endpoint_id: int) -> WebhookEndpoint:
    """One of the user's organization's endpoints; another organization's looks absent (404)."""
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id, organization_id=organization_of(user)).first()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


@transaction.atomic
def webhook_endpoint_update(*, user: User, endpoint_id: int, fields: dict[str, Any]) -> WebhookEndpoint:
    """Change url, events, description or is_active; all checked before anything is saved."""
    endpoint = webhook_endpoint_get(user=user, endpoint_id=endpoint_id)
    unknown = sorted(set(fields) - {"url", "events", "description", "is_active"})
    if unknown:
        raise ApplicationError(f"Unknown field(s): {', '.join(unknown)[:200]}.")
    if "url" in fields:
        target_check(fields["url"])
        endpoint.url = fields["url"].strip()
    if "events" in fields:
        endpoint.events = events_check(fields["events"])
    if "description" in fields:
        endpoint.description = _description_check(fields["description"])
    if "is_active" in fields:
        if not isinstance(fields["is_active"], bool):
            raise ApplicationError("is_active must be true or false.")
        endpoint.is_active = fields["is_active"]
    endpoint.save()
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, user: User, endpoint_id: int) -> None:
    """Delete an endpoint and its delivery log (nothing more is sent to it)."""
    webhook_endpoint_get(user=user, endpoint_id=endpoint_id).delete()


MAX_KEEP_OLD_HOURS = 168  # a week: long enough for a client's slowest deploy, short enough to matter
DEFAULT_KEEP_OLD_HOURS = 24


def keep_old_hours_check(value: Any) -> int:
    """Whole hours from 0 to MAX_KEEP_OLD_HOURS (booleans and fractions refused, not rounded)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_KEEP_OLD_HOURS:
        raise ApplicationError(
            f"keep_old_hours must be a whole number of hours from 0 to {MAX_KEEP_OLD_HOURS}.",
            details={"keep_old_hours": "invalid"},
        )
    return value


@transaction.atomic
def webhook_endpoint_secret_rotate(
    *, user: User, endpoint_id: int, keep_old_hours: int = DEFAULT_KEEP_OLD_HOURS
) -> tuple[WebhookEndpoint, str]:
    """A new signing secret (returned, shown this once). The one it replaces keeps signing beside
    it for `keep_old_hours` (0: it stops at once, for a leaked secret), so receivers can switch
    without a delivery failing meanwhile. A second rotation inside the window drops the oldest:
    only the secret just replaced signs beside the new one."""
    hours = keep_old_hours_check(keep_old_hours)
    organization_id = organization_of(user)
    # Row lock: two rotations at once would each keep the same old secret and lose one new one.
    endpoint = WebhookEndpoint.objects.select_for_update().filter(
        pk=endpoint_id, organization_id=organization_id).first()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    secret = signing.secret_generate()
    if hours:
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_until = timezone.now() + timedelta(hours=hours)
    else:
        endpoint.previous_secret, endpoint.previous_secret_until = "", None
    endpoint.secret = secret_seal(secret=secret)
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    return endpoint, secret


@dataclass(frozen=True)
class Resealed:
    resealed: int
    unreadable: list[int]  # endpoints no configured key opens: register them anew


def webhook_secrets_reseal() -> Resealed:
    """Seal every endpoint's secret under the current SECRET_KEY, after a rotation that kept the
    old key in SECRET_KEY_FALLBACKS; once nothing is unreadable, the fallback can be dropped.
    Each row is a compare-and-set on the value read, so a concurrent change is never overwritten."""
    resealed, unreadable = 0, []
    rows = WebhookEndpoint.objects.order_by("pk").values_list("pk", "secret", "previous_secret")
    for pk, stored, previous in rows.iterator():
        try:
            fresh = secret_reseal(stored=stored)
        except SecretUnreadable:
            unreadable.append(pk)
            continue
        # The rotated-out secret too (it signs until its window ends); one no key opens is dropped,
        # since it could never sign again anyway.
        try:
            fresh_previous = secret_reseal(stored=previous) if previous else ""
        except SecretUnreadable:
            fresh_previous = ""
        resealed += WebhookEndpoint.objects.filter(pk=pk, secret=stored, previous_secret=previous).update(
            secret=fresh, previous_secret=fresh_previous)
    return Resealed(resealed=resealed, unreadable=unreadable)
