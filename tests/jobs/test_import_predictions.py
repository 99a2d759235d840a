"""Imports carry a model's predictions: Alice (Acme) uploads items with her model's labels.

A `prediction` column (CSV) or field (JSON, JSONL) holds the label, `prediction_probabilities`
every label's probability; ?model=&model_version= name the model. A bad prediction anywhere
refuses the whole file with the one error format, and nothing is saved.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.jobs.models import Item, Job, Prediction, PredictionModel
from marketplace.labeling.services import lease_claim
from tests.factories import JobFactory, WorkerFactory, publish_funded

pytestmark = pytest.mark.django_db

MODEL = "?model=spam-bert&model_version=3"


@pytest.fixture
def job(alice: User) -> Job:
    return JobFactory(organization=alice.organization, created_by=alice)


def _post(client: Any, job: Job, body: str, content_type: str, query: str = MODEL) -> Any:
    return client.post(f"/api/v1/jobs/{job.pk}/items/{query}", body, content_type=content_type)


def _predictions(job: Job) -> dict[str, tuple[str, Any]]:
    rows = Prediction.objects.filter(job=job).values_list(
        "item__external_id", "label", "probabilities"
    )
    return {ext: (label, probabilities) for ext, label, probabilities in rows}


def test_a_csv_with_a_prediction_column_stores_each_items_prediction_by_model(
    job: Job, alice: User, client_for: Any
) -> None:
    body = (
        "external_id,text,prediction,prediction_probabilities\n"
        'a,one,cat,"{""cat"": 0.9, ""dog"": 0.1}"\n'
        "b,two,dog,\n"
        "c,three,,\n"
    )
    response = _post(client_for(alice), job, body, "text/csv")
    assert response.status_code == 201, response.content
    assert _predictions(job) == {"a": ("cat", {"cat": 0.9, "dog": 0.1}), "b": ("dog", None)}
    model = PredictionModel.objects.get()
    assert (model.name, model.version, model.organization_id) == ("spam-bert", "3", job.organization_id)
    # The prediction is not item data: workers never see it.
    assert Item.objects.get(external_id="a").data == {"text": "one"}


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_and_jsonl_records_carry_predictions_too(
    job: Job, alice: User, client_for: Any, fmt: str
) -> None:
    records = [
        {"external_id": "a", "text": "one", "prediction": "bird"},
        {"external_id": "b", "text": "two", "prediction_probabilities": {"cat": 0.2, "dog": 0.8}},
    ]
    body = json.dumps(records) if fmt == "json" else "\n".join(json.dumps(r) for r in records)
    response = _post(client_for(alice), job, body, "text/plain", f"{MODEL}&format={fmt}")
    assert response.status_code == 201, response.content
    # Probabilities without a label: the most probable label is the prediction.
    assert _predictions(job) == {"a": ("bird", None), "b": ("dog", {"cat": 0.2, "dog": 0.8})}


def test_label_studio_predictions_are_kept_when_the_import_names_a_model(
    job: Job, alice: User, client_for: Any
) -> None:
    task = {
        "id": 7,
        "data": {"text": "hello"},
        "predictions": [{"model_version": "v1", "result": [
            {"type": "choices", "from_name": "label", "to_name": "text", "value": {"choices": ["dog"]}}
        ]}],
    }
    client = client_for(alice)
    response = _post(client, job, json.dumps([task]), "text/plain", f"{MODEL}&format=label_studio")
    assert response.status_code == 201, response.content
    assert _predictions(job) == {"7": ("dog", None)}
    # Without a model named, a Label Studio prediction is dropped as it always was.
    task["id"] = 8
    response = _post(client, job, json.dumps([task]), "text/plain", "?format=label_studio")
    assert response.status_code == 201 and Prediction.objects.count() == 1


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("fish,", "unknown_label"),
        ('cat,"{""cat"": 0.5, ""dog"": 0.4}"', "probabilities_not_summing_to_one"),
        ('cat,"{""cat"": 1.5, ""dog"": -0.5}"', "invalid_probabilities"),
        ('cat,"{""cat"": NaN, ""dog"": 1}"', "invalid_probabilities"),
        ('cat,"{""cat"": 0.5, ""fish"": 0.5}"', "unknown_label"),
        ('cat,"[0.5, 0.5]"', "invalid_probabilities"),
        ('cat,"{""cat"": ""high""}"', "invalid_probabilities"),
    ],
    ids=["unknown-label", "not-one", "negative", "nan", "unknown-in-probabilities", "array", "text"],
)
def test_a_bad_prediction_refuses_the_file_naming_its_line_and_saves_nothing(
    job: Job, alice: User, client_for: Any, cell: str, reason: str
) -> None:
    body = f"text,prediction,prediction_probabilities\ngood,cat,\nbad,{cell}\n"
    response = _post(client_for(alice), job, body, "text/csv")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_import"
    assert (error["details"]["line"], error["details"]["reason"]) == (3, reason)
    assert Item.objects.filter(job=job).count() == 0 and Prediction.objects.count() == 0


def test_probabilities_rounded_to_four_places_are_accepted(
    job: Job, alice: User, client_for: Any
) -> None:
    body = 'text,prediction_probabilities\none,"{""cat"": 0.3333, ""dog"": 0.3333, ""bird"": 0.3333}"\n'
    response = _post(client_for(alice), job, body, "text/csv")
    assert response.status_code == 201, response.content
    assert _predictions(job)[None][0] == "cat"  # a tie goes to the first label of the job


def test_predictions_without_a_named_model_are_refused(
    job: Job, alice: User, client_for: Any
) -> None:
    response = _post(client_for(alice), job, "text,prediction\none,cat\n", "text/csv", "")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["reason"] == "missing_model"
    assert Item.objects.filter(job=job).count() == 0


@pytest.mark.parametrize(
    "query", ["?model=spam-bert", "?model=<b>x</b>&model_version=1", f"?model={'m' * 101}&model_version=1"]
)
def test_a_bad_model_name_is_a_400(job: Job, alice: User, client_for: Any, query: str) -> None:
    response = _post(client_for(alice), job, "text,prediction\none,cat\n", "text/csv", query)
    assert response.status_code == 400
    assert response.json()["error"]["details"]["reason"].startswith(("missing_", "invalid_"))
    assert Item.objects.filter(job=job).count() == 0


def test_gold_items_take_predictions_so_the_model_is_scored_on_gold(
    job: Job, alice: User, client_for: Any
) -> None:
    body = "text,label,prediction\nknown,cat,dog\n"
    response = client_for(alice).post(
        f"/api/v1/jobs/{job.pk}/gold/{MODEL}", body, content_type="text/csv"
    )
    assert response.status_code == 201, response.content
    prediction = Prediction.objects.get()
    assert prediction.item.is_gold and prediction.label == "dog"


def test_the_upload_page_takes_the_model_for_a_prediction_column(job: Job, alice: User) -> None:
    client = Client()
    client.force_login(alice)
    url = reverse("client-job-setup-items", args=[job.pk])
    content = b"text,prediction\none,cat\ntwo,dog\n"
    refused = client.post(url, {"file": SimpleUploadedFile("p.csv", content), "format": "auto"})
    assert refused.status_code == 400 and "name the model" in refused.content.decode()
    assert Item.objects.filter(job=job).count() == 0
    client.post(url, {"file": SimpleUploadedFile("p.csv", content), "format": "auto",
                      "model": "spam-bert", "model_version": "3"})
    assert sorted(Prediction.objects.filter(job=job).values_list("label", flat=True)) == ["cat", "dog"]


def test_a_priority_column_beside_the_predictions_orders_serving(
    alice: User, client_for: Any
) -> None:
    # One judgment per item and no gold, so each claim takes a fresh item in serving order.
    job = JobFactory(organization=alice.organization, created_by=alice, overlap=1,
                     gold_rate=Decimal("0"))
    body = (
        "external_id,text,prediction,priority\n"
        "sure,one,cat,-3\n"
        "unsure,two,dog,250\n"
        "plain,three,cat,\n"
    )
    response = _post(client_for(alice), job, body, "text/csv")
    assert response.status_code == 201, response.content
    job = publish_funded(job)
    served = [Item.objects.get(pk=lease_claim(worker=WorkerFactory(), job=job).item_id).external_id
              for _ in range(3)]
    assert served == ["unsure", "plain", "sure"]  # highest priority first; 0 when not given


def test_a_priority_out_of_range_refuses_the_file_and_imports_nothing(
    job: Job, alice: User, client_for: Any
) -> None:
    body = "external_id,text,prediction,priority\na,one,cat,5\nb,two,dog,32768\n"
    response = _post(client_for(alice), job, body, "text/csv")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["details"]["line"], error["details"]["reason"]) == (3, "invalid_priority")
    assert not Item.objects.filter(job=job).exists() and not Prediction.objects.exists()
