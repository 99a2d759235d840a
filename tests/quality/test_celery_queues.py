"""Under Celery, three kinds of task wait on three queues, each with its own worker process (the
Procfile's worker, consensus and asked), so a fit that takes minutes holds back neither the short
tasks due every few seconds nor another kind of run. Real worker processes on a real Redis broker,
each consuming one queue private to the test; a run "takes minutes" here because the test holds
its row locked, so its worker waits at the run's first write."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import transaction

from marketplace.billing.models import Earning
from marketplace.billing.tasks import PAY_POST_TASK
from marketplace.quality.models import ConsensusRun
from marketplace.quality.tasks import consensus_schedule
from tests.conftest import needs_postgres
from tests.factories import WorkerFactory, open_job_with_items
from tests.live_server import celery_worker
from tests.live_server import test_database_url as database_url
from tests.quality.run_helpers import judged_job, submit
from tests.quality.test_tasks import _redis_url, _wait_for_finish

pytestmark = [needs_postgres, pytest.mark.django_db(transaction=True)]


@contextmanager
def _workers(settings: Any, tmp_path: Path, *kinds: str, pool: str = "solo") -> Iterator[None]:
    """A worker process for each named queue ("short", "consensus", "asked"), every queue
    private to this test so that no other worker on the broker takes its tasks."""
    broker = _redis_url()
    if broker is None:
        pytest.skip("needs Redis at 127.0.0.1:6379 (or REDIS_URL) for the Celery broker")
    from marketplace.celery import app

    tag = uuid.uuid4().hex[:8]
    queues = {kind: f"quorum-test-{kind}-{tag}" for kind in ("short", "consensus", "asked")}
    app.conf.update(broker_url=broker, task_default_queue=queues["short"], task_always_eager=False)
    settings.QUORUM_TASKS = "celery"
    settings.QUORUM_CONSENSUS_QUEUE = queues["consensus"]
    settings.QUORUM_CONSENSUS_ASKED_QUEUE = queues["asked"]
    logs = [tmp_path / f"{kind}.log" for kind in kinds]
    try:
        with ExitStack() as stack:
            for kind, log in zip(kinds, logs, strict=True):
                stack.enter_context(celery_worker(queue=queues[kind], broker=broker, log=log, pool=pool))
            try:
                yield
            except AssertionError as failed:  # say what the workers said
                tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs if log.exists())
                raise AssertionError(f"{failed}\n{tails}") from failed
    finally:
        app.conf.update(broker_url=django_settings.CELERY_BROKER_URL, task_default_queue="celery")


@contextmanager
def _held(run: ConsensusRun) -> Iterator[None]:
    """The run's worker takes it and then waits, as if its fit took minutes, until the block ends:
    another connection holds the run's row, which the run's first step writes. Entered once the
    worker is waiting on it."""
    with psycopg.connect(database_url(), autocommit=False) as holder:
        holder.execute("SELECT 1 FROM quality_consensusrun WHERE id = %s FOR UPDATE", [run.pk])
        _wait_until(lambda: _waiting_on(holder.info.backend_pid) > 0, "the run's worker took it")
        yield
        holder.rollback()


def _waiting_on(pid: int) -> int:
    with psycopg.connect(database_url(), autocommit=True) as probe:
        row = probe.execute("SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                            [pid]).fetchone()
    return int(row[0]) if row else 0


def _wait_until(done: Callable[[], bool], what: str, seconds: float = 90) -> None:
    """Poll as a page would, until `done` or the deadline (a worker process starts in seconds)."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.1)


def test_a_jobs_own_run_finishes_while_a_run_someone_asked_for_holds_its_worker(
    settings: Any, tmp_path: Path
) -> None:
    asked, own = judged_job(items=3, answers=("cat", "cat")), judged_job(items=3, answers=("dog", "dog"))
    with _workers(settings, tmp_path, "consensus", "asked"):
        with transaction.atomic():
            comparison = consensus_schedule(job=asked, trigger=ConsensusRun.Trigger.MANUAL, method="mv")
        with _held(comparison):
            with transaction.atomic():
                periodic = consensus_schedule(job=own, trigger=ConsensusRun.Trigger.PERIODIC)

            assert _wait_for_finish(periodic.pk, seconds=90).status == ConsensusRun.Status.SUCCEEDED
            assert ConsensusRun.objects.get(pk=comparison.pk).status == ConsensusRun.Status.RUNNING
        assert _wait_for_finish(comparison.pk, seconds=90).status == ConsensusRun.Status.SUCCEEDED


def test_workers_pay_is_posted_while_a_jobs_consensus_run_holds_its_worker(
    settings: Any, tmp_path: Path
) -> None:
    busy = judged_job(items=3, answers=("cat", "cat"))
    job, wendy = open_job_with_items(items=4, overlap=2), WorkerFactory()
    for _ in range(2):
        submit(wendy, job, "cat")
    owed = Earning.objects.filter(worker=wendy, job=job)
    assert owed.count() == 2 and not owed.filter(posted_at__isnull=False).exists()

    with _workers(settings, tmp_path, "short", "consensus"):
        with transaction.atomic():
            fit = consensus_schedule(job=busy, trigger=ConsensusRun.Trigger.PERIODIC)
        with _held(fit):
            from marketplace.celery import app

            app.send_task(PAY_POST_TASK)  # what beat sends every QUORUM_PAY_POST_SECONDS

            _wait_until(lambda: not owed.filter(posted_at__isnull=True).exists(), "wendy's pay posted")
            assert ConsensusRun.objects.get(pk=fit.pk).status == ConsensusRun.Status.RUNNING
        assert _wait_for_finish(fit.pk, seconds=90).status == ConsensusRun.Status.SUCCEEDED


def test_a_run_someone_asked_for_that_outlives_its_time_limit_is_stopped_and_the_next_one_runs(
    settings: Any, tmp_path: Path
) -> None:
    settings.QUORUM_CONSENSUS_MAX_SECONDS = 1  # the worker kills an asked run after 2 s
    stuck_job, next_job = judged_job(items=3, answers=("cat", "cat")), judged_job(items=3, answers=("dog", "dog"))
    with _workers(settings, tmp_path, "asked", pool="prefork"):  # the Procfile's pool
        with transaction.atomic():
            stuck = consensus_schedule(job=stuck_job, trigger=ConsensusRun.Trigger.MANUAL, method="mv")
        with _held(stuck):
            with transaction.atomic():
                following = consensus_schedule(job=next_job, trigger=ConsensusRun.Trigger.MANUAL, method="mv")

            assert _wait_for_finish(following.pk, seconds=90).status == ConsensusRun.Status.SUCCEEDED
            # Killed where it stood; it never beat, so the sweep fails it as never started.
            assert ConsensusRun.objects.get(pk=stuck.pk).status == ConsensusRun.Status.RUNNING
