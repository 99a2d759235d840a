"""Dead consensus runs are noticed by their stale heartbeat, and a completed job's completion run
is retried until one succeeds: tasks.consensus_runs_sweep, run by marketplace/periodic.py.

Wendy and Walter label a job of Acme's; Alice (Acme's client) reads its results export.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.test import TestCase
from django.db import connection, connections
from django.utils import timezone

from marketplace import periodic
from marketplace.accounts.models import Organization, User
from marketplace.jobs.models import Job, JobStatus
from marketplace.quality.models import ConsensusRun
from marketplace.quality import runs
from marketplace.quality.runs import consensus_run_claim
from marketplace.quality.tasks import consensus_runs_sweep
from tests.conftest import needs_postgres
from tests.factories import open_job_with_items
from tests.threads import until
from tests.quality.run_helpers import judged_job, submit

pytestmark = pytest.mark.django_db
COMPLETION = ConsensusRun.Trigger.COMPLETION
FAILED, SUCCEEDED = ConsensusRun.Status.FAILED, ConsensusRun.Status.SUCCEEDED
ROOT = Path(__file__).resolve().parents[2]


def _test_database_url() -> str:
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{quote(db['USER'] or 'postgres', safe='')}{password}"
        f"@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


def _export_labels(api: Any, job: Job) -> list[str]:
    response = api.get(f"/api/v1/jobs/{job.pk}/results/", {"format": "csv"})
    assert response.status_code == 200
    rows = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    return [row["consensus_label"] for row in rows]


@pytest.mark.postgres
@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_run_killed_mid_fit_is_noticed_and_the_job_that_completed_meanwhile_gets_its_results(
    settings: Any, acme: Organization, alice: User, wendy: User, walter: User,
    client_for: Any, tmp_path: Path,
) -> None:
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 0  # no run but the ones this test starts
    settings.QUORUM_CONSENSUS_EVERY_MINUTES = 0
    settings.QUORUM_CONSENSUS_STALE_SECONDS = 4  # the killed run's beats are 1 s apart
    job = open_job_with_items(items=3, overlap=2, organization=acme)
    for worker, items in ((wendy, 3), (walter, 2)):
        for _ in range(items):
            submit(worker, job, "dog")
    run = consensus_run_claim(job=job, trigger=ConsensusRun.Trigger.PERIODIC)
    entered = tmp_path / "entered-fit"
    log = (tmp_path / "run.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.quality.killable_run", str(run.pk), str(entered)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "DATABASE_URL": _test_database_url(), "QUORUM_TASKS": "inline",
             "QUORUM_CONSENSUS_HEARTBEAT_SECONDS": "1"},
    )
    try:
        until(lambda: entered.exists() or process.poll(), "fit started in the run's process", seconds=60)
        assert process.poll() is None, (tmp_path / "run.log").read_text()
        assert periodic.timer_start("consensus-sweep", every_seconds=0.2)  # as in a server
        # Alive past the stale threshold with the sweep running: its heartbeat keeps it running.
        until(lambda: _beats_for(run.pk, seconds=5), "heartbeat 5 s after the run started", seconds=60)
        assert ConsensusRun.objects.get(pk=run.pk).status == ConsensusRun.Status.RUNNING
        submit(walter, job, "dog")  # the last judgment: the job completes while the run runs
        assert Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED
        assert not ConsensusRun.objects.filter(job=job, trigger=ConsensusRun.Trigger.COMPLETION)
        assert _export_labels(client_for(alice), job) == ["", "", ""]  # no results yet

        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
        killed = time.monotonic()
        labels = until(
            lambda: all(found := _export_labels(client_for(alice), job)) and found,
            "consensus labels in the results export", seconds=60,
        )
        took = time.monotonic() - killed
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
        periodic.timers_stop()
    assert labels == ["dog", "dog", "dog"] and took < 60
    dead = ConsensusRun.objects.get(pk=run.pk)
    assert dead.status == ConsensusRun.Status.FAILED and "heartbeat" in dead.error
    (completion,) = ConsensusRun.objects.filter(job=job, trigger=ConsensusRun.Trigger.COMPLETION)
    assert completion.status == ConsensusRun.Status.SUCCEEDED and completion.judgments == 6


def _beats_for(run_id: int, *, seconds: float) -> bool:
    run = ConsensusRun.objects.get(pk=run_id)
    return run.heartbeat_at is not None and (run.heartbeat_at - run.started_at).total_seconds() > seconds


def _completion_runs(job: Job) -> list[tuple[str, str]]:
    runs_ = ConsensusRun.objects.filter(job=job, trigger=COMPLETION).order_by("pk")
    return [(run.status, run.error.split(":")[0]) for run in runs_]


def _sweep(capture: Any) -> Any:
    with capture(execute=True):  # the claimed runs start on commit, inline in tests
        return consensus_runs_sweep()


def _fit_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError("the fit ran out of memory")

    monkeypatch.setattr(runs, "aggregate", broken)


def test_a_failed_completion_run_is_retried_with_backoff_until_one_succeeds(
    settings: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any,
    acme: Organization, alice: User, client_for: Any,
) -> None:
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 0
    fit = runs.aggregate
    _fit_fails(monkeypatch)
    job = judged_job(items=2, answers=("cat", "cat"), organization=acme)
    assert _completion_runs(job) == [(FAILED, "MemoryError")]

    assert _sweep(django_capture_on_commit_callbacks).retried  # the first retry: at once
    assert _sweep(django_capture_on_commit_callbacks).retried == []  # two failed: wait a minute
    assert len(_completion_runs(job)) == 2
    ConsensusRun.objects.filter(job=job).update(finished_at=timezone.now() - timedelta(minutes=2))
    monkeypatch.setattr(runs, "aggregate", fit)  # whatever broke the fit is fixed
    assert _sweep(django_capture_on_commit_callbacks).retried

    assert [status for status, _ in _completion_runs(job)] == [FAILED, FAILED, SUCCEEDED]
    assert _sweep(django_capture_on_commit_callbacks).retried == []  # one succeeded: done
    assert _export_labels(client_for(alice), job) == ["cat", "cat"]


def test_the_sweep_claims_nothing_for_a_job_whose_run_is_in_progress_or_that_is_still_open(
    django_capture_on_commit_callbacks: Any,
) -> None:
    done = judged_job(items=2, answers=("cat", "cat"))
    ConsensusRun.objects.filter(job=done).delete()  # as if its completion run never happened
    busy = consensus_run_claim(job=done)  # a live manual run holds the job
    open_job = open_job_with_items(items=2, overlap=1)
    assert _sweep(django_capture_on_commit_callbacks).retried == []
    assert list(ConsensusRun.objects.filter(job__in=[done, open_job])) == [busy]


def test_the_consensus_sweep_command_fails_dead_runs_and_runs_missing_completion_runs(
    settings: Any,
) -> None:
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 0
    job = judged_job(items=2, answers=("dog", "dog"))
    ConsensusRun.objects.filter(job=job).delete()
    dead = consensus_run_claim(job=job)
    ConsensusRun.objects.filter(pk=dead.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    out = io.StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("consensus_sweep", stdout=out)
    (run,) = ConsensusRun.objects.filter(job=job, trigger=COMPLETION)
    assert run.status == SUCCEEDED
    assert f"Failed 1 dead run(s): [{dead.pk}]" in out.getvalue()
    assert f"Claimed 1 completion run(s):\n  run {run.pk} of job {job.pk}" in out.getvalue()


@pytest.mark.postgres
@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_sweeps_running_at_once_claim_one_completion_run(settings: Any) -> None:
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 0
    job = judged_job(items=2, answers=("cat", "cat"))
    ConsensusRun.objects.filter(job=job).delete()
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            start.wait(timeout=30)
            consensus_runs_sweep()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads)
    assert _completion_runs(job) == [(SUCCEEDED, "")]
