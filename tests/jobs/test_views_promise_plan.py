"""Whether the quality promise will be measured, said once: the publish step (under each tier)
and the job page (until the job settles) give the same verdict from the same figures, and the
advice to add gold items agrees with its own arithmetic.

Alice is Acme's client, funded.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.jobs.models import Job, JobStatus
from tests.factories import fund, open_job_with_items
from tests.portal import browser

pytestmark = pytest.mark.django_db


def draft(alice: User, *, items: int, gold: int) -> Job:
    fund(alice.organization, "500.00")
    return open_job_with_items(items=items, gold=gold, organization=alice.organization, created_by=alice,
                               publish=False)


def publish_standard(alice: User, job: Job) -> str:
    """The standard tier's card on the last step, then publish on it; returns the card's text."""
    client = browser(alice)
    page = client.get(reverse("client-job-setup-publish", args=[job.pk])).content.decode()
    card = page[page.index('for="tier-standard"'):page.index('for="tier-premium"')]
    assert client.post(reverse("client-job-setup-publish", args=[job.pk]), {"tier": "standard"}).status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.OPEN
    return " ".join(card.split())


def job_page(alice: User, job: Job) -> str:
    page = browser(alice).get(reverse("job-page", args=[job.pk])).content.decode()
    promise = page[page.index("data-quality-promise"):]
    return " ".join(promise[:promise.index("</dd>")].split())


def test_the_job_page_says_the_promise_will_not_apply_as_the_publish_step_did(alice: User) -> None:
    """40 items and 10 gold on the standard tier: about 13 gold answers, reaching about 7 gold items."""
    job = draft(alice, items=40, gold=10)
    card = publish_standard(alice, job)
    assert "Will not apply as it stands" in card and "they reach about 7 of your 10" in card
    # The advice with its own arithmetic: 9 more, not 3, as the same answers spread over more items.
    assert "Add 9 gold items</a>: the same answers over 19 gold items reach about 10." in card
    shown = job_page(alice, job)
    assert "Will not apply as it stands" in shown and "they reach about 7 of your 10" in shown
    assert "Checked when the job ends" not in shown
    assert "Add 9 gold items" not in shown  # a published job's gold step is closed


def test_the_job_page_says_where_the_promise_will_be_measured(alice: User) -> None:
    job = draft(alice, items=400, gold=20)
    card = publish_standard(alice, job)
    assert "Measured at the end on about 20 of your 20 gold items." in card
    assert "Measured at the end on about 20 of your 20 gold items." in job_page(alice, job)
