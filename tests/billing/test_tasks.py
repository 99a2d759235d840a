"""The release schedule: Celery beat in production, a timer thread in the embedded server.

Wendy earned pay a week and a day ago; nothing but the schedule makes it available.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from marketplace import periodic, tasking
from marketplace.accounts.models import Organization, User
from marketplace.billing import tasks
from marketplace.billing.models import Earning, LedgerTransaction, TransactionKind
from marketplace.billing.selectors import worker_money
from marketplace.celery import app
from tests.billing.helpers import D, fund, published, work_all

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keep_the_test_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Celery worker closes its connection around a task; here that is the test's transaction."""
    monkeypatch.setattr(tasking, "close_old_connections", lambda: None)


def _earned_long_ago(ada: User, acme: Organization, wendy: User) -> D:
    fund(ada, acme, "10.00")
    earnings = work_all(wendy, published(acme, items=5))
    Earning.objects.filter(worker=wendy).update(created_at=timezone.now() - timedelta(days=8))
    return sum((e.amount for e in earnings), D("0.00"))


def test_celery_beat_schedules_the_release_task_that_workers_know(settings: Any) -> None:
    app.loader.import_default_modules()  # what a worker does at start: autodiscover tasks.py
    entry = app.conf.beat_schedule["earnings-release"]
    assert entry["task"] == tasks.CELERY_TASK and tasks.CELERY_TASK in app.tasks
    assert entry["schedule"] == 60.0 * settings.QUORUM_EARNINGS_RELEASE_MINUTES > 0


def test_the_scheduled_task_releases_due_earnings_once_in_an_audited_transaction(
    ada: User, acme: Organization, wendy: User
) -> None:
    due = _earned_long_ago(ada, acme, wendy)

    app.tasks[tasks.CELERY_TASK].apply()
    app.tasks[tasks.CELERY_TASK].apply()  # the next tick finds nothing left to move

    assert worker_money(worker=wendy).available == due and worker_money(worker=wendy).pending == 0
    release = LedgerTransaction.objects.get(kind=TransactionKind.EARNINGS_RELEASE)
    assert release.reference.startswith(f"release:{wendy.pk}:") and release.worker_id == wendy.pk


def test_the_release_goes_batch_by_batch_until_nothing_is_due(
    ada: User, acme: Organization, wendy: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    due = _earned_long_ago(ada, acme, wendy)
    monkeypatch.setattr(tasks, "BATCH", 2)
    released = tasks.earnings_release_due()
    assert (released.earnings, released.amount) == (5, due)
    assert LedgerTransaction.objects.filter(kind=TransactionKind.EARNINGS_RELEASE).count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_embedded_timer_releases_from_its_own_thread_at_start_and_stops(
    ada: User, acme: Organization, wendy: User, settings: Any
) -> None:
    due = _earned_long_ago(ada, acme, wendy)
    settings.QUORUM_TASKS = "thread"  # the embedded default
    periodic.timers_stop()  # an earlier test's request already counted as this process's first
    periodic.ticked["earnings-release"].clear()
    try:
        assert periodic.timers_on_request(sender=None) is None
        assert periodic.ticked["earnings-release"].wait(timeout=30), "the timer never ticked"
        assert not periodic.timer_start("earnings-release"), "one timer per process"
    finally:
        periodic.timers_stop()
    assert worker_money(worker=wendy).available == due
