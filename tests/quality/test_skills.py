"""Workers' global skill: gold answers and consensus runs add to it as increments, so neither
loses the other's count when they meet on one worker's row."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import transaction

from marketplace.accounts.models import User
from marketplace.jobs.models import Job
from marketplace.quality.models import WorkerRunShare, WorkerSkill
from marketplace.quality.runs import consensus_run
from marketplace.quality.skills import worker_skill_gold
from tests.conftest import needs_postgres
from tests.factories import WorkerFactory, open_job_with_items
from tests.quality.run_helpers import submit
from tests.threads import WAIT, queue_behind, thread_recording

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
    skill = WorkerSkill.objects.filter(worker=worker).values_list("right", "seen").first()
    return skill or (0.0, 0.0)


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


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_gold_answer_and_a_run_meeting_on_one_workers_skill_both_count(settings: Any) -> None:
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
    queue_behind(gold, holding, run, release, "the run waiting for the worker's skill row")
    assert outcomes.get("gold", "unfinished") is None, outcomes
    assert outcomes["run"].status == "succeeded", outcomes
    share = WorkerRunShare.objects.get(job=job, worker=worker)
    assert skill_of(worker) == pytest.approx((1 + share.right, 1 + share.seen))
