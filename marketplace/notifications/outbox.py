"""The outbox: events written in the transaction that changes the job, sent after it commits.

`event_record` is called inside that transaction (flows.py, the completion sweep): the event and
one pending delivery per subscribed endpoint commit with the change or not at all. Sending starts
once it commits (dispatch.dispatch_after_commit); if the process dies first, the sweep finds the
pending rows. Sending is at least once: a receiver dedupes on the event id.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import NotFound
from marketplace.jobs.models import Job
from marketplace.notifications.dispatch import dispatch_after_commit
from marketplace.notifications.models import Delivery, DeliveryStatus, Event, EventType, WebhookEndpoint
from marketplace.notifications.services import organization_of


def event_record(*, job: Job, event_type: EventType, data: dict[str, Any], mail: bool = False) -> Event:
    """Queue an event of a job: the row, a pending delivery per subscribed active endpoint, and
    (mail=True) an e-mail to the organization's clients. Call it inside the transaction that
    makes the change; sending starts on commit (tasks.py), or from the sweep after a crash.

    The event takes the job's next `sequence` under the job's row lock (FOR NO KEY UPDATE: a
    status change holds it FOR UPDATE already; the consensus_ready sweep takes it here, first),
    so a job's events are numbered in the order they commit."""
    list(Job.objects.select_for_update(no_key=True).filter(pk=job.pk).values_list("pk", flat=True))
    last = Event.objects.filter(job_id=job.pk).aggregate(last=Max("sequence"))["last"] or 0
    now = timezone.now()
    event = Event.objects.create(
        organization_id=job.organization_id, job_id=job.pk, type=event_type, data=data, created_at=now,
        mail_wanted=mail, sequence=last + 1,
    )
    endpoints = [
        endpoint.pk
        for endpoint in WebhookEndpoint.objects.filter(organization_id=job.organization_id, is_active=True)
        if event_type in endpoint.events
    ]
    deliveries = Delivery.objects.bulk_create(
        [Delivery(endpoint_id=pk, event=event, next_attempt_at=now) for pk in endpoints]
    )
    dispatch_after_commit(delivery_ids=[d.pk for d in deliveries], mail_event_id=event.pk if mail else None)
    return event


@transaction.atomic
def delivery_redeliver(*, user: User, delivery_id: int, endpoint_id: int | None = None) -> Delivery:
    """A person asks to send a delivery again (whatever its status): one attempt, now, no retries."""
    deliveries = Delivery.objects.filter(pk=delivery_id, endpoint__organization_id=organization_of(user))
    if endpoint_id is not None:
        deliveries = deliveries.filter(endpoint_id=endpoint_id)
    # Locked against another redelivery of it. An attempt already in flight is not stopped: its
    # result, recorded after this, stands for the redelivery (it is that fresh attempt).
    delivery = deliveries.select_for_update(of=("self",)).first()
    if delivery is None:
        raise NotFound("No such delivery.")
    delivery.status, delivery.redelivery_asked = DeliveryStatus.PENDING, True
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "redelivery_asked", "next_attempt_at"])
    dispatch_after_commit(delivery_ids=[delivery.pk], mail_event_id=None)
    return delivery
