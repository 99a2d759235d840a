"""The wizard's last step and qualifications: how many workers hold each, a refusal when a job
could never start, a warning when it starts only once workers pass the exam; and gold feedback,
on by default and switchable per job.

Alice (Acme's client) publishes; Ada (admin) writes platform-wide qualifications; Wendy holds one.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from marketplace.accounts.models import Qualification, User
from marketplace.accounts.qualifications import exam_questions_add, qualification_create
from marketplace.jobs import services
from marketplace.jobs.models import Job, JobStatus
from marketplace.billing.models import Tier
from marketplace.quality.rules import TIER_DEFAULTS, rules_for
from tests.factories import fund, grant, open_job_with_items
from tests.portal import browser

pytestmark = pytest.mark.django_db



def with_exam(skill: Qualification, admin: User) -> Qualification:
    exam_questions_add(user=admin, qualification=skill, questions=[{"data": {"text": "meow"}, "answer": "cat"}])
    return skill


@pytest.fixture
def job(alice: User) -> Job:
    fund(alice.organization, "10.00")
    return open_job_with_items(items=3, organization=alice.organization, created_by=alice, publish=False)


def publish(alice: User, job: Job, skill: Qualification | None, **extra: str) -> object:
    data = {"tier": "economy", "qualification": str(skill.pk) if skill else "", "min_score": "0.8",
            "gold_feedback": "on", **extra}
    return browser(alice).post(reverse("client-job-setup-publish", args=[job.pk]), data, follow=True)


def test_the_last_step_shows_how_many_workers_hold_each_qualification(
    alice: User, ada: User, wendy: User, walter: User, job: Job
) -> None:
    held = qualification_create(user=ada, name="Held by two", exam_labels=["cat", "dog"])
    grant(wendy, held)
    grant(walter, held, score="0.5")
    qualification_create(user=alice, name="Nobody", exam_labels=["cat", "dog"])
    page = browser(alice).get(reverse("client-job-setup-publish", args=[job.pk])).content.decode()
    row = page[page.index("Held by two</th>"):]
    assert '<td class="num" data-field="holders">2</td>' in row[:200]
    assert "No exam and no holders: not offered above, as no one could ever take a job needing it" in page


def test_a_job_gated_on_a_qualification_nobody_holds_or_can_earn_is_refused(alice: User, ada: User,
                                                                            job: Job) -> None:
    """Such a qualification is not offered (test_views_wizard_publish_refused.py), but a draft may
    require it already (through the API): the page shows it chosen, and publishing says why not."""
    nobody = qualification_create(user=ada, name="Unreachable", exam_labels=["cat", "dog"])
    services.job_update(job=job, user=alice, fields={}, requirements=[
        services.Requirement(qualification_id=nobody.pk, min_score=Decimal("0.8"))])
    response = publish(alice, job, nobody)
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "No worker holds “Unreachable” at the required score and it has no exam" in \
        response.content.decode()  # type: ignore[attr-defined]
    job.refresh_from_db()
    assert job.status == JobStatus.DRAFT


def test_holders_under_the_minimum_score_do_not_count(alice: User, ada: User, wendy: User, job: Job) -> None:
    skill = qualification_create(user=ada, name="Low scores", exam_labels=["cat", "dog"])
    grant(wendy, skill, score="0.5")
    assert publish(alice, job, skill).status_code == 400  # type: ignore[attr-defined]


def test_a_job_gated_on_an_exam_nobody_passed_yet_publishes_with_a_warning(alice: User, ada: User,
                                                                           job: Job) -> None:
    skill = with_exam(qualification_create(user=ada, name="Fresh exam", exam_labels=["cat", "dog"]), ada)
    response = publish(alice, job, skill)
    page = response.content.decode()  # type: ignore[attr-defined]
    assert "No worker holds “Fresh exam” yet: the job starts once workers pass its exam." in page
    job.refresh_from_db()
    assert job.status == JobStatus.OPEN


def test_a_job_gated_on_a_held_qualification_publishes_without_a_warning(alice: User, ada: User,
                                                                         wendy: User, job: Job) -> None:
    skill = qualification_create(user=ada, name="Granted", exam_labels=["cat", "dog"])
    grant(wendy, skill, score="0.9")
    page = publish(alice, job, skill).content.decode()  # type: ignore[attr-defined]
    assert "No worker holds" not in page
    job.refresh_from_db()
    assert job.status == JobStatus.OPEN


def test_gold_feedback_is_checked_by_default_and_saved_at_publish(alice: User, job: Job) -> None:
    page = browser(alice).get(reverse("client-job-setup-publish", args=[job.pk])).content.decode()
    assert 'id="id_gold_feedback" checked' in page
    publish(alice, job, None)
    job.refresh_from_db()
    assert job.rules_at_publish["gold_feedback"] is True and rules_for(job=job).gold_feedback


def test_unchecking_gold_feedback_turns_it_off_for_the_job(alice: User, job: Job) -> None:
    data = {"tier": "economy", "qualification": "", "min_score": "0.8"}  # a checkbox left unchecked is absent
    browser(alice).post(reverse("client-job-setup-publish", args=[job.pk]), data)
    job.refresh_from_db()
    assert job.status == JobStatus.OPEN and job.rules_at_publish["gold_feedback"] is False


def test_every_tier_shows_gold_feedback_by_default(alice: User) -> None:
    """The code's defaults and the seeded tier rows (billing 0009) agree; publishing merges both."""
    assert all(rules.gold_feedback for rules in TIER_DEFAULTS.values())
    assert {tier.slug: tier.quality_rules["gold_feedback"] for tier in Tier.objects.all()} == {
        "economy": True, "standard": True, "premium": True}
    published = open_job_with_items(items=1, organization=alice.organization)
    assert published.rules_at_publish["gold_feedback"] is True
