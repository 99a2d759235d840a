"""Downloads on a job's page with the portal's session: the results' layouts, Label Studio tasks
and the raw judgments. Alice owns the Acme job; Carol (Globex) and Wendy (a worker) get a 404."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.jobs.models import Job
from tests.quality.run_helpers import judged_job
from tests.portal import browser

pytestmark = pytest.mark.django_db



@pytest.fixture
def job(alice: User) -> Job:
    return judged_job(items=2, answers=("cat", "dog"), organization=alice.organization)


def test_the_job_page_offers_a_flat_csv_label_studio_and_raw_judgments(alice: User, job: Job) -> None:
    page = browser(alice).get(reverse("job-page", args=[job.pk])).content.decode()
    results = reverse("job-results", args=[job.pk])
    assert f"{results}?format=csv&amp;layout=flat" in page
    assert f"{results}?format=label_studio" in page
    assert f"{reverse('client-job-judgments', args=[job.pk])}?format=csv" in page


def test_the_flat_csv_link_downloads_a_column_per_data_field_with_the_session(alice: User, job: Job) -> None:
    response = browser(alice).get(reverse("job-results", args=[job.pk]), {"format": "csv", "layout": "flat"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["data.text"] for r in rows] == ["item 0", "item 1"]


def test_a_client_downloads_raw_judgments_as_task_worker_label_from_the_portal(
    alice: User, job: Job
) -> None:
    response = browser(alice).get(reverse("client-job-judgments", args=[job.pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == f'attachment; filename="job-{job.pk}-judgments.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["task", "worker", "label"]
    assert sorted((task, label) for task, _, label in rows[1:]) == [
        ("i0", "cat"), ("i0", "dog"), ("i1", "cat"), ("i1", "dog")
    ]
    workers = {worker for _, worker, _ in rows[1:]}
    assert len(workers) == 2 and all(w.startswith("w") for w in workers)


def test_raw_judgments_refuse_an_unknown_format_and_other_people(
    alice: User, carol: User, wendy: User, job: Job, client: Any
) -> None:
    url = reverse("client-job-judgments", args=[job.pk])
    assert browser(alice).get(url, {"format": "label_studio"}).status_code == 400
    assert browser(carol).get(url).status_code == 404
    assert browser(wendy).get(url).status_code == 404
    assert client.get(url).status_code == 302  # to the login page
