"""The model beside the crowd in the data browser (quality/browse_model.py, api/browse.py, the page).

Alice (Acme) owns the browsed job (tests/quality/browse_helpers.py) and attached her model
"spam-bert" 3's predictions to its judged items: right on i0, i2 and i5, wrong on i1 and i3.
Carol (Globex) has a model of her own, which is no model of Alice's job.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client

from marketplace.accounts.models import User
from marketplace.jobs.models import Item, Job, PredictionModel
from marketplace.jobs.predicting import PredictionEntry, predictions_set
from marketplace.jobs.predictions import ModelName, PredictionRow
from marketplace.quality.models import ItemResult
from marketplace.quality.runs import consensus_run
from tests.factories import open_job_with_items
from tests.quality.browse_helpers import browsed_job

pytestmark = pytest.mark.django_db

PREDICTED = {"i0": "cat", "i1": "dog", "i2": "cat", "i3": "cat", "i5": "bird"}


@pytest.fixture
def job(alice: User) -> Job:
    job = browsed_job(organization=alice.organization)
    ids = dict(Item.objects.filter(job=job).values_list("external_id", "pk"))
    predictions_set(job=job, model=ModelName("spam-bert", "3"),
                    entries=[PredictionEntry(PredictionRow(label), item_id=ids[ext]) for ext, label in PREDICTED.items()])
    consensus_run(job=job)  # measures the model against the people
    return job


def consensus_labels(job: Job) -> dict[str, str]:
    run = job.consensus_runs.order_by("-id").first()
    return dict(ItemResult.objects.filter(run=run).values_list("item__external_id", "label"))


def url(job: Job, tail: str = "") -> str:
    return f"/api/v1/jobs/{job.pk}/browse/{tail}"


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_each_row_shows_the_models_prediction_beside_the_consensus(job: Job, alice: User, client_for: Any) -> None:
    rows = {row["external_id"]: row for row in client_for(alice).get(url(job)).json()["results"]}
    labels = consensus_labels(job)
    for ext, predicted in PREDICTED.items():
        assert rows[ext]["model_label"] == predicted
        assert rows[ext]["model_agrees"] is (predicted == labels[ext])
    assert rows["i4"]["model_label"] is None and rows["i4"]["model_agrees"] is None  # not predicted
    assert rows["i1"]["model_agrees"] is False and rows["i0"]["model_agrees"] is True


def test_the_disagreement_filter_shows_exactly_the_items_where_model_and_crowd_differ(
    job: Job, alice: User, client_for: Any
) -> None:
    labels = consensus_labels(job)
    api = client_for(alice)
    disagree = [row["external_id"] for row in api.get(url(job), {"model_agrees": "no"}).json()["results"]]
    agree = [row["external_id"] for row in api.get(url(job), {"model_agrees": "yes"}).json()["results"]]
    assert disagree == sorted(ext for ext, label in PREDICTED.items() if label != labels[ext])
    assert "i1" in disagree and "i0" in agree
    assert sorted(agree + disagree) == sorted(PREDICTED)


def test_the_page_header_carries_the_models_measured_accuracy_beside_the_crowds(
    job: Job, alice: User, client_for: Any
) -> None:
    body = client_for(alice).get(url(job)).json()
    run = job.consensus_runs.order_by("-id").first()
    measured = run.parameters["models"][0]
    assert body["model"]["name"] == "spam-bert" and body["model"]["version"] == "3"
    assert body["model"]["accuracy"] == f'{measured["accuracy"]:.4f}'  # an accuracy: 4-place text
    assert body["model"]["items"] == measured["items"] == len(PREDICTED)
    assert body["model"]["crowd_accuracy"] == f'{run.parameters["crowd"]["accuracy"]:.4f}'


def test_a_model_that_did_not_predict_the_job_is_a_400_naming_the_parameter(
    job: Job, alice: User, carol: User, client_for: Any
) -> None:
    elsewhere = open_job_with_items(items=1, organization=carol.organization)
    predictions_set(job=elsewhere, model=ModelName("carols", "1"),
                    entries=[PredictionEntry(PredictionRow("cat"), item_id=elsewhere.items.get().pk)])
    carols = PredictionModel.objects.get(name="carols")
    api = client_for(alice)
    for bad in (str(carols.pk), "999999", "x"):
        answer = api.get(url(job), {"model": bad})
        assert answer.status_code == 400 and answer.json()["error"]["details"]["parameter"] == "model"
    assert api.get(url(job, "export/"), {"model": str(carols.pk)}).status_code == 400


def test_a_job_without_predictions_shows_no_model(alice: User, client_for: Any) -> None:
    job = browsed_job(organization=alice.organization)
    body = client_for(alice).get(url(job)).json()
    assert body["model"] is None
    assert all(row["model_label"] is None for row in body["results"])
    assert b"data-model-figure" not in logged_in(alice).get(f"/portal/jobs/{job.pk}/data/").content


def test_the_csv_and_the_items_page_carry_the_models_prediction(job: Job, alice: User, client_for: Any) -> None:
    api = client_for(alice)
    answer = api.get(url(job, "export/"), {"model_agrees": "no"})
    rows = list(csv.DictReader(io.StringIO(b"".join(answer.streaming_content).decode())))
    assert {row["model_agrees"] for row in rows} == {"no"} and rows
    item = Item.objects.get(job=job, external_id="i1")
    detail = api.get(url(job, f"{item.pk}/")).json()
    assert [(p["name"], p["label"]) for p in detail["predictions"]] == [("spam-bert", "dog")]


def test_the_data_page_shows_the_model_its_accuracy_and_the_disagreements(job: Job, alice: User) -> None:
    browser = logged_in(alice)
    answer = browser.get(f"/portal/jobs/{job.pk}/data/")
    text = answer.content.decode()
    run = job.consensus_runs.order_by("-id").first()
    percent = round(run.parameters["models"][0]["accuracy"] * 100)
    assert "Model <strong>spam-bert 3</strong>" in text and f"accuracy {percent}% measured" in text
    assert text.count("disagrees</span>") == sum(
        1 for ext, label in PREDICTED.items() if label != consensus_labels(job)[ext])
    filtered = browser.get(f"/portal/jobs/{job.pk}/data/", {"model_agrees": "no"})
    assert filtered.status_code == 200
    assert all(row.model_agrees is False for row in filtered.context["rows"]) and filtered.context["rows"]
    item = Item.objects.get(job=job, external_id="i1")
    assert "Model spam-bert 3 predicts <strong>dog</strong>" in browser.get(
        f"/portal/jobs/{job.pk}/data/{item.pk}/").content.decode()
