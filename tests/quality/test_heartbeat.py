"""Runs beat while they execute; a run whose beats stopped is failed and frees its job."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from marketplace.quality.heartbeat import (
    Heartbeat,
    consensus_run_start,
    consensus_runs_fail_stale,
    retry_wait,
)
from marketplace.quality.models import ConsensusRun
from marketplace.quality.runs import consensus_run, consensus_run_claim, consensus_run_execute
from marketplace.quality.tasks import consensus_runs_sweep
from tests.conftest import needs_postgres
from tests.quality.run_helpers import judged_job

pytestmark = pytest.mark.django_db
RUNNING, FAILED, SUCCEEDED = (
    ConsensusRun.Status.RUNNING, ConsensusRun.Status.FAILED, ConsensusRun.Status.SUCCEEDED
)


def _beat_ago(run: ConsensusRun, seconds: float) -> None:
    ConsensusRun.objects.filter(pk=run.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=seconds)
    )


def test_a_run_whose_heartbeat_stopped_is_failed_and_no_longer_blocks_its_job(settings: Any) -> None:
    settings.QUORUM_CONSENSUS_STALE_SECONDS = 180
    job = judged_job(items=2)
    dead = consensus_run_claim(job=job)
    _beat_ago(dead, 181)
    assert consensus_run(job=job).status == SUCCEEDED  # the claim failed the dead run first
    dead.refresh_from_db()
    assert dead.status == FAILED and "no heartbeat for over 180 s" in dead.error
    assert dead.finished_at is not None


def test_a_run_that_still_beats_stays_running_however_long_ago_it_started(settings: Any) -> None:
    settings.QUORUM_CONSENSUS_STALE_SECONDS = 180
    run = consensus_run_claim(job=judged_job(items=2))
    ConsensusRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(hours=5))
    _beat_ago(run, 170)
    assert consensus_runs_fail_stale() == []
    assert ConsensusRun.objects.get(pk=run.pk).status == RUNNING


def _claimed_ago(run: ConsensusRun, **ago: float) -> None:
    ConsensusRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(**ago))


def test_a_run_waiting_in_its_queue_for_under_half_an_hour_is_left_to_wait() -> None:
    waiting = consensus_run_claim(job=judged_job(items=2))
    _claimed_ago(waiting, minutes=29)
    swept = consensus_runs_sweep()
    assert swept.abandoned == [] and swept.resent == []
    assert ConsensusRun.objects.get(pk=waiting.pk).status == RUNNING


def test_a_run_not_started_half_an_hour_after_its_claim_is_sent_again_and_runs() -> None:
    # Its message was lost with a worker that died holding it, or it waits behind a long queue of
    # runs people asked for: either way it is sent again, not failed.
    waiting = consensus_run_claim(job=judged_job(items=2))
    _claimed_ago(waiting, minutes=31)
    swept = consensus_runs_sweep()  # QUORUM_TASKS=inline in tests: the copy runs at once
    assert swept.resent == [waiting.pk] and swept.abandoned == []
    run = ConsensusRun.objects.get(pk=waiting.pk)
    assert run.status == SUCCEEDED and run.item_results.count() == 2


def test_a_run_no_worker_started_in_six_hours_is_failed_with_the_question_to_ask() -> None:
    waiting = consensus_run_claim(job=judged_job(items=2))
    _claimed_ago(waiting, hours=6, minutes=1)
    assert consensus_runs_fail_stale() == [waiting.pk]
    error = ConsensusRun.objects.get(pk=waiting.pk).error
    assert "never started" in error and "is a worker taking its queue?" in error


def test_a_run_is_started_once_whatever_number_of_copies_reach_workers() -> None:
    job = judged_job(items=2)
    run = consensus_run_claim(job=job)
    assert consensus_run_start(run_id=run.pk)  # the first copy
    assert not consensus_run_start(run_id=run.pk)  # a copy sent again, or delivered twice
    assert consensus_run_execute(run=run).status == RUNNING  # the second copy leaves it alone
    assert not run.item_results.exists()


def test_a_run_failed_as_dead_before_it_started_is_never_executed() -> None:
    job = judged_job(items=2)
    run = consensus_run_claim(job=job)
    ConsensusRun.objects.filter(pk=run.pk).update(status=FAILED, error="abandoned")
    assert not consensus_run_start(run_id=run.pk)
    assert consensus_run_execute(run=run).status == FAILED
    assert not run.item_results.exists()


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_run_that_is_failed_as_dead_while_it_fits_keeps_that_verdict_and_stores_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from marketplace.quality import runs

    job = judged_job(items=2)
    run = consensus_run_claim(job=job)
    fit = runs.aggregate

    def sweep() -> None:  # another process's sweep: its own connection, committed at once
        ConsensusRun.objects.filter(pk=run.pk).update(status=FAILED, error="abandoned: swept")
        connections.close_all()

    def fit_while_a_sweep_fails_it(*args: Any, **kwargs: Any) -> Any:
        sweeper = threading.Thread(target=sweep)
        sweeper.start()
        sweeper.join()
        return fit(*args, **kwargs)

    monkeypatch.setattr(runs, "aggregate", fit_while_a_sweep_fails_it)
    finished = consensus_run_execute(run=run)
    assert finished.status == FAILED and finished.error == "abandoned: swept"
    assert not finished.item_results.exists()


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_beats_while_the_run_executes_and_stops_once_it_is_closed() -> None:
    run = consensus_run_claim(job=judged_job(items=2))
    assert consensus_run_start(run_id=run.pk)
    first = ConsensusRun.objects.get(pk=run.pk).heartbeat_at
    with Heartbeat(run_id=run.pk, every=0.05) as heart:
        deadline = time.monotonic() + 30
        while ConsensusRun.objects.get(pk=run.pk).heartbeat_at == first:
            assert time.monotonic() < deadline, "no beat within 30 s"
            time.sleep(0.02)
        ConsensusRun.objects.filter(pk=run.pk).update(status=SUCCEEDED)
        heart._thread.join(timeout=30)  # a beat that finds its run closed ends the thread
        assert not heart._thread.is_alive()


def test_a_failed_completion_run_is_retried_at_once_then_ever_later_up_to_an_hour() -> None:
    waits = [retry_wait(n) for n in (1, 2, 3, 4, 8, 50)]
    assert waits == [timedelta(0), timedelta(minutes=1), timedelta(minutes=2),
                     timedelta(minutes=4), timedelta(minutes=60), timedelta(hours=1)]
