"""The client chooses which item data fields workers see; the labeling page and the worker API
show only those, and metadata columns stay with the client.

Alice is Acme's client; her items carry a text, a picture and two metadata columns (source,
batch). Wendy labels; Carol (Globex) must change nothing of Acme's.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.errors import ApplicationError, Conflict
from marketplace.jobs.editing import item_field_names, job_worker_fields_set
from marketplace.jobs.fields import fields_clean, item_data_for_workers
from marketplace.jobs.models import Job
from marketplace.jobs.services import ItemRow, item_bulk_create
from tests.factories import JobFactory, publish_funded
from tests.labeling.helpers import post_json, signed_in
from tests.portal import browser

pytestmark = pytest.mark.django_db

ROW = {"text": "A cat on a mat", "image_url": "https://example.org/cat.jpg", "source": "crawl-7", "batch": "b12"}


def acme_job(alice: User, *, publish: bool = True, **fields: Any) -> Job:
    job = JobFactory(organization=alice.organization, **fields)
    item_bulk_create(job=job, rows=[ItemRow(data=dict(ROW), external_id=f"i{i}") for i in range(3)], gold=False)
    job.refresh_from_db()
    return publish_funded(job) if publish else job



def test_workers_see_every_field_until_the_client_chooses() -> None:
    assert item_data_for_workers(ROW, []) == ROW
    assert item_data_for_workers(ROW, ["source", "text"]) == {"text": ROW["text"], "source": "crawl-7"}
    assert item_data_for_workers("plain text", ["text"]) == "plain text"


def test_the_job_fields_check_the_list_of_names() -> None:
    assert fields_clean({"worker_fields": [" text ", "image_url", "text"]}) == {"worker_fields": ["text", "image_url"]}
    assert fields_clean({"worker_fields": None}) == {"worker_fields": []}
    for bad in ("text", [1], [""], ["x" * 101], ["f"] * 101):
        with pytest.raises(ApplicationError, match="worker_fields"):
            fields_clean({"worker_fields": bad})


def test_the_labeling_page_shows_only_the_chosen_fields(alice: User, wendy: User) -> None:
    job = acme_job(alice, worker_fields=["text", "image_url"])

    item = post_json(signed_in(wendy), reverse("work-label-next", args=[job.pk])).json()["next"]["item"]

    assert item["data"] == {"text": ROW["text"], "image_url": ROW["image_url"]}


def test_the_worker_api_shows_only_the_chosen_fields(alice: User, wendy: User, client_for: Any) -> None:
    job = acme_job(alice, worker_fields=["text"])

    lease = client_for(wendy).post("/api/v1/work/next/", {"job": job.pk}, format="json").json()

    assert lease["item"]["data"] == {"text": ROW["text"]}


def test_an_api_client_sets_the_fields_on_a_draft_and_reads_them_back(alice: User, client_for: Any) -> None:
    api = client_for(alice)
    labels = [{"key": "cat", "name": "Cat"}, {"key": "dog", "name": "Dog"}]
    made = api.post("/api/v1/jobs/", {"title": "Pets", "labels": labels, "worker_fields": ["text"]}, format="json")
    assert made.status_code == 201, made.json()
    assert made.json()["worker_fields"] == ["text"]
    refused = api.post("/api/v1/jobs/", {"title": "Pets", "labels": labels, "worker_fields": "text"}, format="json")
    assert refused.status_code == 400


def test_the_wizard_lists_the_fields_and_saves_the_ticked_ones(alice: User) -> None:
    job = acme_job(alice, publish=False)
    client = browser(alice)
    page = client.get(reverse("client-job-setup-items", args=[job.pk])).content.decode()
    assert "Fields workers see" in page and 'value="batch"' in page

    client.post(reverse("client-job-worker-fields", args=[job.pk]),
                {"fields": ["text", "image_url"], "next": "wizard"})

    job.refresh_from_db()
    assert job.worker_fields == ["text", "image_url"]


def test_every_field_ticked_is_stored_as_every_field(alice: User) -> None:
    job = acme_job(alice, worker_fields=["text"])
    browser(alice).post(reverse("client-job-worker-fields", args=[job.pk]), {"fields": list(ROW)})
    job.refresh_from_db()
    assert job.worker_fields == []


def test_a_running_job_changes_its_fields_and_the_next_item_follows(alice: User, wendy: User) -> None:
    job = acme_job(alice)
    client = browser(alice)
    page = client.get(reverse("client-job-worker-fields", args=[job.pk])).content.decode()
    assert 'value="source" checked' in page

    response = client.post(reverse("client-job-worker-fields", args=[job.pk]), {"fields": ["text"]}, follow=True)

    assert "3 fields hidden" in response.content.decode()
    item = post_json(signed_in(wendy), reverse("work-label-next", args=[job.pk])).json()["next"]["item"]
    assert item["data"] == {"text": ROW["text"]}


def test_nothing_ticked_is_refused(alice: User) -> None:
    job = acme_job(alice, worker_fields=["text"])
    response = browser(alice).post(reverse("client-job-worker-fields", args=[job.pk]), {}, follow=True)
    assert "Tick at least one field" in response.content.decode()
    job.refresh_from_db()
    assert job.worker_fields == ["text"]


def test_another_organization_cannot_choose_acmes_fields(alice: User, carol: User) -> None:
    job = acme_job(alice)
    response = browser(carol).post(reverse("client-job-worker-fields", args=[job.pk]), {"fields": ["batch"]})
    assert response.status_code == 404
    job.refresh_from_db()
    assert job.worker_fields == []


def test_a_finished_jobs_fields_stay(alice: User) -> None:
    job = acme_job(alice)
    Job.objects.filter(pk=job.pk).update(status="cancelled")
    with pytest.raises(Conflict):
        job_worker_fields_set(job=job, fields=["text"])
    assert set(item_field_names(job=job)) == set(ROW)
