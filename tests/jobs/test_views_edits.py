"""The portal's edits: the wizard removes a draft's items, a draft page deletes the draft, a
running job's page edits its instructions as a new version.

Alice is Acme's client; Carol is Globex's client and must change nothing of Acme's.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.jobs.models import Item, Job
from tests.factories import open_job_with_items
from tests.portal import browser

pytestmark = pytest.mark.django_db



def draft(alice: User) -> Job:
    return open_job_with_items(items=3, gold=2, publish=False, organization=alice.organization)


def ids(job: Job, *, gold: bool = False) -> list[int]:
    return list(job.items.filter(is_gold=gold).order_by("pk").values_list("pk", flat=True))


def test_the_items_step_removes_one_item_or_all_of_them(alice: User) -> None:
    job = draft(alice)
    client = browser(alice)
    page = client.get(reverse("client-job-setup-items", args=[job.pk])).content.decode()
    assert "Remove all 3 items" in page
    remove = reverse("client-job-setup-remove", args=[job.pk])
    first = ids(job)[0]
    response = client.post(remove, {"item": first, "gold": "0"}, follow=True)
    assert "Removed 1 item." in response.content.decode() and first not in ids(job)
    client.post(remove, {"all": "1", "gold": "0"})
    job.refresh_from_db()
    assert (job.item_count, job.gold_item_count, len(ids(job, gold=True))) == (0, 2, 2)


def test_the_gold_step_removes_every_gold_item_and_leaves_the_items(alice: User) -> None:
    job = draft(alice)
    browser(alice).post(reverse("client-job-setup-remove", args=[job.pk]), {"all": "1", "gold": "1"})
    job.refresh_from_db()
    assert (job.item_count, job.gold_item_count) == (3, 0) and len(ids(job)) == 3


def test_a_published_job_keeps_its_items_whatever_is_posted(alice: User) -> None:
    job = open_job_with_items(items=3, organization=alice.organization)
    response = browser(alice).post(reverse("client-job-setup-remove", args=[job.pk]), {"all": "1"}, follow=True)
    assert "draft" in response.content.decode() and Item.objects.filter(job=job).count() == 3


def test_a_draft_page_offers_delete_instead_of_cancel_and_deletes_after_asking(alice: User) -> None:
    job = draft(alice)
    client = browser(alice)
    page = client.get(reverse("job-page", args=[job.pk])).content.decode()
    assert "Delete draft" in page and "Cancel job" not in page
    confirm = client.get(reverse("client-job-delete", args=[job.pk])).content.decode()
    assert "Yes, delete the draft" in confirm and "no money has moved" in confirm
    response = client.post(reverse("client-job-delete", args=[job.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("client-dashboard")
    assert not Job.objects.filter(pk=job.pk).exists()


def test_a_running_job_cannot_be_deleted_from_the_portal(alice: User) -> None:
    job = open_job_with_items(items=2, organization=alice.organization)
    client = browser(alice)
    assert "Delete draft" not in client.get(reverse("job-page", args=[job.pk])).content.decode()
    client.post(reverse("client-job-delete", args=[job.pk]))
    assert Job.objects.filter(pk=job.pk).exists()


def test_another_organization_gets_404_and_changes_nothing(alice: User, carol: User) -> None:
    job = draft(alice)
    client = browser(carol)
    for name, data in (("client-job-delete", {}), ("client-job-setup-remove", {"all": "1"}),
                       ("client-job-instructions", {"instructions": "Mine"})):
        assert client.post(reverse(name, args=[job.pk]), data).status_code == 404
    assert Job.objects.filter(pk=job.pk).exists() and len(ids(job)) == 3


def test_the_job_page_edits_running_instructions_as_a_new_version(alice: User) -> None:
    job = open_job_with_items(items=2, organization=alice.organization)
    client = browser(alice)
    assert reverse("client-job-instructions", args=[job.pk]) in client.get(reverse("job-page", args=[job.pk])).content.decode()
    form = client.get(reverse("client-job-instructions", args=[job.pk])).content.decode()
    assert "Save as a new version" in form and "Pick the animal in the picture." in form
    response = client.post(reverse("client-job-instructions", args=[job.pk]),
                           {"instructions": "Only **cats** count."}, follow=True)
    body = response.content.decode()
    assert "Saved as version 2" in body and "<strong>cats</strong>" in body and "version 2" in body
    bad = client.post(reverse("client-job-instructions", args=[job.pk]), {"instructions": "<" * 600}, follow=True)
    assert "instructions hold" in bad.content.decode()
    job.refresh_from_db()
    assert (job.instructions_version, job.instructions) == (2, "Only **cats** count.")
