"""The work list's "≈ $/h": what an hour of a job pays at its median answer time, shown only once
enough workers gave enough answers, and never at a pace faster than a person reads.

Wendy reads the list; Walter, Winona and Wes are the crowd whose answer times make the figure; the
bot answers in a fifth of a second. Every job pays $0.02 an answer.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from marketplace import flows
from marketplace.accounts.models import User
from marketplace.jobs.models import Job
from marketplace.labeling.services import lease_claim
from marketplace.quality.models import WorkerJobStats
from marketplace.web.worker.labeling import HOURLY_MIN_ANSWERS, HOURLY_MIN_WORKERS
from tests.factories import WorkerFactory, open_job_with_items
from tests.labeling.helpers import held_for, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def job() -> Job:
    return open_job_with_items(items=30, overlap=5, title="Animals in photos")


@pytest.fixture
def crowd() -> list[User]:
    return [WorkerFactory(username=name) for name in ("walter", "winona", "wes")]


def answer(job: Job, worker: User, *, times: int, seconds: str) -> None:
    for _ in range(times):
        lease = lease_claim(worker=worker, job=job)
        held_for(lease, seconds)
        flows.work_submit(worker=worker, lease_id=lease.pk, label="cat", seconds_spent=seconds)


def work_list(wendy: User) -> str:
    return signed_in(wendy).get(reverse("work-list")).content.decode()


def test_the_work_list_estimates_what_an_hour_of_each_job_pays(job: Job, wendy: User, crowd: list[User]) -> None:
    for worker in crowd:
        answer(job, worker, times=7, seconds="12.5")  # 21 answers by 3 workers

    assert "≈ $5.76/h" in work_list(wendy)  # an answer every 12.5 s: 288 answers an hour


def test_a_handful_of_answers_or_of_workers_gives_no_figure(job: Job, wendy: User, crowd: list[User]) -> None:
    assert (HOURLY_MIN_ANSWERS, HOURLY_MIN_WORKERS) == (20, 3)
    walter, winona, wes = crowd
    answer(job, walter, times=10, seconds="0.4")
    answer(job, winona, times=10, seconds="0.4")
    html = work_list(wendy)
    assert "Animals in photos" in html and "/h<" not in html  # 20 answers, but only 2 workers

    answer(job, wes, times=1, seconds="0.4")
    assert "/h<" in work_list(wendy)  # 21 answers by 3: enough


def test_answers_faster_than_a_person_reads_are_priced_at_three_seconds(
    job: Job, wendy: User, crowd: list[User]
) -> None:
    for worker in crowd:
        answer(job, worker, times=7, seconds="0.1")

    html = work_list(wendy)
    assert "≈ $24.00/h" in html and "$720.00" not in html  # 3600 / 3 s × $0.02, not / 0.1 s


def test_the_hourly_estimate_leaves_out_workers_flagged_for_answering_too_fast(
    job: Job, wendy: User, crowd: list[User]
) -> None:
    bot = WorkerFactory(username="bot")
    answer(job, bot, times=25, seconds="0.2")  # first, with no peers to be flagged against yet
    for worker in crowd:
        answer(job, worker, times=7, seconds="12.5")
    assert "≈ $24.00/h" in work_list(wendy)  # the bot's pace, at the 3 s floor

    WorkerJobStats.objects.filter(job=job, worker=bot).update(flagged_fast_at=timezone.now())
    assert "≈ $5.76/h" in work_list(wendy)  # the humans' alone


def test_a_new_job_has_no_hourly_estimate_yet(job: Job, wendy: User) -> None:
    html = work_list(wendy)
    assert "new job" in html and "/h<" not in html
