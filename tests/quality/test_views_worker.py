"""The worker's own quality page: figures, feedback on missed check items, and secrecy.

Wendy answers check items in two jobs: "Open book" shows missed check items' right answers
(gold feedback is on by default), "Closed book" turns it off (quality_rules.gold_feedback). Walter works too; Wendy must never see
his figures, and no page may show a check item's right answer that Wendy has not missed in a job
that shares it.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.jobs.models import GoldAnswer, Job
from marketplace.quality.services import DROP_POLICY
from tests.quality.worker_helpers import answer_gold, gold_job, hours_later

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def explain(job: Job, text: str) -> None:
    GoldAnswer.objects.filter(item__job=job).update(explanation=text)


@pytest.fixture
def open_book(wendy: User, walter: User) -> Job:
    job = gold_job(title="Open book")
    explain(job, "open-book-why")
    answer_gold(wendy, job, right=3, wrong=1)
    answer_gold(walter, job, right=0, wrong=2)
    return job


@pytest.fixture
def closed_book(wendy: User) -> Job:
    job = gold_job(title="Closed book", quality_rules={"gold_feedback": False})
    explain(job, "closed-book-why")
    answer_gold(wendy, job, right=1, wrong=2)
    return job


def test_clients_and_admins_get_404(alice: User, ada: User) -> None:
    for user in (alice, ada):
        assert signed_in(user).get(reverse("worker-quality")).status_code == 404


def test_the_page_shows_gold_accuracy_with_its_interval_per_job_and_overall(
    open_book: Job, closed_book: Job, wendy: User
) -> None:
    with hours_later():  # Closed book's answers count an hour later (tests/quality/test_own_figures.py)
        html = signed_in(wendy).get(reverse("worker-quality")).content.decode()
    assert "4 of 7 check items right" in html  # 3/4 + 1/3
    assert "56%" in html  # smoothed: (4 + 1) / (7 + 2) = 0.556
    # ...and says so beside the raw count, so "56%" next to "4 of 7" is not a puzzle.
    assert "The figure is smoothed: it starts at 50%" in html
    assert "Answers <span class=\"muted small\">(check items apart)</span>" in html
    assert "90% interval" in html and "Open book" in html and "Closed book" in html
    assert "<svg" in html  # the per-job chart
    assert DROP_POLICY in html


def test_feedback_shows_only_missed_items_of_jobs_that_share_answers(
    open_book: Job, closed_book: Job, wendy: User
) -> None:
    html = signed_in(wendy).get(reverse("worker-quality")).content.decode()
    assert html.count("open-book-why") == 1  # her one miss there
    assert "closed-book-why" not in html  # that job does not share answers


def test_a_worker_never_sees_another_workers_figures(open_book: Job, walter: User, wendy: User) -> None:
    html = signed_in(walter).get(reverse("worker-quality")).content.decode()
    assert "0 of 2 check items right" in html and "Closed book" not in html
    assert html.count("open-book-why") == 2  # his own two misses, not Wendy's
    html = signed_in(wendy).get(reverse("worker-quality")).content.decode()
    assert "walter" not in html


def test_a_worker_with_no_answers_sees_an_empty_page(wendy: User) -> None:
    html = signed_in(wendy).get(reverse("worker-quality")).content.decode()
    assert "No check items answered yet" in html and "No answers yet" in html


def test_a_job_that_hides_its_check_items_shows_its_counts_an_hour_late_and_says_so(
    closed_book: Job, wendy: User
) -> None:
    html = signed_in(wendy).get(reverse("worker-quality")).content.decode()
    assert "No check items answered yet" in html  # her three, just given, do not show yet
    assert "take in only your answers from more than an hour ago, brought up to date once an hour" in html
    assert "agreement and median time take in only" in html and "The status (ok, flagged, blocked) is as of now" in html
    assert ">late</span>" in html
    with hours_later():
        html = signed_in(wendy).get(reverse("worker-quality")).content.decode()
    assert "1 of 3 check items right" in html
