"""Where notifications are sent, and the sweeps that make sure they are.

After the transaction that recorded an event commits, its deliveries and e-mail are dispatched
by QUORUM_TASKS: "inline" sends in the committing thread (tests), "thread" in a small pool of this
process (the embedded default), "celery" as tasks on the workers (production). Whatever that
first try misses (a crash after commit, a receiver that failed and waits for its retry, an SMTP
outage) the sweep sends: a periodic job (marketplace/periodic.py, every
QUORUM_NOTIFICATIONS_SWEEP_SECONDS) that dispatches every due delivery and unsent e-mail. A
double dispatch is harmless: each send first claims its row (delivering.py, mail.py).

The job-completion sweep lives here too: completing a job is an event to tell the client of, so
the sweep passes billing's settlement the callback that queues it (an app below cannot call up).
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from marketplace.billing.settlement import jobs_complete_sweep
from marketplace.jobs.models import JobStatus
from marketplace.notifications.delivering import deliveries_due, delivery_attempt
from marketplace.notifications.dispatch import DELIVER_TASK, MAIL_TASK, deliver, dispatch, mail
from marketplace.notifications.job_events import consensus_ready_record_due, job_ended_record
from marketplace.notifications.mail import event_mail_send, mails_due
from marketplace.realtime import events as realtime_events
from marketplace.tasking import db_task

logger = logging.getLogger(__name__)

SWEEP_TASK = "notifications.sweep"
COMPLETION_SWEEP_TASK = "notifications.job_completion_sweep"
SWEEP_BATCH = 200


deliver_task = db_task(DELIVER_TASK)(deliver)
mail_task = db_task(MAIL_TASK)(mail)


def notifications_sweep_tick(*, now: datetime | None = None) -> int:
    """Announce finished completion runs (job.consensus_ready), then dispatch every delivery
    whose attempt is due and every unsent e-mail; how many were dispatched.

    `now` (tests) stands for the clock, so a retry planned for later is due without waiting.
    Inline, the sends happen in this call, with the same `now`."""
    now = now or timezone.now()
    consensus_ready_record_due(now=now, limit=SWEEP_BATCH)  # its deliveries are due below
    deliveries = deliveries_due(now=now, limit=SWEEP_BATCH)
    mails = mails_due(now=now, limit=SWEEP_BATCH)
    for delivery_id in deliveries:
        if settings.QUORUM_TASKS == "inline":
            delivery_attempt(delivery_id=delivery_id, now=now)
        else:
            dispatch(DELIVER_TASK, delivery_id)
    for event_id in mails:
        if settings.QUORUM_TASKS == "inline":
            event_mail_send(event_id=event_id, now=now)
        else:
            dispatch(MAIL_TASK, event_id)
    return len(deliveries) + len(mails)


# The Celery entry point of the notifications sweep (marketplace/periodic.py).
notifications_sweep_task = db_task(SWEEP_TASK)(notifications_sweep_tick)


def job_completion_sweep_tick() -> None:
    """Complete and settle open jobs whose every item is complete (billing/settlement.py), each
    with its job.completed event queued in the transaction that completes it: safe anywhere and
    any number of times at once, each job is completed under its row lock. Then tell the
    browsers, as the submit that completes a job does (flows._job_complete_after_commit)."""
    for job_id in jobs_complete_sweep(then=job_ended_record):
        realtime_events.job_status(job_id=job_id, status=JobStatus.COMPLETED)  # committed: sent at once


# The Celery entry point of the completion sweep (marketplace/periodic.py).
job_completion_sweep_task = db_task(COMPLETION_SWEEP_TASK)(job_completion_sweep_tick)
