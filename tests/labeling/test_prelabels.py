"""Pre-labels: off by default; when a client turns them on, workers see a model's label as a hint.

Alice (Acme) has a job whose items her model "spam-bert" 3 predicted ("dog" everywhere). By
default Wendy and Walter, workers, never see a prediction in any payload, API or page. When
Alice sets `show_prelabels` before publishing, each lease carries the suggestion, every judgment
made with one on screen is recorded, the job page, the results and the quality figures say so,
and a worker still chooses (Walter picks "cat" against the suggestion).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.jobs.models import Item, Job, JobStatus, PredictionModel, PrelabelShown
from marketplace.jobs.predicting import PredictionEntry, predictions_set
from marketplace.jobs.predictions import ModelName, PredictionRow
from marketplace.jobs.services import ItemRow, item_bulk_create
from tests.factories import JobFactory, fund, publish_funded
from tests.labeling.helpers import post_json, signed_in
from tests.portal import browser

pytestmark = pytest.mark.django_db

LEASE_KEYS = {"lease", "status", "expires_at", "job", "item"}


@pytest.fixture(autouse=True)
def _no_control_group(settings: Any) -> None:
    """These tests are of the suggestion itself; the blind control group has its own
    (test_prelabel_blind.py)."""
    settings.QUORUM_PRELABEL_BLIND_SHARE = 0


def _job(alice: User, client_for: Any, **extra: Any) -> Job:
    body = {"title": "Pets", "labels": [{"key": "cat", "name": "Cat"}, {"key": "dog", "name": "Dog"}],
            "overlap": 2, "gold_rate": "0", **extra}
    response = client_for(alice).post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 201, response.content
    job = Job.objects.get(pk=response.json()["id"])
    item_bulk_create(job=job, rows=[ItemRow(data={"text": f"pet {i}"}) for i in range(2)],
                     gold=False)
    ids = list(Item.objects.filter(job=job).values_list("pk", flat=True))
    predictions_set(job=job, model=ModelName("spam-bert", "3"),
                    entries=[PredictionEntry(PredictionRow("dog"), item_id=i) for i in ids])
    job.refresh_from_db()
    return publish_funded(job)


def test_by_default_no_worker_payload_carries_a_prediction(
    alice: User, wendy: User, walter: User, client_for: Any
) -> None:
    job = _job(alice, client_for)
    assert client_for(alice).get(f"/api/v1/jobs/{job.pk}/").json()["show_prelabels"] is None
    api = client_for(wendy)
    claimed = api.post("/api/v1/work/next/", {"job": job.pk}, format="json").json()
    detail = api.get(f"/api/v1/work/leases/{claimed['lease']}/").json()
    page = post_json(signed_in(walter), reverse("work-label-next", args=[job.pk])).json()["next"]
    for payload in (claimed, detail):
        assert set(payload) == LEASE_KEYS
    assert "suggestion" not in page
    for payload in (claimed, detail, page):
        text = json.dumps(payload)
        assert "spam-bert" not in text and "prediction" not in text and "suggest" not in text
    assert not PrelabelShown.objects.exists()


def test_with_prelabels_on_workers_see_the_suggestion_and_still_choose(
    alice: User, wendy: User, walter: User, client_for: Any
) -> None:
    job = _job(alice, client_for, show_prelabels={"model": "spam-bert", "model_version": "3"})
    assert client_for(alice).get(f"/api/v1/jobs/{job.pk}/").json()["show_prelabels"] == {
        "model": "spam-bert", "model_version": "3"}
    api = client_for(wendy)
    claimed = api.post("/api/v1/work/next/", {"job": job.pk}, format="json").json()
    assert claimed["suggestion"] == {"key": "dog", "name": "Dog"}
    sent = api.post(f"/api/v1/work/leases/{claimed['lease']}/submit/", {"label": "dog"},
                    format="json")
    assert sent.status_code in (200, 201), sent.content
    page_client = signed_in(walter)
    shown = post_json(page_client, reverse("work-label-next", args=[job.pk])).json()["next"]
    assert shown["suggestion"] == "dog"
    answered = post_json(page_client, reverse("work-label-answer", args=[shown["lease"]]),
                         {"label": "cat"})
    assert answered.status_code == 200, answered.content
    # Every judgment made with a suggestion on screen is on record, with the label shown.
    assert set(PrelabelShown.objects.values_list("worker__username", "label")) == {
        ("wendy", "dog"), ("walter", "dog")}
    figures = client_for(alice).get(f"/api/v1/jobs/{job.pk}/label-quality/").json()
    assert figures["prelabels_shown"] is True
    assert {key: figures["prelabels"][key] for key in ("model", "judgments_shown", "judgments_agreeing",
                                                       "judgments_blind")} == {
        "model": "spam-bert 3", "judgments_shown": 2, "judgments_agreeing": 1, "judgments_blind": 0}
    page = browser(alice).get(reverse("job-page", args=[job.pk])).content.decode()
    assert 'data-figure="prelabels"' in page and "spam-bert 3 as a suggestion" in page
    results = client_for(alice).get(f"/api/v1/jobs/{job.pk}/results/")
    assert results["Quorum-Prelabels"] == "spam-bert 3"


@pytest.mark.parametrize("value", ["spam-bert", {"model": "spam-bert"}, {"model": "a b", "model_version": "1"},
                                   {"model": "m", "model_version": "1", "extra": 1}])
def test_a_bad_show_prelabels_is_a_400(alice: User, client_for: Any, value: Any) -> None:
    body = {"title": "Pets", "labels": [{"key": "cat"}, {"key": "dog"}], "show_prelabels": value}
    response = client_for(alice).post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 400, response.content
    assert not Job.objects.exists()


def test_pre_labels_are_set_before_publishing_only(alice: User, client_for: Any) -> None:
    job = _job(alice, client_for)
    response = client_for(alice).patch(
        f"/api/v1/jobs/{job.pk}/", {"show_prelabels": {"model": "spam-bert", "model_version": "3"}},
        format="json",
    )
    assert response.status_code == 409
    job.refresh_from_db()
    assert job.prelabel_model is None


def test_the_wizard_offers_the_jobs_models_off_by_default_and_turns_pre_labels_on(
    alice: User,
) -> None:
    fund(alice.organization, "10.00")
    job = JobFactory(organization=alice.organization, created_by=alice)
    item_bulk_create(job=job, rows=[ItemRow(data={"text": "a"})], gold=False)
    item = Item.objects.get(job=job)
    predictions_set(job=job, model=ModelName("spam-bert", "3"),
                    entries=[PredictionEntry(PredictionRow("dog"), item_id=item.pk)])
    client = browser(alice)
    url = reverse("client-job-setup-publish", args=[job.pk])
    page = client.get(url).content.decode()
    assert "data-prelabels" in page and "spam-bert 3 (1 item predicted)" in page
    assert '<option value="" selected>Off: workers never see predictions</option>' in page
    model_id = PredictionModel.objects.get(name="spam-bert").pk
    response = client.post(url, {"tier": "economy", "prelabel_model": str(model_id)})
    assert response.status_code == 302, response.content
    job.refresh_from_db()
    assert job.status == JobStatus.OPEN and job.prelabel_model_id == model_id
