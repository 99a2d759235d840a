"""Workers' global skill: gold answers count in the worker's skill row, each job's latest run's
share in rows only runs write, and the skill read is their sum, so neither loses the other's
count and neither waits for the other."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import transaction

from marketplace.accounts.models import User
from marketplace.jobs.models import Job
from marketplace.quality.models import WorkerRunShare, WorkerSkill
from marketplace.quality.runs import consensus_run
from marketplace.quality.skills import worker_skill_gold, worker_skills
from tests.conftest import needs_postgres
from tests.factories import WorkerFactory, open_job_with_items
from tests.quality.run_helpers import submit
from tests.threads import WAIT, someone_waits_for_a_lock, thread_recording, until

pytestmark = pytest.mark.django_db


def half_judged_job() -> tuple[Job, list[User]]:
    """Three workers judged 2 of 4 items (cat, cat, dog): no consensus run has run yet."""
    job = open_job_with_items(items=4, overlap=3)
    workers = [WorkerFactory() for _ in range(3)]
    for worker, label in zip(workers, ("cat", "cat", "dog"), strict=True):
        for _ in range(2):
            submit(worker, job, label)
    return job, workers


def skill_of(worker: User) -> tuple[float, float]:
    skill = worker_skills(worker_ids=[worker.pk])[worker.pk]
    return (skill.right, skill.seen)


def test_gold_answers_add_one_seen_each_and_one_right_when_right() -> None:
    worker = WorkerFactory()
    worker_skill_gold(worker_id=worker.pk, correct=True)
    worker_skill_gold(worker_id=worker.pk, correct=False)
    worker_skill_gold(worker_id=worker.pk, correct=True)
    assert skill_of(worker) == (2.0, 3.0)


def test_a_run_adds_each_workers_share_of_the_jobs_regular_judgments(settings: Any) -> None:
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 0
    job, workers = half_judged_job()
    assert all(skill_of(w) == (0.0, 0.0) for w in workers)
    consensus_run(job=job)
    for worker in workers:
        share = WorkerRunShare.objects.get(job=job, worker=worker)
        assert skill_of(worker) == pytest.approx((share.right, share.seen))
        assert share.seen == 2


def test_a_run_writes_no_workers_skill_row(settings: Any) -> None:
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 0
    job, workers = half_judged_job()
    consensus_run(job=job)
    assert not WorkerSkill.objects.filter(worker__in=workers).exists()
    assert all(skill_of(w)[1] == 2 for w in workers)  # the run's share, read from its own rows


def test_a_workers_skill_is_their_gold_answers_plus_each_jobs_latest_share(settings: Any) -> None:
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 0
    (first, first_workers), (second, _) = half_judged_job(), half_judged_job()
    worker = first_workers[0]
    submit(worker, second, "cat")
    consensus_run(job=first)
    consensus_run(job=second)
    worker_skill_gold(worker_id=worker.pk, correct=True)
    shares = WorkerRunShare.objects.filter(worker=worker)
    assert shares.count() == 2
    assert skill_of(worker) == pytest.approx(
        (1 + sum(s.right for s in shares), 1 + sum(s.seen for s in shares))
    )


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_run_finishes_while_a_gold_answer_holds_the_workers_skill_row_and_both_count(
    settings: Any,
) -> None:
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 0
    job, workers = half_judged_job()
    worker = workers[0]
    holding, release = threading.Event(), threading.Event()
    outcomes: dict[str, Any] = {}

    def gold_answer_held_open() -> None:
        with transaction.atomic():  # as a submit in another job would: the skill row stays locked
            worker_skill_gold(worker_id=worker.pk, correct=True)
            holding.set()
            release.wait(WAIT)

    gold = thread_recording(outcomes, "gold", gold_answer_held_open)
    run = thread_recording(outcomes, "run", lambda: consensus_run(job=job))
    gold.start()
    assert holding.wait(WAIT), "the gold answer never locked the skill row"
    run.start()
    # The gold answer's transaction is still open: the run must finish without needing its row.
    until(lambda: not run.is_alive() or someone_waits_for_a_lock(), "the run finishing or waiting")
    finished = not run.is_alive()
    release.set()
    run.join(WAIT)
    gold.join(WAIT)
    assert finished, "the run waited for the gold answer's skill row"
    assert outcomes.get("gold", "unfinished") is None, outcomes
    assert outcomes["run"].status == "succeeded", outcomes
    share = WorkerRunShare.objects.get(job=job, worker=worker)
    assert skill_of(worker) == pytest.approx((1 + share.right, 1 + share.seen))
