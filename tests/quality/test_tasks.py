"""Consensus triggers (completion, after N judgments then at each doubling, every M minutes) and
the task runners."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.test import TestCase
from django.utils import timezone

from marketplace.flows import job_cancel
from marketplace.jobs.models import Job, JobStatus
from marketplace.labeling.models import Judgment
from marketplace.consensus import aggregate
from marketplace.quality import runs
from marketplace.quality.models import ConsensusRun
from marketplace.quality.tasks import consensus_schedule, trigger_memory_forget
from tests.conftest import cache_forget, needs_postgres
from tests.factories import ClientFactory, WorkerFactory, open_job_with_items
from tests.quality.run_helpers import judged_job, submit

pytestmark = pytest.mark.django_db


def _runs(job: Job, trigger: str) -> list[ConsensusRun]:
    return list(ConsensusRun.objects.filter(job=job, trigger=trigger))


def test_a_job_that_completes_gets_a_completion_run_over_all_its_judgments(settings: Any) -> None:
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 0
    job = judged_job(items=3, answers=("cat", "dog"))
    assert job.status == JobStatus.COMPLETED
    (run,) = _runs(job, ConsensusRun.Trigger.COMPLETION)
    assert run.status == ConsensusRun.Status.SUCCEEDED and run.judgments == 6 and run.items == 3


def test_a_job_cancelled_after_some_judgments_gets_a_final_run_over_what_it_collected(
    settings: Any,
) -> None:
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 0
    job = open_job_with_items(items=6, overlap=2)
    for label in ("cat", "cat"):
        worker = WorkerFactory()
        for _ in range(2):
            submit(worker, job, label)

    with TestCase.captureOnCommitCallbacks(execute=True):
        job_cancel(job=job, user=ClientFactory(organization=job.organization))

    (run,) = _runs(job, ConsensusRun.Trigger.COMPLETION)
    judged = Judgment.objects.filter(job=job).values("item_id").distinct().count()
    assert run.status == ConsensusRun.Status.SUCCEEDED and run.judgments == 4 and run.items == judged


def test_a_job_cancelled_before_any_judgment_gets_no_run() -> None:
    job = open_job_with_items(items=3, overlap=1)

    with TestCase.captureOnCommitCallbacks(execute=True):
        job_cancel(job=job, user=ClientFactory(organization=job.organization))

    assert not ConsensusRun.objects.filter(job=job).exists()


def test_a_running_job_is_refitted_after_its_first_n_judgments_then_each_time_they_double(
    settings: Any,
) -> None:
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 2
    job = open_job_with_items(items=12, overlap=1)
    worker = WorkerFactory()
    for _ in range(10):
        submit(worker, job, "dog")
    runs = sorted(_runs(job, ConsensusRun.Trigger.PERIODIC), key=lambda r: r.pk)
    assert [r.judgments for r in runs] == [2, 4, 8]  # not at 6 or 10: the data had not doubled


def test_a_running_job_gets_a_run_once_the_period_has_passed_since_the_last(settings: Any) -> None:
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 0
    settings.QUORUM_CONSENSUS_EVERY_MINUTES = 10
    job = open_job_with_items(items=5, overlap=1)
    worker = WorkerFactory()
    submit(worker, job, "dog")
    assert not _runs(job, ConsensusRun.Trigger.PERIODIC)  # published just now: not due yet
    Job.objects.filter(pk=job.pk).update(published_at=timezone.now() - timedelta(minutes=11))
    cache_forget()  # the once-a-minute check throttle, and this process's memory of it
    trigger_memory_forget()
    submit(worker, job, "dog")
    (run,) = _runs(job, ConsensusRun.Trigger.PERIODIC)
    assert run.status == ConsensusRun.Status.SUCCEEDED and run.judgments == 2


def test_a_trigger_while_a_run_is_in_progress_starts_nothing_and_breaks_no_submit(
    settings: Any,
) -> None:
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 1
    job = open_job_with_items(items=3, overlap=1)
    busy = consensus_schedule(
        job=job, trigger=ConsensusRun.Trigger.MANUAL
    )  # never started: on_commit
    submit(WorkerFactory(), job, "cat")
    assert list(ConsensusRun.objects.filter(job=job)) == [busy]


def _wait_for_finish(run_id: int, seconds: float = 60) -> ConsensusRun:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run = ConsensusRun.objects.get(pk=run_id)
        if run.status != ConsensusRun.Status.RUNNING:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish within {seconds} s")


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_the_thread_runner_executes_a_claimed_run_after_commit(settings: Any) -> None:
    job = judged_job(items=3, answers=("cat", "cat"))  # its completion run ran inline
    settings.QUORUM_TASKS = "thread"
    with transaction.atomic():
        run = consensus_schedule(job=job, trigger=ConsensusRun.Trigger.MANUAL)
    assert _wait_for_finish(run.pk).status == ConsensusRun.Status.SUCCEEDED


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_runs_people_ask_for_queue_apart_and_never_hold_back_a_jobs_own_run(settings: Any, monkeypatch: Any) -> None:
    """Two long comparison runs asked for at once (held mid-fit here) take one thread between
    them; a job's periodic run still starts and finishes meanwhile."""
    asked_a, asked_b, periodic = (judged_job(items=3, answers=("cat", "cat")) for _ in range(3))
    settings.QUORUM_TASKS = "thread"
    entered, release = threading.Event(), threading.Event()

    def long_fit(votes: Any, *, method: str, **options: Any) -> Any:
        if method == "mv":  # the asked-for runs: as if each took minutes
            entered.set()
            release.wait(60)
        return aggregate(votes, method=method, **options)

    monkeypatch.setattr(runs, "aggregate", long_fit)
    try:
        with transaction.atomic():
            held = [consensus_schedule(job=job, trigger=ConsensusRun.Trigger.MANUAL, method="mv")
                    for job in (asked_a, asked_b)]
        assert entered.wait(30)
        with transaction.atomic():
            own = consensus_schedule(job=periodic, trigger=ConsensusRun.Trigger.PERIODIC)

        assert _wait_for_finish(own.pk).status == ConsensusRun.Status.SUCCEEDED
        assert [ConsensusRun.objects.get(pk=run.pk).status for run in held] == ["running"] * 2
    finally:
        release.set()
    assert [_wait_for_finish(run.pk).status for run in held] == ["succeeded"] * 2


