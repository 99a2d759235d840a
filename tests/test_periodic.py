"""Periodic jobs run from one list: Celery beat's schedule in production, a timer thread per job
in each embedded server, none in tests or when a job's period is 0."""

from __future__ import annotations

import logging
import threading
from typing import Any

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import OperationalError

from marketplace import periodic
from marketplace.celery import app


def test_celery_beat_sends_every_periodic_jobs_task_that_workers_know(settings: Any) -> None:
    app.loader.import_default_modules()  # what a worker does at start: autodiscover tasks.py
    schedule = app.conf.beat_schedule
    assert set(schedule) == {job.name for job in periodic.JOBS}
    assert {"earnings-release", "consensus-sweep", "pay-posting", "job-completion-sweep",
            "notifications-sweep", "progress-snapshots"} <= set(schedule)
    for job in periodic.JOBS:
        assert schedule[job.name]["task"] == job.task and job.task in app.tasks
        assert schedule[job.name]["schedule"] == schedule[job.name]["options"]["expires"] > 0
    assert schedule["consensus-sweep"]["schedule"] == settings.QUORUM_CONSENSUS_SWEEP_SECONDS
    assert schedule["job-completion-sweep"]["schedule"] == settings.QUORUM_JOB_COMPLETION_SWEEP_SECONDS


def test_a_job_whose_period_is_0_is_left_out_of_beats_schedule(settings: Any) -> None:
    settings.QUORUM_CONSENSUS_SWEEP_SECONDS = 0
    assert set(periodic.beat_schedule()) == {job.name for job in periodic.JOBS} - {"consensus-sweep"}


@pytest.mark.django_db(transaction=True)
def test_the_first_request_of_an_embedded_server_starts_one_timer_per_job_and_each_ticks(
    settings: Any,
) -> None:
    settings.QUORUM_TASKS = "thread"  # the embedded default
    # An earlier test's request (through asgi.py's receiver, under "inline") already counted as
    # this process's first: start from a process whose server has answered nothing yet.
    periodic.timers_stop()
    for event in periodic.ticked.values():
        event.clear()
    try:
        periodic.timers_on_request(sender=None)
        periodic.timers_on_request(sender=None)  # later requests start nothing more
        for name, event in periodic.ticked.items():
            assert event.wait(timeout=30), f"{name} never ticked"
        assert periodic.timers_start() == [], "one timer per job per process"
    finally:
        periodic.timers_stop()


def test_no_timer_starts_in_tests_under_celery_beat_or_with_the_period_0(settings: Any) -> None:
    settings.QUORUM_TASKS = "inline"
    assert periodic.timers_start() == []
    settings.QUORUM_TASKS = "celery"  # beat has the schedule
    assert periodic.timers_start() == []
    settings.QUORUM_TASKS = "thread"
    settings.QUORUM_EARNINGS_RELEASE_MINUTES = settings.QUORUM_CONSENSUS_SWEEP_SECONDS = 0
    settings.QUORUM_PAY_POST_SECONDS = 0
    settings.QUORUM_JOB_COMPLETION_SWEEP_SECONDS = settings.QUORUM_NOTIFICATIONS_SWEEP_SECONDS = 0
    settings.QUORUM_TALLY_FOLD_SECONDS = settings.QUORUM_PROGRESS_SNAPSHOT_SECONDS = 0
    assert periodic.timers_start() == []


def test_a_worker_started_without_queues_consumes_every_queue_tasks_are_sent_to() -> None:
    """README's one-worker deployment (`celery -A marketplace.celery worker`): the queues a worker
    consumes when given no --queues are the app's declared ones, and consensus runs go to two of
    them besides the short tasks' default one (quality/tasks.py)."""
    consumed = {queue.name for queue in app.conf.task_queues or ()}  # what builds app.amqp.queues
    assert {django_settings.CELERY_TASK_DEFAULT_QUEUE, django_settings.QUORUM_CONSENSUS_QUEUE,
            django_settings.QUORUM_CONSENSUS_ASKED_QUEUE} <= consumed
    # Each by its own name: bound to one shared key, a task sent to one would reach all three.
    assert all(q.exchange.name == q.routing_key == q.name for q in app.amqp.queues.values())


_tick_done = threading.Event()


def database_down_tick() -> None:
    """A tick while PostgreSQL refuses connections (Django wraps psycopg's error)."""
    _tick_done.set()  # one tick, then the timer stops
    try:
        raise psycopg.OperationalError("connection failed: Connection refused\n\tIs the server running?")
    except psycopg.OperationalError as exc:
        raise OperationalError(str(exc)) from exc


def test_a_tick_during_a_database_outage_logs_one_line_not_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    job = periodic.Periodic(name="pay-posting", task="billing.pay_post", tick=f"{__name__}.database_down_tick",
                            seconds=lambda s: 5.0)
    _tick_done.clear()
    try:
        periodic._run(job, 5.0, _tick_done)  # noqa: SLF001
    finally:
        periodic.ticked[job.name].clear()

    assert len(caplog.text.splitlines()) == 1, caplog.text  # no traceback
    assert caplog.records[0].getMessage() == (
        "periodic job pay-posting failed: the database is unreachable; said once until a run works "
        "(connection failed: Connection refused Is the server running?)")


def test_ticks_through_a_database_outage_say_it_once_and_once_more_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    job = periodic.Periodic(name="tally-fold", task="jobs.tallies_fold", tick=f"{__name__}.outage_then_up_tick",
                            seconds=lambda s: 0.0)
    _ticks.clear()
    try:
        periodic._run(job, 0.0, _outage_over)  # noqa: SLF001
    finally:
        periodic.ticked[job.name].clear()

    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelname != "DEBUG"]
    assert said == [
        ("WARNING", "periodic job tally-fold failed: the database is unreachable; said once until a run "
                    "works (connection failed: Connection refused Is the server running?)"),
        ("INFO", "periodic job tally-fold works again: the database answers"),
    ], caplog.text


_ticks: list[int] = []
_outage_over = threading.Event()


def outage_then_up_tick() -> None:
    """Five ticks while PostgreSQL refuses connections, then one that works, then stop."""
    _ticks.append(1)
    if len(_ticks) <= 5:
        database_down_tick()
    _outage_over.set()
