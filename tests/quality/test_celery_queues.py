"""Under Celery, three kinds of task wait on three queues, each with its own worker process (the
Procfile's worker, consensus and asked), so a fit that takes minutes holds back neither the short
tasks due every few seconds nor another kind of run. Real worker processes on a real Redis broker,
each consuming one queue private to the test. A run "takes minutes" here because the test holds
its row locked, so its worker waits at the run's first write. The tests wait for what a client's
open page waits for: the live event the worker sends through the Redis channel layer."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels_redis.core import RedisChannelLayer
from django.conf import settings as django_settings
from django.utils import timezone

from marketplace import flows
from marketplace.jobs.models import Job, JobStatus
from marketplace.jobs.services import job_transition
from marketplace.labeling.services import judgment_submit, lease_claim
from marketplace.notifications.tasks import COMPLETION_SWEEP_TASK
from marketplace.quality import tasks
from marketplace.quality.models import ConsensusRun
from marketplace.quality.runs import consensus_run_claim
from marketplace.realtime import groups
from marketplace.settings import redis_channel_layer
from tests.conftest import needs_postgres
from tests.factories import WorkerFactory, open_job_with_items, publisher
from tests.live_server import celery_worker
from tests.live_server import test_database_url as database_url
from tests.quality.run_helpers import judged_job
from tests.quality.test_tasks import _redis_url

pytestmark = [needs_postgres, pytest.mark.django_db(transaction=True)]

WAIT = 90  # seconds: a worker process starts in a few; the bound is for a busy machine


@dataclass(frozen=True)
class _Crowd:
    broker: str
    channels_prefix: str
    logs: list[Path]


@contextmanager
def _workers(settings: Any, tmp_path: Path, *kinds: str, pool: str = "solo") -> Iterator[_Crowd]:
    """A worker process for each named queue ("short", "consensus", "asked"), every queue and the
    channel layer's prefix private to this test, so that no other worker takes its tasks."""
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
    crowd = _Crowd(broker, f"quorum-test-{tag}", [tmp_path / f"{kind}.log" for kind in kinds])
    try:
        with ExitStack() as stack:
            for kind, log in zip(kinds, crowd.logs, strict=True):
                stack.enter_context(celery_worker(queue=queues[kind], broker=broker, log=log, pool=pool,
                                                  channels_prefix=crowd.channels_prefix))
            try:
                yield crowd
            except (AssertionError, TimeoutError) as failed:  # say what the workers said
                tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in crowd.logs if log.exists())
                raise AssertionError(f"{failed!r}\n{tails}") from failed
    finally:
        app.conf.update(broker_url=django_settings.CELERY_BROKER_URL, task_default_queue="celery")


def _heard(crowd: _Crowd, group: str, event: dict[str, Any], then: Callable[[], None]) -> None:
    """Listen on `group` as a client's open page does, do `then`, and wait (WAIT seconds at most)
    until an event with every item of `event` arrives."""

    async def listen() -> None:
        layer = RedisChannelLayer(**redis_channel_layer(crowd.broker, prefix=crowd.channels_prefix)["CONFIG"])
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        await sync_to_async(then)()  # in this thread, on the test's database connection
        while True:
            heard = (await asyncio.wait_for(layer.receive(channel), WAIT))["event"]
            if event.items() <= heard.items():
                return

    async_to_sync(listen)()


@contextmanager
def _held(run: ConsensusRun) -> Iterator[None]:
    """The run's worker waits at its first write, as if its fit took minutes, until the block
    ends: another connection holds the run's row. Enter it before the run is sent."""
    with psycopg.connect(database_url(), autocommit=False) as holder:
        holder.execute("SELECT 1 FROM quality_consensusrun WHERE id = %s FOR UPDATE", [run.pk])
        yield
        holder.rollback()


def _claimed(job: Job, trigger: str, method: str = "quorum") -> ConsensusRun:
    """A run claimed and committed but not yet sent (tasks._dispatch sends it), so that _held can
    take its row before any worker does; consensus_schedule does both in one go."""
    return consensus_run_claim(job=job, method=method, trigger=trigger)


def _sent(run: ConsensusRun) -> Callable[[], None]:
    return lambda: tasks._dispatch(run.pk, asked=run.trigger == ConsensusRun.Trigger.MANUAL)


def _consensus_of(job: Job) -> tuple[str, dict[str, Any]]:
    return groups.job(job.pk), {"type": "job.consensus", "job": job.pk}


