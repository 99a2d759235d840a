"""POST /api/v1/jobs/<id>/predictions/: a model's predictions for existing items, all or nothing.

Alice owns an Acme job; her model "spam-bert" version 3 predicts its items. Carol (Globex) must
touch nothing of hers: her job id is a 404, and Alice's items are unknown in Carol's job. Wendy is
a worker: 403. A batch with one bad prediction is a 400 naming it, and nothing changes.
"""

from __future__ import annotations

from typing import Any

import pytest

from marketplace.accounts.models import User
from marketplace.jobs.models import Item, Job, Prediction
from marketplace.jobs.predictions import MAX_PREDICTIONS_PER_REQUEST
from marketplace.jobs.services import ItemRow, item_bulk_create
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(alice: User) -> Job:
    job = JobFactory(organization=alice.organization, created_by=alice)
    item_bulk_create(
        job=job, rows=[ItemRow(data={"text": f"t{i}"}, external_id=f"e{i}") for i in range(3)],
        gold=False,
    )
    return job


def _ids(job: Job) -> list[int]:
    return list(Item.objects.filter(job=job).order_by("id").values_list("id", flat=True))


def _send(client: Any, job: Job, predictions: list[dict[str, Any]], **body: Any) -> Any:
    payload = {"model": "spam-bert", "model_version": "3", "predictions": predictions, **body}
    return client.post(f"/api/v1/jobs/{job.pk}/predictions/", payload, format="json")


def _stored(job: Job) -> dict[int, tuple[str, Any]]:
    rows = Prediction.objects.filter(job=job).values_list("item_id", "label", "probabilities")
    return {item: (label, probabilities) for item, label, probabilities in rows}


def test_a_client_adds_predictions_by_item_id_or_external_id(
    job: Job, alice: User, client_for: Any
) -> None:
    first, second, _ = _ids(job)
    response = _send(client_for(alice), job, [
        {"item_id": first, "label": "cat"},
        {"external_id": "e1", "probabilities": {"dog": 0.7, "bird": 0.3}},
    ])
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["saved"] == 2 and body["worker_id"] < 0  # never a user's id
    assert _stored(job) == {first: ("cat", None), second: ("dog", {"dog": 0.7, "bird": 0.3})}


def test_sending_again_replaces_the_same_models_prediction_and_keeps_other_versions(
    job: Job, alice: User, client_for: Any
) -> None:
    first = _ids(job)[0]
    client = client_for(alice)
    _send(client, job, [{"item_id": first, "label": "cat"}])
    _send(client, job, [{"item_id": first, "label": "dog"}])
    _send(client, job, [{"item_id": first, "label": "bird"}], model_version="4")
    versions = dict(Prediction.objects.filter(item_id=first).values_list("model__version", "label"))
    assert versions == {"3": "dog", "4": "bird"}


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"label": "fish"}, "unknown_label"),
        ({"probabilities": {"cat": 0.6, "dog": 0.6}}, "probabilities_not_summing_to_one"),
        ({"probabilities": {"cat": -0.2, "dog": 1.2}}, "invalid_probabilities"),
        ({"probabilities": {"cat": 0.5, "snake": 0.5}}, "unknown_label"),
        ({"probabilities": '{"cat": 1}'}, "invalid_probabilities"),
        ({"label": 3}, "invalid_prediction"),
        ({}, "missing_prediction"),
        ({"label": "cat", "item_id": None, "external_id": None}, "missing_item"),
        ({"label": "cat", "external_id": "nope"}, "unknown_item"),
        ({"label": "cat", "item_id": True}, "invalid_item_id"),
        ({"label": "cat", "colour": "red"}, "invalid"),
    ],
)
def test_one_bad_prediction_is_a_400_naming_it_and_nothing_changes(
    job: Job, alice: User, client_for: Any, entry: dict[str, Any], reason: str
) -> None:
    first, second, _ = _ids(job)
    client = client_for(alice)
    _send(client, job, [{"item_id": first, "label": "cat"}])
    bad = {"item_id": second, **entry} if not {"item_id", "external_id"} & set(entry) else entry
    response = _send(client, job, [{"item_id": first, "label": "dog"}, bad])
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["details"]["index"], error["details"]["reason"]) == (1, reason)
    assert _stored(job) == {first: ("cat", None)}  # the first entry of the batch was not written


def test_nan_cannot_even_be_sent(job: Job, alice: User, client_for: Any) -> None:
    body = '{"model": "m", "model_version": "1", "predictions": [{"item_id": 1, "probabilities": {"cat": NaN}}]}'
    response = client_for(alice).post(
        f"/api/v1/jobs/{job.pk}/predictions/", body, content_type="application/json"
    )
    assert response.status_code == 400 and Prediction.objects.count() == 0


def test_an_item_twice_in_a_batch_and_an_oversized_batch_are_refused(
    job: Job, alice: User, client_for: Any
) -> None:
    first = _ids(job)[0]
    client = client_for(alice)
    twice = _send(client, job, [{"item_id": first, "label": "cat"}, {"external_id": "e0", "label": "dog"}])
    assert twice.status_code == 400 and twice.json()["error"]["details"]["reason"] == "duplicate_item"
    many = [{"item_id": first, "label": "cat"}] * (MAX_PREDICTIONS_PER_REQUEST + 1)
    response = _send(client, job, many)
    assert response.status_code == 400
    assert response.json()["error"]["details"]["reason"] == "too_many_predictions"
    assert Prediction.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [({"model": ""}, "missing_model"), ({"model_version": "v 1"}, "invalid_model_version")],
)
def test_the_model_must_be_named_plainly(
    job: Job, alice: User, client_for: Any, body: dict[str, str], reason: str
) -> None:
    response = _send(client_for(alice), job, [{"item_id": _ids(job)[0], "label": "cat"}], **body)
    assert response.status_code == 400
    assert response.json()["error"]["details"]["reason"] == reason


def test_another_organization_touches_nothing(
    job: Job, carol: User, wendy: User, client_for: Any
) -> None:
    first = _ids(job)[0]
    assert _send(client_for(carol), job, [{"item_id": first, "label": "cat"}]).status_code == 404
    assert _send(client_for(wendy), job, [{"item_id": first, "label": "cat"}]).status_code == 403
    # Carol's own job does not reach Alice's item either.
    theirs = JobFactory(organization=carol.organization, created_by=carol)
    response = _send(client_for(carol), theirs, [{"item_id": first, "label": "cat"}])
    assert response.status_code == 400
    assert response.json()["error"]["details"]["reason"] == "unknown_item"
    assert Prediction.objects.count() == 0


def test_a_finished_job_takes_no_predictions(job: Job, alice: User, client_for: Any) -> None:
    Job.objects.filter(pk=job.pk).update(status="cancelled")
    response = _send(client_for(alice), job, [{"item_id": _ids(job)[0], "label": "cat"}])
    assert response.status_code == 409 and Prediction.objects.count() == 0
