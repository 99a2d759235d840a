"""POST /api/v1/jobs/<id>/predictions/: a model's predictions for existing items, all or nothing.

Alice owns an Acme job; her model "spam-bert" version 3 predicts its items. Carol (Globex) must
touch nothing of hers: her job id is a 404, and Alice's items are unknown in Carol's job. Wendy is
a worker: 403. A batch with one bad prediction is a 400 naming it, and nothing changes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from marketplace.accounts.models import User
from marketplace.jobs.models import Item, Job, Prediction
from marketplace.jobs.predictions import MAX_PREDICTIONS_PER_REQUEST
from marketplace.jobs.services import ItemRow, item_bulk_create
from marketplace.labeling.services import lease_claim
from tests.factories import JobFactory, WorkerFactory, open_job_with_items

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


def test_an_active_learning_loop_reorders_pending_items_and_a_claim_follows(
    alice: User, client_for: Any
) -> None:
    # Five fresh items, one judgment each (so no item is ever "in progress", which would come
    # first), served oldest first until a priority says otherwise.
    job = open_job_with_items(
        items=5, overlap=1, organization=alice.organization, gold_rate=Decimal("0")
    )
    ids = _ids(job)
    response = _send(client_for(alice), job, [
        {"item_id": ids[3], "label": "dog", "priority": 90},  # the model is least sure of these
        {"external_id": "i1", "priority": 40},  # a priority alone: no new prediction
        {"item_id": ids[0], "label": "cat", "priority": -5},  # sure: last
    ])
    assert response.status_code == 200, response.content
    assert (response.json()["saved"], response.json()["prioritized"]) == (2, 3)
    served = [lease_claim(worker=WorkerFactory(), job=job).item_id for _ in range(5)]
    assert served == [ids[3], ids[1], ids[2], ids[4], ids[0]]


@pytest.mark.parametrize("priority", [40000, -40000, 1.5, "9", True])
def test_a_bad_priority_is_a_400_and_changes_nothing(
    job: Job, alice: User, client_for: Any, priority: Any
) -> None:
    first, second, _ = _ids(job)
    response = _send(client_for(alice), job, [
        {"item_id": first, "label": "cat", "priority": 7},
        {"item_id": second, "label": "dog", "priority": priority},
    ])
    assert response.status_code == 400, response.content
    details = response.json()["error"]["details"]
    assert (details["index"], details["reason"]) == (1, "invalid_priority")
    assert _stored(job) == {} and set(Item.objects.filter(job=job).values_list("priority", flat=True)) == {0}
