"""Sending once the recording transaction commits, where QUORUM_TASKS says (tasks.py explains).

Under "celery" the workers run tasks.deliver_task and tasks.mail_task, sent by name: tasks.py
imports the modules that record events, and those import this one.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connections

from marketplace.commit import on_commit_robust
from marketplace.notifications.delivering import delivery_attempt
from marketplace.notifications.mail import event_mail_send

logger = logging.getLogger(__name__)

DELIVER_TASK = "notifications.deliver"
MAIL_TASK = "notifications.mail"
# Requests wait on the network: a few threads, so one slow receiver does not hold up the rest.
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="notify")


def dispatch_after_commit(*, delivery_ids: list[int], mail_event_id: int | None) -> None:
    """Once the caller's transaction commits, send these deliveries and this event's e-mail."""
    if delivery_ids or mail_event_id is not None:
        on_commit_robust(_dispatch_all, delivery_ids=delivery_ids, mail_event_id=mail_event_id)


def _dispatch_all(*, delivery_ids: list[int], mail_event_id: int | None) -> None:
    for delivery_id in delivery_ids:
        dispatch(DELIVER_TASK, delivery_id)
    if mail_event_id is not None:
        dispatch(MAIL_TASK, mail_event_id)


def dispatch(task: str, row_id: int) -> None:
    mode = settings.QUORUM_TASKS
    if mode == "celery":
        from marketplace.celery import app  # the Celery app is only built where it is used

        app.send_task(task, args=[row_id])
    elif mode == "thread":
        _pool.submit(_in_thread, task, row_id)
    else:
        _RUN[task](row_id)


def deliver(delivery_id: int) -> None:
    delivery_attempt(delivery_id=delivery_id)


def mail(event_id: int) -> None:
    event_mail_send(event_id=event_id)


_RUN = {DELIVER_TASK: deliver, MAIL_TASK: mail}


def _in_thread(task: str, row_id: int) -> None:
    try:
        _RUN[task](row_id)
    except Exception:
        logger.exception("%s of %s failed", task, row_id)
    finally:
        connections.close_all()  # this thread's connection; the pool thread lives on
