"""A consensus run and a submit of the same worker never wait on each other.

A run rewrites every worker's share of the job (quality.models.WorkerRunShare, a table only runs
write), and a submit counts its judgment in the worker's WorkerJobStats row: with a thousand
workers, a run that locked those rows made submits queue behind it for the whole fold. Here
Wendy's submit and a run of her job each hold their transaction open at the point where they
would cross, and the other side must finish meanwhile, on PostgreSQL's row locks for real.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from marketplace import flows
from marketplace.accounts.models import User
from marketplace.jobs.models import Job
from marketplace.labeling.services import lease_claim
from marketplace.quality import runs, tasks
from marketplace.quality.models import ConsensusRun, WorkerJobStats, WorkerRunShare
from marketplace.quality.runs import consensus_run
from tests.conftest import needs_postgres
from tests.factories import WorkerFactory, open_job_with_items
from tests.quality.run_helpers import submit
from tests.threads import WAIT, someone_waits_for_a_lock, thread_recording, until

pytestmark = [needs_postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def judged(settings: Any) -> tuple[Job, User]:
    """Wendy and two others judged 2 of 6 items, and a run has given each a share already."""
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 0  # no run but the test's own
    settings.QUORUM_CONSENSUS_EVERY_MINUTES = 0
    job = open_job_with_items(items=6, overlap=3)
    workers = [WorkerFactory() for _ in range(3)]
    for worker, label in zip(workers, ("cat", "cat", "dog"), strict=True):
        for _ in range(2):
            submit(worker, job, label)
    assert consensus_run(job=job).status == ConsensusRun.Status.SUCCEEDED
    assert WorkerRunShare.objects.filter(job=job, worker=workers[0]).exists()
    return job, workers[0]


def finishes_while_the_other_holds(other: threading.Thread, holding: threading.Event,
                                   side: threading.Thread, go: threading.Event, what: str) -> bool:
    """Start `other` until it holds its locks, then `side`; whether `side` finished before any
    session waited for a lock. Then let `other` finish too."""
    other.start()
    assert holding.wait(WAIT), f"the holder never got to where {what} would cross it"
    side.start()
    until(lambda: not side.is_alive() or someone_waits_for_a_lock(), what)
    finished = not side.is_alive()
    go.set()
    other.join(WAIT)
    side.join(WAIT)
    return finished


def test_a_run_finishes_while_a_submit_of_one_of_its_workers_is_in_flight(
    judged: tuple[Job, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    job, wendy = judged
    lease = lease_claim(worker=wendy, job=job)
    holding, go = threading.Event(), threading.Event()
    after_assessment = tasks.consensus_after_submit

    def hold_the_submit(**kwargs: Any) -> None:  # the stats row is counted and locked by now
        holding.set()
        go.wait(WAIT)
        after_assessment(**kwargs)

    monkeypatch.setattr(tasks, "consensus_after_submit", hold_the_submit)
    outcomes: dict[str, Any] = {}
    submitting = thread_recording(outcomes, "submit", lambda: flows.work_submit(
        worker=wendy, lease_id=lease.pk, label="cat"))
    running = thread_recording(outcomes, "run", lambda: consensus_run(job=job))

    assert finishes_while_the_other_holds(submitting, holding, running, go, "the run waiting for a lock")
    assert outcomes["run"].status == ConsensusRun.Status.SUCCEEDED, outcomes
    assert outcomes["submit"].created, outcomes
    assert WorkerJobStats.objects.get(job=job, worker=wendy).judgments == 3


def test_a_submit_finishes_while_a_run_holds_the_shares_it_just_rewrote(
    judged: tuple[Job, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    job, wendy = judged
    lease = lease_claim(worker=wendy, job=job)
    holding, go = threading.Event(), threading.Event()
    fold = runs.worker_skills_fold_run

    def fold_then_hold(**kwargs: Any) -> int:  # every share and skill row of the job written
        changed = fold(**kwargs)
        holding.set()
        go.wait(WAIT)
        return changed

    monkeypatch.setattr(runs, "worker_skills_fold_run", fold_then_hold)
    outcomes: dict[str, Any] = {}
    running = thread_recording(outcomes, "run", lambda: consensus_run(job=job))
    submitting = thread_recording(outcomes, "submit", lambda: flows.work_submit(
        worker=wendy, lease_id=lease.pk, label="cat"))

    assert finishes_while_the_other_holds(running, holding, submitting, go, "the submit waiting for a lock")
    assert outcomes["submit"].created, outcomes
    assert outcomes["run"].status == ConsensusRun.Status.SUCCEEDED, outcomes
    assert WorkerJobStats.objects.get(job=job, worker=wendy).judgments == 3
