"""The publish step after a refusal, in a real browser: Alice (Acme, funded) asks for a
qualification nobody holds at her score; the refusal keeps what she chose on screen but saves
none of it, so coming back finds the draft as it was, and publishing to anyone just works.
(Before: the refused choice was saved, the score came back as "0.8000", and every publish,
even to anyone, was refused for "more than 2 decimal places".)

Ada (admin) wrote "Low scores"; Wendy holds it at 0.5.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from marketplace.accounts.models import Qualification, User
from marketplace.accounts.qualifications import qualification_create
from marketplace.jobs.models import Job, JobQualification, JobStatus
from tests.browser.conftest import arrange, log_in
from tests.factories import PASSWORD, AdminFactory, WorkerFactory, fund, grant, open_job_with_items


def _draft_and_skill(alice: User) -> tuple[Job, Qualification]:
    fund(alice.organization, "50.00")
    job = open_job_with_items(items=4, organization=alice.organization, created_by=alice, publish=False,
                              title="Gated pets")
    skill = qualification_create(user=AdminFactory(username="ada"), name="Low scores", exam_labels=["cat", "dog"])
    grant(WorkerFactory(username="wendy"), skill, score="0.5")
    return job, skill


def test_a_refused_publish_changes_nothing_and_the_next_publish_goes_through(page: Any, alice: User) -> None:
    job, skill = arrange(_draft_and_skill, alice)
    log_in(page, "alice", PASSWORD)
    page.goto(f"/portal/jobs/{job.pk}/setup/publish/")
    who = page.get_by_label("Only workers qualified in")
    score = page.get_by_label("with a score of at least")
    who.select_option(label="Low scores")
    score.fill("0.8")
    page.get_by_role("button", name="Publish job").click()
    expect(page.locator(".form-alert")).to_contain_text("No worker holds “Low scores” at the required score")
    expect(who).to_have_value(str(skill.pk))  # what she chose is still on screen…
    expect(score).to_have_value("0.8")
    assert not JobQualification.objects.filter(job=job).exists()  # …and none of it was saved

    page.goto(f"/portal/jobs/{job.pk}/setup/publish/")  # coming back: the draft as it was
    expect(who).to_have_value("")
    expect(score).to_have_value("0.80")
    page.get_by_role("button", name="Publish job").click()
    page.wait_for_url(re.compile(rf"/portal/jobs/{job.pk}/$"))
    expect(page.get_by_text("Published on the")).to_be_visible()
    job.refresh_from_db()
    assert job.status == JobStatus.OPEN and not JobQualification.objects.filter(job=job).exists()
