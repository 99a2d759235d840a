"""Folding a job's tally rows (jobs/tallies.py): the counts a dashboard shows and a submit reads
stay the same; the rows behind them become one.

Wendy and Walter judge Acme's jobs; their submits each add to their own tally row until a fold
adds those rows into the job's adjustment row."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from django.db import connection

from marketplace.accounts.models import User
from marketplace.jobs import tallies
from marketplace.jobs.models import Job, JobStatus, JobTally
from marketplace.jobs.tallies import job_tallies_fold, tallies_fold_due
from marketplace.jobs.tasks import tallies_fold_tick
from marketplace.labeling.models import Judgment
from marketplace.labeling.services import judgment_submit, lease_claim
from tests.conftest import needs_postgres
from tests.factories import open_job_with_items
from tests.live_server import test_database_url as database_url
from tests.threads import WAIT

pytestmark = pytest.mark.django_db


def _counts(job: Job) -> tuple[int, int, int]:
    job = Job.objects.get(pk=job.pk)
    return job.judgment_count, job.gold_judgment_count, job.completed_item_count


def _judge(worker: User, job: Job) -> Judgment:
    return judgment_submit(worker=worker, lease_id=lease_claim(worker=worker, job=job).pk, label="cat")


def _shards(job: Job) -> set[int]:
    return set(JobTally.objects.filter(job=job).values_list("shard", flat=True))


def test_a_fold_keeps_the_jobs_counts_and_leaves_one_row(wendy: User, walter: User) -> None:
    job = open_job_with_items(items=4, gold=2, gold_rate="0.3", overlap=2)
    for _ in range(3):
        _judge(wendy, job)
        _judge(walter, job)
    before = _counts(job)
    assert before[0] + before[1] == 6 and _shards(job) == {wendy.pk, walter.pk}

    assert job_tallies_fold(job_id=job.pk) == 2

    assert _shards(job) == {JobTally.ADJUSTMENTS}
    assert _counts(job) == before


def test_after_a_fold_submits_count_on_new_rows_and_the_last_item_still_completes_the_job(
    wendy: User, walter: User
) -> None:
    job = open_job_with_items(items=2, overlap=2)
    _judge(wendy, job)
    _judge(walter, job)  # the first item complete
    job_tallies_fold(job_id=job.pk)

    _judge(wendy, job)
    _judge(walter, job)  # the second, and the job

    assert _counts(job) == (4, 0, 2)
    assert Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED
    assert _shards(job) == {JobTally.ADJUSTMENTS, wendy.pk, walter.pk}


def test_the_tick_folds_only_the_jobs_with_many_worker_rows(
    wendy: User, walter: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tallies, "FOLD_FROM_ROWS", 1)
    crowded, quiet = open_job_with_items(items=3, overlap=2), open_job_with_items(items=3, overlap=2)
    _judge(wendy, crowded)
    _judge(walter, crowded)
    _judge(wendy, quiet)
    assert tallies_fold_due() == [crowded.pk]

    assert tallies_fold_tick() == 2

    assert _shards(crowded) == {JobTally.ADJUSTMENTS} and _shards(quiet) == {wendy.pk}
    assert _counts(crowded) == (2, 0, 1) and _counts(quiet) == (1, 0, 0)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_fold_passes_over_the_row_of_a_submit_in_flight_instead_of_waiting(wendy: User, walter: User) -> None:
    job = open_job_with_items(items=3, overlap=2)
    _judge(wendy, job)
    _judge(walter, job)
    before = _counts(job)
    outcome: dict[str, Any] = {}
    with psycopg.connect(database_url()) as submit_in_flight:  # holds Walter's row, as his submit would
        submit_in_flight.execute(
            "SELECT 1 FROM jobs_jobtally WHERE job_id = %s AND shard = %s FOR UPDATE", [job.pk, walter.pk])
        fold = threading.Thread(target=_fold_in_thread, args=(job.pk, outcome))
        fold.start()
        fold.join(WAIT)
        assert not fold.is_alive(), "the fold waited for the submit in flight"
        submit_in_flight.rollback()

    assert outcome["folded"] == 1
    assert _shards(job) == {JobTally.ADJUSTMENTS, walter.pk}
    assert _counts(job) == before


def _fold_in_thread(job_id: int, outcome: dict[str, Any]) -> None:
    try:
        outcome["folded"] = job_tallies_fold(job_id=job_id)
    finally:
        connection.close()  # this thread's own connection
