"""The job page's live part alone (GET /portal/jobs/<id>/figures/), which jobpage.js fetches and
swaps in when the job moves: the same figures and access as the page.

The cast (tests/conftest.py): Alice is Acme's client, Carol is Globex's client and must see
nothing of Acme's; Wendy is a worker and Ada an admin, neither of whom has a client page (the job
page is the client's, so its figures are too).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.jobs.models import Job
from marketplace.labeling import claiming
from marketplace.labeling.models import Judgment
from marketplace.quality.runs import consensus_run
from marketplace.web.client import job_reads
from tests.factories import WorkerFactory, open_job_with_items
from tests.quality.run_helpers import judged_job, submit
from tests.portal import browser

pytestmark = pytest.mark.django_db



@pytest.fixture
def acme_job(alice: User) -> Job:
    return open_job_with_items(items=4, organization=alice.organization, title="Acme cats")


def test_the_job_page_holds_its_figures_in_a_container_that_names_their_url(alice: User, acme_job: Job) -> None:
    body = browser(alice).get(reverse("job-page", args=[acme_job.pk])).content.decode()
    url = reverse("client-job-figures", args=[acme_job.pk])
    assert f'data-job-figures="{url}" data-refreshed="0"' in body
    assert "reload to redraw" not in body
    assert "{#" not in body and "comment %}" not in body  # template comments never reach the page


def test_the_figures_are_the_pages_live_part_without_the_page_around_them(alice: User, acme_job: Job) -> None:
    response = browser(alice).get(reverse("client-job-figures", args=[acme_job.pk]))
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    body = response.content.decode()
    for figure in ('data-field="percent"', 'data-field="judgments"', 'data-figure="throughput"',
                   'data-figure="in-progress"', 'data-figure="paid"', 'data-figure="escrow"',
                   'data-field="spent"', 'data-chart="throughput"', 'data-chart="distribution"'):
        assert figure in body, figure
    assert "{#" not in body
    assert "<html" not in body and "<script" not in body  # swapped into the page; CSP forbids inline script


def test_the_figures_follow_the_crowd_and_the_consensus(alice: User, acme_job: Job) -> None:
    client, url = browser(alice), reverse("client-job-figures", args=[acme_job.pk])
    before = client.get(url).content.decode()
    assert 'data-figure="paid">$0.00<' in before
    for _ in range(2):
        submit(WorkerFactory(), acme_job, "cat")
    after = client.get(url).content.decode()
    assert 'data-figure="paid">$0.00<' not in after  # the workers' pay left the escrow
    assert 'data-figure="throughput">2<' in after

    job = judged_job(items=3, answers=("cat", "cat", "dog"), organization=alice.organization)
    url = reverse("client-job-figures", args=[job.pk])
    run = consensus_run(job=job)
    body = client.get(url).content.decode()
    assert f"consensus run #{run.pk}," in body  # the accuracy tile names the newest run
    assert 'data-chart="confusion"' in body and 'data-source="consensus"' in body


def test_another_organization_and_a_worker_get_404_and_an_admin_reads_them(carol: User, wendy: User, ada: User,
                                                                          acme_job: Job) -> None:
    url = reverse("client-job-figures", args=[acme_job.pk])
    for user in (carol, wendy):
        assert browser(user).get(url).status_code == 404, user.username
    assert browser(ada).get(url).status_code == 200  # the staff view of the job page refreshes too
    assert Client().get(url).status_code == 302  # anonymous: sent to log in


def test_throughput_covers_the_jobs_life_in_hours_then_days(alice: User, acme_job: Job) -> None:
    now = timezone.now()
    Job.objects.filter(pk=acme_job.pk).update(published_at=now - timedelta(hours=30))
    acme_job.refresh_from_db()
    young = job_reads.job_throughput(job=acme_job, now=now)
    assert young.bucket == "hour" and len(young.per_bucket) in (30, 31)  # publication hour to this one
    Job.objects.filter(pk=acme_job.pk).update(published_at=now - timedelta(days=20))
    acme_job.refresh_from_db()
    old = job_reads.job_throughput(job=acme_job, now=now)
    assert old.bucket == "day" and len(old.per_bucket) == 21
    submit(WorkerFactory(), acme_job, "cat")
    assert job_reads.job_throughput(job=acme_job).per_bucket[-1] == 1  # today's bucket


def test_a_just_published_jobs_throughput_starts_at_publication_per_10_minutes(alice: User, acme_job: Job) -> None:
    now = timezone.now()
    Job.objects.filter(pk=acme_job.pk).update(published_at=now - timedelta(minutes=35))
    acme_job.refresh_from_db()
    submit(WorkerFactory(), acme_job, "cat")
    young = job_reads.job_throughput(job=acme_job, now=now)
    published = timezone.localtime(acme_job.published_at)
    assert young.bucket == "10 minutes" and young.starts[0] <= published < young.starts[0] + timedelta(minutes=10)
    assert len(young.per_bucket) in (4, 5) and young.per_bucket[-1] == 1  # no hours before the job existed
    assert "Judgments per 10 minutes since" in browser(alice).get(f"/portal/jobs/{acme_job.pk}/").content.decode()


def test_one_accuracy_story_with_intervals_on_small_samples(alice: User) -> None:
    """Two items and two gold answers: too little gold to measure the labels, so the headline is
    the model's own estimate, said to be one and given no interval (nothing was measured), and
    workers' gold accuracy is named as such with its wide interval, over one gold count."""
    claiming._rng.seed(3)  # gold shows up at random: fixed so the gold answers below exist
    job = judged_job(items=2, gold=2, answers=("cat", "cat"), organization=alice.organization, gold_rate="0.5")
    consensus_run(job=job)
    scored = Judgment.objects.filter(job=job, is_gold=True, is_correct=True).count()
    assert scored >= 1
    body = browser(alice).get(reverse("client-job-figures", args=[job.pk])).content.decode()
    assert "Expected accuracy of your labels" in body
    assert 'data-figure="accuracy-interval"' not in body
    assert "The consensus model's own estimate, not measured" in body
    assert re.search(r"over 2 items", body), body
    gold = body.split('data-figure="gold-accuracy">', 1)[1].split("</span>", 1)[0]
    answers = f"{scored} scored answer{'s' if scored != 1 else ''}"
    assert gold.startswith(f"Workers' accuracy on gold: 100.0% of {answers} (90% interval ")
    low = float(gold.split("(90% interval ", 1)[1].split("–", 1)[0])
    assert low < 70  # a handful of answers prove little, and the page says so
    assert f"{scored} gold answer{'s' if scored != 1 else ''} scored" in body  # the same count in the judgments tile


