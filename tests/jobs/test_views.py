"""The client portal's job pages through Django's test client: the dashboard, a job's page and
its pause / resume / cancel buttons.

The cast (tests/conftest.py): Alice is Acme's client, Carol is Globex's client and must see
nothing of Acme's; Wendy is a worker and Ada an admin, neither of whom has a client page.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from marketplace import flows, flows_experts, flows_more
from marketplace.accounts.models import User
from marketplace.billing.models import JobBudget
from marketplace.billing.selectors import organization_balance
from marketplace.jobs.models import Job, JobStatus
from marketplace.quality.runs import consensus_run
from marketplace.quality import experts
from marketplace.quality.models import ExpertReview
from tests.billing.helpers import work_through_flow
from tests.factories import JobFactory, WorkerFactory, fund, grant, open_job_with_items
from tests.quality.run_helpers import judged_job, submit
from tests.portal import browser

pytestmark = pytest.mark.django_db

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'



@pytest.fixture
def acme_job(alice: User) -> Job:
    return open_job_with_items(items=4, organization=alice.organization, title="Acme cats")


# The dashboard

def test_the_dashboard_lists_only_the_organizations_own_jobs(alice: User, carol: User, acme_job: Job) -> None:
    open_job_with_items(items=2, organization=carol.organization, title="Globex secret plans")
    page = browser(alice).get(reverse("client-dashboard"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Acme cats" in body and "Globex secret plans" not in body


def test_the_dashboard_and_billing_say_what_their_job_counts_count(alice: User, acme_job: Job) -> None:
    paused = open_job_with_items(items=2, organization=alice.organization, title="Acme paused")
    flows.job_pause(job=paused, user=alice)

    dashboard = browser(alice).get(reverse("client-dashboard")).content.decode()
    billing = browser(alice).get(reverse("client-billing")).content.decode()
    assert 'data-testid="open-jobs">1<' in dashboard and "paused jobs are not counted" in dashboard
    assert "held for 2 jobs not yet settled (open, paused or finishing)" in billing


def test_the_dashboard_renders_the_live_progress_contract(alice: User, acme_job: Job) -> None:
    body = browser(alice).get(reverse("client-dashboard")).content.decode()
    assert 'data-live-socket="/ws/client/"' in body
    for field in ("progress-bar", "items_done", "percent", "status"):
        assert f'data-job="{acme_job.pk}" data-field="{field}"' in body
    assert 'style="width: 0.0%"' in body


def test_a_client_who_is_also_a_superuser_follows_the_dashboard_on_the_organizations_socket(
    alice: User, acme_job: Job,
) -> None:
    User.objects.filter(pk=alice.pk).update(is_superuser=True)  # counts as an admin elsewhere
    alice.refresh_from_db()
    body = browser(alice).get(reverse("client-dashboard")).content.decode()
    assert 'data-live-socket="/ws/client/"' in body  # the staff socket has no organization feed


def test_the_dashboard_filters_by_status(alice: User, acme_job: Job) -> None:
    JobFactory(organization=alice.organization, title="Still a draft")
    body = browser(alice).get(reverse("client-dashboard") + "?status=draft").content.decode()
    assert "Still a draft" in body and "Acme cats" not in body


def test_an_anonymous_visitor_is_sent_to_log_in_and_other_roles_get_404(wendy: User, ada: User) -> None:
    url = reverse("client-dashboard")
    assert Client().get(url).status_code == 302
    assert browser(wendy).get(url).status_code == 404
    assert browser(ada).get(url).status_code == 404


# The job page

def test_the_job_page_shows_progress_cost_and_controls(alice: User, acme_job: Job) -> None:
    page = browser(alice).get(reverse("job-page", args=[acme_job.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert f'data-job="{acme_job.pk}" data-field="items_done"' in body
    assert 'data-live-socket="/ws/client/"' in body
    assert reverse("client-job-pause", args=[acme_job.pk]) in body
    assert reverse("job-results", args=[acme_job.pk]) + "?format=csv" in body
    assert reverse("job-invoice", args=[acme_job.pk]) + "?format=html" in body
    budget = JobBudget.objects.get(job=acme_job)
    assert f"{budget.budget:.2f}" in body  # the escrowed budget, against which cost is shown


def test_another_organizations_job_is_a_404_on_every_page(carol: User, acme_job: Job) -> None:
    client = browser(carol)
    for name in ("job-page", "client-job-cancel", "client-job-setup", "client-job-setup-items",
                 "client-job-setup-gold", "client-job-setup-publish"):
        assert client.get(reverse(name, args=[acme_job.pk])).status_code == 404, name
    for name in ("client-job-pause", "client-job-resume", "client-job-cancel"):
        assert client.post(reverse(name, args=[acme_job.pk])).status_code == 404, name
    acme_job.refresh_from_db()
    assert acme_job.status == JobStatus.OPEN


def test_the_job_page_draws_consensus_accuracy_distribution_and_confusion(alice: User) -> None:
    job = judged_job(items=4, answers=("cat", "cat", "dog"), organization=alice.organization)
    consensus_run(job=job)
    body = browser(alice).get(reverse("job-page", args=[job.pk])).content.decode()
    assert 'class="chart heatmap"' in body  # pooled confusion of the latest run
    assert 'class="chart bars"' in body and 'class="chart line"' in body
    assert "consensus run #" in body
    assert 'data-consensus="estimated_accuracy">—<' not in body


def test_before_any_run_the_distribution_counts_raw_votes(alice: User) -> None:
    job = open_job_with_items(items=3, overlap=3, organization=alice.organization)
    worker = WorkerFactory()
    submit(worker, job, "dog")
    submit(worker, job, "dog")
    body = browser(alice).get(reverse("job-page", args=[job.pk])).content.decode()
    assert "Raw votes so far" in body
    assert "after the first consensus run" in body
    assert 'class="chart bars"' in body and ">2</text>" in body  # two votes for Dog


# Pause, resume, cancel

def test_pause_and_resume_move_the_job_and_say_so(alice: User, acme_job: Job) -> None:
    client = browser(alice)
    response = client.post(reverse("client-job-pause", args=[acme_job.pk]), follow=True)
    acme_job.refresh_from_db()
    assert acme_job.status == JobStatus.PAUSED
    assert "Paused." in response.content.decode()
    client.post(reverse("client-job-resume", args=[acme_job.pk]))
    acme_job.refresh_from_db()
    assert acme_job.status == JobStatus.OPEN


def test_resuming_an_open_job_is_refused_with_a_message(alice: User, acme_job: Job) -> None:
    response = browser(alice).post(reverse("client-job-resume", args=[acme_job.pk]), follow=True)
    acme_job.refresh_from_db()
    assert acme_job.status == JobStatus.OPEN
    assert "cannot become" in response.content.decode()


def test_pause_needs_a_post(alice: User, acme_job: Job) -> None:
    assert browser(alice).get(reverse("client-job-pause", args=[acme_job.pk])).status_code == 405


def test_the_actions_are_csrf_protected(alice: User, acme_job: Job) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(reverse("client-job-pause", args=[acme_job.pk])).status_code == 403
    assert client.post(reverse("client-job-cancel", args=[acme_job.pk])).status_code == 403
    acme_job.refresh_from_db()
    assert acme_job.status == JobStatus.OPEN


def test_cancel_asks_first_then_settles_and_refunds(alice: User, acme_job: Job) -> None:
    client = browser(alice)
    confirm = client.get(reverse("client-job-cancel", args=[acme_job.pk]))
    assert confirm.status_code == 200 and "Yes, cancel the job" in confirm.content.decode()
    acme_job.refresh_from_db()
    assert acme_job.status == JobStatus.OPEN  # asking changes nothing
    before = organization_balance(organization=alice.organization)
    client.post(reverse("client-job-cancel", args=[acme_job.pk]))
    acme_job.refresh_from_db()
    assert acme_job.status == JobStatus.CANCELLED
    budget = JobBudget.objects.get(job=acme_job)
    assert budget.settled_at is not None
    assert organization_balance(organization=alice.organization) == before + budget.budget  # nothing completed


def test_the_cancel_page_and_job_page_show_what_cancelling_then_charges(alice: User, settings: Any) -> None:
    """Alice's 10-item job (overlap 1) has 8 items delivered; she sends those 8 back for 2 more
    judgments each (nobody has given them yet) and gets 2 expert reviews settled. Cancelling
    charges the 8 delivered items and the 2 reviews; the pages said "charged 0.00" before."""
    settings.QUORUM_EXPERT_REVIEW_PRICE, settings.QUORUM_EXPERT_REVIEW_PAY = "0.40", "0.25"
    job = open_job_with_items(items=10, organization=alice.organization, overlap=1)
    worker = WorkerFactory()
    for _ in range(8):
        work_through_flow(worker, job)
    delivered = list(job.items.filter(is_complete=True).values_list("pk", flat=True))
    fund(alice.organization, "10.00")
    assert flows_more.items_more_judgments(job=job, user=alice, item_ids=delivered, more=2, key="m-1").items == 8
    flows_experts.expert_reviews_ask(job=job, user=alice, item_ids=delivered[:2], key="x-1")
    expert = WorkerFactory(username="erin")
    grant(expert, experts.expert_qualification())
    for review in ExpertReview.objects.filter(job=job):
        flows_experts.expert_review_settle(expert=expert, review_id=review.pk, label="cat")
    budget = JobBudget.objects.get(job=job)
    charge = 8 * budget.price_per_item + 2 * Decimal("0.40")  # 8 delivered items, 2 reviews
    back = budget.budget - charge
    assert charge > 0

    client = browser(alice)
    shown = client.get(reverse("client-job-cancel", args=[job.pk])).content.decode()
    assert f"You are charged</dt><dd>${charge:.2f}" in shown
    assert f"Back to your balance</dt><dd>${back:.2f}" in shown
    page = client.get(reverse("job-page", args=[job.pk])).content.decode()
    assert f'data-field="spent">${charge:.2f}<' in page
    client.post(reverse("client-job-cancel", args=[job.pk]))
    settled = JobBudget.objects.get(job=job)
    assert (settled.charged, settled.refunded) == (charge, back)


# Untrusted content

def test_user_content_on_the_job_page_and_dashboard_is_escaped(alice: User) -> None:
    labels = [{"key": "cat", "name": XSS, "shortcut": "c"}, {"key": "dog", "name": "Dog", "shortcut": "d"}]
    job = open_job_with_items(items=2, organization=alice.organization, title=XSS, labels=labels,
                              instructions=f"Look closely. {XSS} [link](javascript:alert(1))")
    client = browser(alice)
    for url in (reverse("job-page", args=[job.pk]), reverse("client-dashboard")):
        body = client.get(url).content.decode()
        assert "<script>alert" not in body, url
        assert "onerror=alert" not in body.replace("onerror=alert(1)&gt;", ""), url
        assert "javascript:alert" not in body, url
    body = client.get(reverse("job-page", args=[job.pk])).content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body  # shown as text


def _balance(user: User) -> Decimal:
    return organization_balance(organization=user.organization)  # type: ignore[arg-type]


def test_a_draft_job_page_links_back_to_its_setup(alice: User) -> None:
    job = JobFactory(organization=alice.organization)
    body = browser(alice).get(reverse("job-page", args=[job.pk])).content.decode()
    assert reverse("client-job-setup", args=[job.pk]) in body
    assert "No budget yet" in body


def test_cancelling_a_draft_moves_no_money(alice: User) -> None:
    fund(alice.organization, "5.00")
    job: Any = JobFactory(organization=alice.organization)
    browser(alice).post(reverse("client-job-cancel", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert _balance(alice) == Decimal("5.00")
