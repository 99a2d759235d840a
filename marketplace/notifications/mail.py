"""E-mail to a client organization's people when something about a job needs them.

Sent for the events recorded with mail=True (job_events.py): a job completed, paused for want
of a budget, missed its quality promise. The recipients are the organization's active clients
with an address. Django's EMAIL_BACKEND decides where it goes: the console by default, SMTP when
EMAIL_HOST is set (README, "Configuration").

Like a delivery, a mail is claimed by compare-and-set (mail_claimed_at) and sent outside any
transaction; a failed send is tried again by the sweep after MAIL_LEASE, MAIL_MAX_ATTEMPTS times.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db.models import Q
from django.utils import timezone

from marketplace.accounts.models import Role, User
from marketplace.notifications.models import Event, EventType

logger = logging.getLogger(__name__)

MAIL_LEASE = timedelta(minutes=2)
MAIL_MAX_ATTEMPTS = 5


def _recipients(organization_id: int) -> list[str]:
    emails = User.objects.filter(
        organization_id=organization_id, role=Role.CLIENT, is_active=True
    ).exclude(email="").order_by("pk").values_list("email", flat=True)
    return list(dict.fromkeys(emails))


def mail_compose(event: Event) -> tuple[str, str]:
    """(subject, plain-text body) of an event's e-mail."""
    data = event.data
    job = data["job"]
    title = job["title"]
    link = f"{settings.QUORUM_SITE_URL}/portal/jobs/{job['id']}/"
    if event.type == EventType.JOB_COMPLETED:
        money = data.get("settlement") or {}
        subject = f"Job “{title}” is complete"
        lines = [
            f"Your job “{title}” is complete: {data.get('items_completed', 0)} items labeled.",
            f"Charged: {money.get('charged') or '0.00'} (credits {money.get('credits') or '0.00'}); "
            f"returned to your balance: {money.get('refunded') or '0.00'}.",
            "The results are ready to download from the job's page.",
        ]
    elif event.type == EventType.JOB_PAUSED:
        subject = f"Job “{title}” is paused: it has no budget to pay workers"
        lines = [
            f"Your job “{title}” stopped handing out work: it has no open budget to pay workers from",
            "(it was published before Quorum held every job's cost in escrow). Quorum's staff can open",
            "its escrow; reply to this message or write to support, then resume the job from its page.",
        ]
    elif event.type == EventType.JOB_PROMISE_MISSED:
        subject = f"Job “{title}” missed its quality promise: you are credited"
        lines = [
            f"The labels delivered for “{title}” are estimated {data['delivered_accuracy']} accurate "
            f"(interval {data['interval'][0]} to {data['interval'][1]}), short of the "
            f"{data['promised_accuracy']} promised.",
            f"Credited: {data.get('credit') or '0.00'} ({data['credit_rate']} of the charge), shown on the invoice.",
            f"How it was measured: {data['method']}",
        ]
    else:
        subject, lines = f"Job “{title}”: {event.type}", [f"{event.type} for your job “{title}”."]
    return subject, "\n".join([*lines, "", link, "", "— Quorum"]) + "\n"


def event_mail_send(*, event_id: int, now: datetime | None = None) -> bool:
    """Send an event's e-mail unless sent, given up on, or held by another sender; True if sent."""
    now = now or timezone.now()
    claimed = (
        Event.objects.filter(pk=event_id, mail_wanted=True, mail_sent_at=None, mail_attempts__lt=MAIL_MAX_ATTEMPTS)
        .filter(Q(mail_claimed_at=None) | Q(mail_claimed_at__lte=now - MAIL_LEASE))
        .update(mail_claimed_at=now)
    )
    if not claimed:
        return False
    event = Event.objects.get(pk=event_id)
    recipients = _recipients(event.organization_id)
    subject, body = mail_compose(event)
    try:
        connection = get_connection(fail_silently=False)
        # One message per person: colleagues' addresses are not shared in a To line.
        messages = [EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [to], connection=connection)
                    for to in recipients]
        connection.send_messages(messages)
    except Exception as exc:  # SMTP down, refused, timed out: the sweep tries again after the lease
        logger.warning("e-mail of event %s failed: %s", event_id, exc)
        Event.objects.filter(pk=event_id).update(
            mail_attempts=event.mail_attempts + 1, mail_error=f"{type(exc).__name__}: {exc}"[:300])
        return False
    Event.objects.filter(pk=event_id).update(
        mail_sent_at=now, mail_attempts=event.mail_attempts + 1,
        mail_error="" if recipients else "nobody in the organization has an e-mail address",
    )
    return True


def mails_due(*, now: datetime, limit: int) -> list[int]:
    """Events whose e-mail is unsent, not held by a live sender and not given up on."""
    return list(
        Event.objects.filter(mail_wanted=True, mail_sent_at=None, mail_attempts__lt=MAIL_MAX_ATTEMPTS)
        .filter(Q(mail_claimed_at=None) | Q(mail_claimed_at__lte=now - MAIL_LEASE))
        .order_by("pk").values_list("pk", flat=True)[:limit]
    )