def test_an_overlap_one_job_shows_its_workers_gold_accuracy_not_a_certainty(alice: User) -> None:
    """One worker, one judgment per item, wrong on every gold item: the model cannot check single
    judgments, so the headline is the gold accuracy (0 %), and no label is delivered as certain."""
    claiming._rng.seed(3)  # gold shows up at random: fixed so gold answers exist
    job = judged_job(items=8, gold=4, answers=("dog",), organization=alice.organization, gold_rate="0.5")
    run = consensus_run(job=job)
    assert Judgment.objects.filter(job=job, is_gold=True, is_correct=False).exists()
    assert max(run.item_results.filter(item__is_gold=False).values_list("confidence", flat=True)) < 0.9

    body = browser(alice).get(reverse("client-job-figures", args=[job.pk])).content.decode()
    headline = body.split('data-consensus="estimated_accuracy">', 1)[1].split("</div>", 1)[0]
    assert headline == "0.0%"
    note = body.split('data-figure="judged-once">', 1)[1].split("</span>", 1)[0]
    assert "have a single judgment, which consensus cannot check against another" in note
    assert "This estimate is the workers' accuracy on gold" in note


def test_the_headline_and_the_distribution_leave_gold_items_out(alice: User) -> None:
    """Gold items' labels are their known answers, sure by fiat: counted in, they would lift the
    delivered labels' expected accuracy and add to the label counts the page shows beside it."""
    claiming._rng.seed(3)  # gold shows up at random: fixed so gold answers exist
    job = judged_job(items=4, gold=4, answers=("cat", "cat", "dog"), organization=alice.organization,
                     gold_rate="0.5")
    run = consensus_run(job=job)
    assert run.item_results.filter(item__is_gold=True).exists()  # gold was judged and labelled
    regular = list(run.item_results.filter(item__is_gold=False).values_list("confidence", flat=True))
    assert len(regular) == 4 and max(regular) < 1.0

    body = browser(alice).get(reverse("client-job-figures", args=[job.pk])).content.decode()
    headline = body.split('data-consensus="estimated_accuracy">', 1)[1].split("</div>", 1)[0]
    assert headline == f"{100 * sum(regular) / len(regular):.1f}%"
    assert re.search(r"over 4 items", body), body
    consensus = job_reads.job_consensus(job=job)
    assert sum(items for _, items in consensus.distribution) == 4
