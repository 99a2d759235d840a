"""Admins reach every client's job page from the staff overview, read-only, and every look is on
record for the client.

The cast (tests/conftest.py): Alice is Acme's client, Ada an admin of no client organization.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.jobs.models import Item, Job, JobStaffView
from tests.factories import open_job_with_items
from tests.portal import browser

pytestmark = pytest.mark.django_db



@pytest.fixture
def acme_job(alice: User) -> Job:
    return open_job_with_items(items=4, organization=alice.organization, title="Acme cats")


def test_the_staff_overview_links_each_job_to_its_page(ada: User, acme_job: Job) -> None:
    body = browser(ada).get(reverse("staff-jobs")).content.decode()
    assert f'href="{reverse("job-page", args=[acme_job.pk])}"' in body


def test_an_admin_sees_the_job_page_without_its_controls_and_the_look_is_logged(ada: User, acme_job: Job) -> None:
    response = browser(ada).get(reverse("job-page", args=[acme_job.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Acme cats" in body and "data-staff-view" in body and "read-only" in body
    for control in ("client-job-pause", "client-job-cancel", "client-job-consensus", "client-job-instructions"):
        assert reverse(control, args=[acme_job.pk]) not in body, control
    (look,) = JobStaffView.objects.filter(job=acme_job)
    assert (look.viewer, look.what) == (ada, reverse("job-page", args=[acme_job.pk]))


def test_the_client_sees_who_at_quorum_looked_and_their_own_looks_are_not_logged(
    alice: User, ada: User, acme_job: Job,
) -> None:
    browser(ada).get(reverse("client-job-data", args=[acme_job.pk]))
    browser(ada).get(reverse("client-job-judgments", args=[acme_job.pk]) + "?format=csv")
    body = browser(alice).get(reverse("job-page", args=[acme_job.pk])).content.decode()
    assert "Quorum staff access" in body and "2 looks" in body and "ada" in body
    assert reverse("client-job-data", args=[acme_job.pk]) in body
    assert JobStaffView.objects.filter(job=acme_job).count() == 2  # the client's own visit adds none
    assert "data-staff-view>" not in body  # no read-only banner for the client


def test_an_admin_cannot_act_for_the_client_from_a_staff_view(ada: User, acme_job: Job) -> None:
    item = Item.objects.filter(job=acme_job, is_gold=False).first()
    assert item is not None
    staff = browser(ada)
    response = staff.post(reverse("client-job-data-more", args=[acme_job.pk]),
                          {"items": [item.pk], "more": "2", "confirm": "1"}, follow=True)
    assert "read-only" in response.content.decode()
    assert Item.objects.get(pk=item.pk).extra_judgments == 0
    response = staff.post(reverse("client-job-consensus", args=[acme_job.pk]), follow=True)
    assert "read-only" in response.content.decode()
    assert not acme_job.consensus_runs.exists()
    assert staff.post(reverse("client-job-pause", args=[acme_job.pk])).status_code == 404  # the client's alone


@pytest.mark.parametrize("page", ["job-page", "client-job-data"])
def test_an_admins_job_pages_follow_the_job_on_the_staff_socket_and_the_clients_on_theirs(
    ada: User, alice: User, acme_job: Job, page: str,
) -> None:
    """The client socket refuses admins (4403): a staff look subscribes the staff socket to the job."""
    for user, socket in ((ada, "/ws/staff/"), (alice, "/ws/client/")):
        body = browser(user).get(reverse(page, args=[acme_job.pk])).content.decode()
        assert f'data-live-socket="{socket}" data-live-job="{acme_job.pk}"' in body, user