def test_a_jobs_own_run_finishes_while_a_run_someone_asked_for_holds_its_worker(
    settings: Any, tmp_path: Path
) -> None:
    asked, own = judged_job(items=3, answers=("cat", "cat")), judged_job(items=3, answers=("dog", "dog"))
    with _workers(settings, tmp_path, "consensus", "asked") as crowd:
        comparison = _claimed(asked, ConsensusRun.Trigger.MANUAL, method="mv")
        with _held(comparison):
            _sent(comparison)()
            periodic = _claimed(own, ConsensusRun.Trigger.PERIODIC)

            _heard(crowd, *_consensus_of(own), then=_sent(periodic))
            assert ConsensusRun.objects.get(pk=comparison.pk).status == ConsensusRun.Status.RUNNING
        _heard(crowd, *_consensus_of(asked), then=lambda: None)  # released: it finishes
    assert ConsensusRun.objects.get(pk=periodic.pk).status == ConsensusRun.Status.SUCCEEDED


def test_a_short_task_runs_while_a_jobs_consensus_run_holds_its_worker(settings: Any, tmp_path: Path) -> None:
    busy = judged_job(items=3, answers=("cat", "cat"))
    # An open job whose every item is complete: its last answer came while it was paused, so only
    # the completion sweep (a short task, every minute under beat) completes it.
    job, wendy = open_job_with_items(items=1, overlap=1), WorkerFactory()
    lease = lease_claim(worker=wendy, job=job)
    job_transition(job=job, to=JobStatus.PAUSED)
    judgment_submit(worker=wendy, lease_id=lease.pk, label="cat")
    flows.job_resume(job=job, user=publisher(job.organization))

    with _workers(settings, tmp_path, "short", "consensus") as crowd:
        fit = _claimed(busy, ConsensusRun.Trigger.PERIODIC)
        with _held(fit):
            _sent(fit)()
            from marketplace.celery import app

            _heard(crowd, groups.organization(job.organization_id),
                   {"type": "job.status", "job": job.pk, "status": JobStatus.COMPLETED},
                   then=lambda: app.send_task(COMPLETION_SWEEP_TASK))  # what beat sends every minute
            assert ConsensusRun.objects.get(pk=fit.pk).status == ConsensusRun.Status.RUNNING
        _heard(crowd, *_consensus_of(busy), then=lambda: None)
    assert Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED


def test_a_run_someone_asked_for_that_outlives_its_time_limit_is_stopped_and_the_next_one_runs(
    settings: Any, tmp_path: Path
) -> None:
    settings.QUORUM_CONSENSUS_MAX_SECONDS = 1  # the worker kills an asked run after 2 s
    stuck_job, next_job = judged_job(items=3, answers=("cat", "cat")), judged_job(items=3, answers=("dog", "dog"))
    with _workers(settings, tmp_path, "asked", pool="prefork") as crowd:  # the Procfile's pool
        stuck = _claimed(stuck_job, ConsensusRun.Trigger.MANUAL, method="mv")
        with _held(stuck):
            _sent(stuck)()
            following = _claimed(next_job, ConsensusRun.Trigger.MANUAL, method="mv")

            _heard(crowd, *_consensus_of(next_job), then=_sent(following))
            # Killed where it stood, before its first beat: the sweep sends it again after half an
            # hour, and fails it as never started after six.
            assert ConsensusRun.objects.get(pk=stuck.pk).status == ConsensusRun.Status.RUNNING


def test_a_run_whose_message_was_lost_is_sent_again_once_per_half_hour_and_runs_when_a_worker_takes_it(
    settings: Any, tmp_path: Path
) -> None:
    import redis

    job = judged_job(items=3, answers=("cat", "cat"))
    with _workers(settings, tmp_path) as crowd:  # no worker on the asked queue yet: it stands still
        queue = redis.Redis.from_url(crowd.broker)
        lost = _claimed(job, ConsensusRun.Trigger.MANUAL, method="mv")  # claimed; its message never sent
        ConsensusRun.objects.filter(pk=lost.pk).update(started_at=timezone.now() - timedelta(minutes=31))
        assert tasks.consensus_runs_sweep().resent == [lost.pk]
        assert tasks.consensus_runs_sweep().resent == []  # every server's sweep: one copy per half hour
        assert queue.llen(settings.QUORUM_CONSENSUS_ASKED_QUEUE) == 1
        ConsensusRun.objects.filter(pk=lost.pk).update(started_at=timezone.now() - timedelta(minutes=61))
        assert tasks.consensus_runs_sweep().resent == [lost.pk]
        assert queue.llen(settings.QUORUM_CONSENSUS_ASKED_QUEUE) == 2

        log = tmp_path / "asked.log"
        with celery_worker(queue=settings.QUORUM_CONSENSUS_ASKED_QUEUE, broker=crowd.broker, log=log,
                           channels_prefix=crowd.channels_prefix):
            _heard(crowd, *_consensus_of(job), then=lambda: None)  # the first copy runs it
    run = ConsensusRun.objects.get(pk=lost.pk)
    assert run.status == ConsensusRun.Status.SUCCEEDED and run.item_results.count() == 3
