"""A consensus run and the submits of its job's workers never wait on each other.

A run rewrites every worker's share of the job (quality.models.WorkerRunShare, a table only runs
write), and a submit counts its judgment in the worker's WorkerJobStats row and a scored gold
answer in their WorkerSkill row: with a thousand workers, a run that locked those rows made
submits queue behind it for the whole fold. Here a submit or a run holds its transaction open
at the point where they would cross, and the other side must finish meanwhile, on PostgreSQL's
row locks for real; what the workers' figures read afterwards counts both.
"""

from __future__ import annotations

import random
import threading
from decimal import Decimal
from typing import Any

import pytest

from marketplace import flows
from marketplace.accounts.models import User
from marketplace.jobs.models import Job
from marketplace.labeling import claiming
from marketplace.labeling.services import lease_claim
from marketplace.quality import runs, tasks
from marketplace.quality.models import ConsensusRun, WorkerJobStats, WorkerRunShare
from marketplace.quality.runs import consensus_run
from marketplace.quality.skills import worker_skills
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


def shares_then_hold(holding: threading.Event, go: threading.Event) -> Any:
    """The run's share writer, made to hold the run's transaction open once every share of the
    job is written (the run's last writes before its own row): it sets `holding`, waits for `go`."""
    replace = runs.worker_run_shares_replace

    def replace_then_hold(**kwargs: Any) -> int:
        written = replace(**kwargs)
        holding.set()
        go.wait(WAIT)
        return written

    return replace_then_hold


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
    monkeypatch.setattr(runs, "worker_run_shares_replace", shares_then_hold(holding, go))
    outcomes: dict[str, Any] = {}
    running = thread_recording(outcomes, "run", lambda: consensus_run(job=job))
    submitting = thread_recording(outcomes, "submit", lambda: flows.work_submit(
        worker=wendy, lease_id=lease.pk, label="cat"))

    assert finishes_while_the_other_holds(running, holding, submitting, go, "the submit waiting for a lock")
    assert outcomes["submit"].created, outcomes
    assert outcomes["run"].status == ConsensusRun.Status.SUCCEEDED, outcomes
    assert WorkerJobStats.objects.get(job=job, worker=wendy).judgments == 3


def test_gold_and_regular_submits_of_the_jobs_workers_commit_while_a_run_holds_its_transaction(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Six workers judged a job with gold; no run yet, so the run gives each a new share (those
    # who judged regular items) that, before shares had rows of their own, it added to the
    # skill rows the gold answers below write.
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 0
    settings.QUORUM_CONSENSUS_EVERY_MINUTES = 0
    monkeypatch.setattr(claiming, "_rng", random.Random(12))  # which claims are gold: seeded
    job = open_job_with_items(items=12, gold=6, overlap=3, gold_rate=Decimal("0.5"))
    workers = [WorkerFactory() for _ in range(6)]
    for worker in workers:
        for _ in range(2):
            submit(worker, job, "cat")
    before = {w.pk: (s.gold_seen, s.judgments) for w in workers
              for s in [WorkerJobStats.objects.get(job=job, worker=w)]}
    leases = [lease_claim(worker=worker, job=job) for worker in workers]
    gold = {lease.worker_id for lease in leases if lease.item.is_gold}
    assert gold and len(gold) < len(workers), "the seed should hand out gold and regular items"

    holding, go = threading.Event(), threading.Event()
    monkeypatch.setattr(runs, "worker_run_shares_replace", shares_then_hold(holding, go))
    outcomes: dict[str, Any] = {}
    running = thread_recording(outcomes, "run", lambda: consensus_run(job=job))
    submitting = [
        thread_recording(outcomes, worker.pk, lambda worker=worker, lease=lease: flows.work_submit(
            worker=worker, lease_id=lease.pk, label="cat"))
        for worker, lease in zip(workers, leases, strict=True)
    ]
    running.start()
    assert holding.wait(WAIT), "the run never wrote its shares"
    for thread in submitting:
        thread.start()
    until(lambda: not any(t.is_alive() for t in submitting) or someone_waits_for_a_lock(),
          "the submits finishing or one waiting for a lock")
    finished = not any(t.is_alive() for t in submitting)
    still_open = running.is_alive()
    go.set()
    running.join(WAIT)
    for thread in submitting:
        thread.join(WAIT)

    assert finished and still_open, "a submit waited for the run's transaction"
    assert outcomes["run"].status == ConsensusRun.Status.SUCCEEDED, outcomes
    assert all(outcomes[w.pk].created for w in workers), outcomes
    # Each worker's figures count the submit: a gold answer in their gold score and skill, a
    # regular one in their judgments; the skill adds the run's share to their gold answers.
    skills = worker_skills(worker_ids=[w.pk for w in workers])
    for worker in workers:
        stats = WorkerJobStats.objects.get(job=job, worker=worker)
        seen, judgments = before[worker.pk]
        is_gold = worker.pk in gold
        assert (stats.gold_seen, stats.judgments) == (seen + is_gold, judgments + (not is_gold))
        share = WorkerRunShare.objects.filter(job=job, worker=worker).values_list("seen", flat=True)
        assert skills[worker.pk].seen == pytest.approx(stats.gold_seen + sum(share))  # none: all gold
