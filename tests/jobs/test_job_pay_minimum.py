"""A job pays workers something for each accepted judgment: at least 0.01, and at least its
tier's pay, on every door that sets a pay or a tier (API create and edit, the portal's wizard, publishing).

Outside review: a job paying 0 per answer was accepted. Alice is Acme's client.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.billing.models import Tier
from marketplace.jobs.models import Job, JobStatus
from tests.factories import fund
from tests.portal import browser

pytestmark = pytest.mark.django_db
LABELS = [{"key": "cat", "shortcut": "c"}, {"key": "dog", "shortcut": "d"}]


def create(api: Any, **fields: Any) -> Any:
    return api.post("/api/v1/jobs/", {"title": "Animals", "labels": LABELS, **fields}, format="json")


@pytest.mark.parametrize("pay", ["0", "0.00", "0.0099"])
def test_a_job_paying_under_a_cent_per_answer_is_refused_naming_the_minimum(
    alice: User, client_for: Any, pay: str
) -> None:
    refused = create(client_for(alice), reward_per_judgment=pay)

    assert refused.status_code == 400
    error = refused.json()["error"]
    assert "reward_per_judgment must be at least 0.01" in error["message"]
    assert error["details"]["reward_per_judgment"] == ["at least 0.01"]
    assert not Job.objects.exists()


def test_a_draft_cannot_be_edited_to_pay_nothing_and_keeps_its_pay(alice: User, client_for: Any) -> None:
    api = client_for(alice)
    job_id = create(api, reward_per_judgment="0.05").json()["id"]

    refused = api.patch(f"/api/v1/jobs/{job_id}/", {"reward_per_judgment": "0"}, format="json")

    assert refused.status_code == 400 and "at least 0.01" in refused.json()["error"]["message"]
    assert Job.objects.get(pk=job_id).reward_per_judgment == Decimal("0.0500")


def test_a_pay_under_the_tiers_is_refused_when_it_is_set_not_first_at_publish(alice: User, client_for: Any) -> None:
    api = client_for(alice)

    refused = create(api, tier="premium", reward_per_judgment="0.03")
    assert refused.status_code == 400
    assert "The Premium tier pays workers at least 0.0400 per judgment" in refused.json()["error"]["message"]
    assert not Job.objects.exists()
    job_id = create(api, tier="premium", reward_per_judgment="0.04").json()["id"]
    lowered = api.patch(f"/api/v1/jobs/{job_id}/", {"reward_per_judgment": "0.035"}, format="json")
    assert lowered.status_code == 400 and "at least 0.0400" in lowered.json()["error"]["message"]
    assert Job.objects.get(pk=job_id).reward_per_judgment == Decimal("0.0400")


def _draft_with_an_item(alice: User, client_for: Any) -> Job:
    api = client_for(alice)
    job_id = create(api).json()["id"]
    api.post(f"/api/v1/jobs/{job_id}/items/", [{"text": "a cat"}], format="json")
    return Job.objects.get(pk=job_id, item_count=1)


def test_the_wizard_refuses_to_publish_on_a_tier_an_admin_set_to_pay_nothing(alice: User, client_for: Any) -> None:
    """The wizard takes the tier's pay: a tier paying 0 is a form error, and the job stays a draft."""
    Tier.objects.filter(slug="economy").update(pay_per_judgment=Decimal("0"))
    fund(alice.organization, "10.00")
    job = _draft_with_an_item(alice, client_for)

    response = browser(alice).post(reverse("client-job-setup-publish", args=[job.pk]), {"tier": "economy"})

    assert response.status_code == 400
    assert "reward_per_judgment must be at least 0.01" in response.content.decode()
    job.refresh_from_db()
    assert job.status == JobStatus.DRAFT and job.reward_per_judgment == Decimal("0.0200")


def test_a_draft_saved_paying_nothing_before_the_minimum_is_not_published(alice: User, client_for: Any) -> None:
    """A legacy draft paying 0 on a tier paying 0: publishing asks the minimum instead."""
    Tier.objects.filter(slug="standard").update(pay_per_judgment=Decimal("0"))
    fund(alice.organization, "10.00")
    job_id = _draft_with_an_item(alice, client_for).pk
    Job.objects.filter(pk=job_id).update(reward_per_judgment=Decimal("0"))  # as saved before the floor

    refused = client_for(alice).post(f"/api/v1/jobs/{job_id}/publish/")

    assert refused.status_code == 400
    assert "pays workers at least 0.01 per judgment; this job offers 0.0000" in refused.json()["error"]["message"]
    assert Job.objects.get(pk=job_id).status == JobStatus.DRAFT


def test_a_draft_moved_to_a_dearer_tier_under_its_pay_is_refused_naming_the_minimum(
    alice: User, client_for: Any
) -> None:
    """Outside review: economy at 0.015 moved to premium kept 0.015 with a 200; only publish refused."""
    api = client_for(alice)
    job_id = create(api, tier="economy", reward_per_judgment="0.015").json()["id"]

    refused = api.patch(f"/api/v1/jobs/{job_id}/", {"tier": "premium"}, format="json")

    assert refused.status_code == 400
    error = refused.json()["error"]
    assert "The Premium tier pays workers at least 0.0400 per judgment; this job offers 0.0150" in error["message"]
    assert error["details"]["reward_per_judgment"] == ["at least 0.0400"]
    assert Job.objects.get(pk=job_id).tier == "economy"
    moved = api.patch(f"/api/v1/jobs/{job_id}/", {"tier": "premium", "reward_per_judgment": "0.04"}, format="json")
    assert moved.status_code == 200 and moved.json()["tier"] == "premium"
