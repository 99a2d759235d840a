"""The last step when a publish is refused, and the scores and qualifications it offers: a refused
choice is not saved (the draft and the page stay as they were, the form keeps what was typed); a
score the page shows is one its own form accepts; a qualification no one could ever meet is not
offered.

Alice (Acme's client, funded) publishes; Ada (admin) writes platform-wide qualifications; Wendy
holds one at 0.5.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from marketplace.accounts.models import Qualification, User
from marketplace.accounts.qualifications import qualification_create
from marketplace.jobs import services
from marketplace.jobs.models import Job, JobQualification, JobStatus
from tests.factories import fund, grant, open_job_with_items
from tests.portal import browser

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(alice: User) -> Job:
    fund(alice.organization, "10.00")
    return open_job_with_items(items=3, organization=alice.organization, created_by=alice, publish=False)


@pytest.fixture
def low_scores(ada: User, wendy: User) -> Qualification:
    """Held by Wendy at 0.5 only, no exam: a job asking 0.8 of it could never start."""
    skill = qualification_create(user=ada, name="Low scores", exam_labels=["cat", "dog"])
    grant(wendy, skill, score="0.5")
    return skill


def url(job: Job) -> str:
    return reverse("client-job-setup-publish", args=[job.pk])


def test_a_refused_publish_saves_none_of_its_choices_and_keeps_what_was_typed(
    alice: User, job: Job, low_scores: Qualification
) -> None:
    client = browser(alice)
    sent = {"tier": "premium", "qualification": str(low_scores.pk), "min_score": "0.8"}
    refused = client.post(url(job), sent)
    assert refused.status_code == 400
    page = refused.content.decode()
    assert "No worker holds “Low scores” at the required score" in page
    assert f'<option value="{low_scores.pk}" selected>' in page and 'value="0.8"' in page  # as typed
    job.refresh_from_db()
    assert job.status == JobStatus.DRAFT and job.tier != "premium"
    assert not JobQualification.objects.filter(job=job).exists()
    again = client.get(url(job)).content.decode()  # the draft as it was: anyone, the default score
    assert '<option value="" selected>Anyone (no qualification needed)</option>' in again
    assert 'value="0.80"' in again
    assert client.post(url(job), {**sent, "qualification": ""}).status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.OPEN and job.tier == "premium"


def test_a_stored_score_is_shown_in_hundredths_and_anyone_ignores_the_score_box(
    alice: User, job: Job, low_scores: Qualification
) -> None:
    """A requirement at 0 (as the API stores it: 0.0000) once left the box at "0.0000", which the
    page's own form refused ("no more than 2 decimal places") even with "Anyone" chosen."""
    services.job_update(job=job, user=alice, fields={}, requirements=[
        services.Requirement(qualification_id=low_scores.pk, min_score=Decimal("0"))])
    client = browser(alice)
    page = client.get(url(job)).content.decode()
    assert 'value="0.00"' in page and 'step="0.01"' in page
    response = client.post(url(job), {"tier": "economy", "qualification": "", "min_score": "0.0000"})
    assert response.status_code == 302, response.content.decode()
    job.refresh_from_db()
    assert job.status == JobStatus.OPEN and not JobQualification.objects.filter(job=job).exists()


def test_a_finer_score_set_through_the_api_is_shown_as_it_is_and_publishes(
    alice: User, job: Job, low_scores: Qualification
) -> None:
    services.job_update(job=job, user=alice, fields={}, requirements=[
        services.Requirement(qualification_id=low_scores.pk, min_score=Decimal("0.4555"))])
    client = browser(alice)
    page = client.get(url(job)).content.decode()
    assert 'value="0.4555"' in page and 'step="0.0001"' in page  # a browser accepts what it shows
    sent = {"tier": "economy", "qualification": str(low_scores.pk), "min_score": "0.4555"}
    assert client.post(url(job), sent).status_code == 302
    assert JobQualification.objects.get(job=job).min_score == Decimal("0.4555")


def test_a_platform_qualification_no_one_holds_or_can_earn_is_not_offered(
    alice: User, ada: User, job: Job, low_scores: Qualification
) -> None:
    nobody = qualification_create(user=ada, name="English reading", exam_labels=["cat", "dog"])
    ours = qualification_create(user=alice, name="Our own", exam_labels=["cat", "dog"])
    page = browser(alice).get(url(job)).content.decode()
    assert "English reading" not in page  # Acme can do nothing about Ada's: not even listed
    assert f'<option value="{low_scores.pk}">Low scores</option>' in page
    assert f'<option value="{ours.pk}"' not in page  # listed with what would make it usable
    row = page[page.index("Our own"):]
    assert "not offered above" in row[:600]
    assert reverse("client-qualification", args=[ours.pk]) in row[:900]
    forged = browser(alice).post(url(job), {"tier": "economy", "qualification": str(nobody.pk)})
    assert forged.status_code == 400
    job.refresh_from_db()
    assert job.status == JobStatus.DRAFT and not JobQualification.objects.filter(job=job).exists()