def _redis_url() -> str | None:
    """The broker to test against, when something answers there."""
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    parts = urlparse(url)
    try:
        socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 6379), timeout=0.5
        ).close()
    except OSError:
        return None
    return url


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_on_redis_stores_a_run(settings: Any) -> None:
    url = _redis_url()
    if url is None:
        pytest.skip("needs Redis at 127.0.0.1:6379 (or REDIS_URL) for the Celery broker")
    from celery.contrib.testing.worker import start_worker

    from marketplace.celery import app

    queue = f"quorum-test-{uuid.uuid4().hex[:8]}"  # a private queue: no other worker takes it
    app.conf.update(broker_url=url, task_default_queue=queue, task_always_eager=False)
    job = judged_job(items=3, answers=("dog", "dog", "cat"))  # its completion run ran inline
    settings.QUORUM_TASKS = "celery"
    settings.QUORUM_CONSENSUS_QUEUE = settings.QUORUM_CONSENSUS_ASKED_QUEUE = queue
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=[queue]
        ):
            with transaction.atomic():
                run = consensus_schedule(job=job, trigger=ConsensusRun.Trigger.MANUAL)
            finished = _wait_for_finish(run.pk)
    finally:
        app.conf.update(broker_url=django_settings.CELERY_BROKER_URL, task_default_queue="celery")
    assert finished.status == ConsensusRun.Status.SUCCEEDED and finished.items == 3
    assert ConsensusRun.objects.filter(job=job, status=ConsensusRun.Status.SUCCEEDED).count() == 2
