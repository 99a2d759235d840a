"""Label Studio's task JSON both ways, through the API: import tasks, label them, export them.

Alice (Acme) moves a Label Studio project to Quorum: she imports its tasks with a model's
predictions, gold tasks with their annotations, the crowd labels them, and she loads the results
back as annotations. Carol (Globex) must reach none of it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import TestCase

from marketplace.accounts.models import User
from marketplace.errors import NothingLeft
from marketplace.jobs.models import GoldAnswer, Item, Job
from marketplace.quality.runs import consensus_run
from tests.factories import JobFactory, WorkerFactory, publish_funded
from tests.quality.run_helpers import submit

pytestmark = pytest.mark.django_db


def _task(text: str, *, prediction: str | None = None, annotation: str | None = None, **extra: Any) -> dict:
    """A task as Label Studio exports it (choices from a <Choices name="sentiment" toName="text">)."""
    def answer(choice: str) -> dict:
        return {"result": [{"id": "r1", "from_name": "sentiment", "to_name": "text", "type": "choices",
                            "value": {"choices": [choice]}}]}

    task: dict[str, Any] = {"data": {"text": text}, **extra}
    task["predictions"] = [{"model_version": "v1", "score": 0.8, **answer(prediction)}] if prediction else []
    task["annotations"] = [{"was_cancelled": False, **answer(annotation)}] if annotation else []
    return task


@pytest.fixture
def job(alice: User) -> Job:
    return JobFactory(organization=alice.organization, created_by=alice, overlap=3)


def _import(api: Any, job: Job, tasks: Any, *, gold: bool = False, query: str = "?format=label_studio") -> Any:
    body = tasks if isinstance(tasks, str) else json.dumps(tasks)
    return api.post(f"/api/v1/jobs/{job.pk}/{'gold' if gold else 'items'}/{query}", body,
                    content_type="application/json")


def _label_everything(job: Job, answers: tuple[str, ...]) -> None:
    """Each worker in turn answers its label on every item it is given, through the submit flow."""
    for label in answers:
        worker = WorkerFactory()
        for _ in range(50):
            try:
                submit(worker, job, label)
            except NothingLeft:
                break


def test_tasks_with_predictions_import_then_export_as_label_studio_annotations(
    alice: User, job: Job, client_for: Any
) -> None:
    api = client_for(alice)
    tasks = [_task(f"post {i}", prediction="dog", id=100 + i) for i in range(3)]
    assert _import(api, job, tasks).json()["imported"] == 3
    gold = [_task("a gold post", annotation="cat", id=900)]
    assert _import(api, job, gold, gold=True).json() == {"imported": 1, "item_count": 3, "gold_item_count": 1}
    items = {i.external_id: i for i in Item.objects.filter(job=job).select_related(None)}
    assert items["100"].data == {"text": "post 0"}  # the data as it was; the prediction is not shown
    assert GoldAnswer.objects.get(item=items["900"]).label == "cat"

    job = publish_funded(job)
    _label_everything(job, ("cat", "cat", "bird"))
    with TestCase.captureOnCommitCallbacks(execute=True):
        consensus_run(job=job, method="mv")

    response = api.get(f"/api/v1/jobs/{job.pk}/results/",
                       {"format": "label_studio", "from_name": "sentiment"})
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].endswith('.label-studio.json"')
    exported = json.loads(b"".join(response.streaming_content))
    assert [t["data"] for t in exported] == [{"text": f"post {i}"} for i in range(3)]  # gold stays home
    for task in exported:
        [annotation] = task["annotations"]
        assert annotation["result"] == [{
            "from_name": "sentiment", "to_name": "text", "type": "choices",
            "value": {"choices": ["cat"]}, "origin": "manual",
        }]
        assert task["meta"]["source"] == "consensus" and 0.5 < task["meta"]["confidence"] <= 1
    assert [t["meta"]["external_id"] for t in exported] == ["100", "101", "102"]

    # ... and the export is itself importable: Label Studio's shape, read back as tasks.
    again = JobFactory(organization=alice.organization, created_by=alice)
    assert _import(api, again, exported).json()["imported"] == 3


def test_a_json_file_shaped_like_label_studio_tasks_is_read_as_tasks_without_format(
    alice: User, job: Job, client_for: Any
) -> None:
    tasks = [_task("hello", prediction="cat", id=7), _task("own id", external_id="q-1", priority=5, id=8)]
    response = _import(client_for(alice), job, tasks, query="")
    assert response.status_code == 201, response.content
    assert list(Item.objects.filter(job=job).order_by("id").values_list("external_id", "priority", "data")) == [
        ("7", 0, {"text": "hello"}), ("q-1", 5, {"text": "own id"}),  # Quorum's own fields win
    ]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"data": {"text": "not in an array"}}', "not_an_array"),
        ('[{"text": "no data object"}]', "not_a_task"),
        ('[{"data": "text", "predictions": []}]', "not_a_task"),
        ('[{"data": {"text": "a"}, "predictions": {"result": []}}]', "not_a_task"),
        ('[{"data": {"text": "a"}, "annotations": [{"result": [{"type": "choices", "value": {"choices": "cat"}}]}]}]',
         "not_a_task"),
        ('[{"data": {"text": "a"}, "predictions": [' + ",".join(['{"result": []}'] * 51) + "]}]",
         "too_many_answers"),
        ('[{"data": {"text": "a"}}, {"data": {}}]', "empty_data"),
        ('[{"data": {"text": "a"}, "id": 1.5}]', "invalid_external_id"),
        ('[{"data": ' + "[" * 40 + "]" * 40 + "}]", "too_deep"),
        ('[{"data": {"text": "a"}', "malformed_json"),
    ],
    ids=["object", "no-data", "data-string", "predictions-object", "choices-string", "too-many",
         "empty-data", "float-id", "deep", "broken"],
)
def test_bad_label_studio_json_is_a_400_naming_the_reason_and_creates_nothing(
    alice: User, job: Job, client_for: Any, body: str, reason: str
) -> None:
    response = _import(client_for(alice), job, body)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"]["reason"] == reason
    assert not Item.objects.filter(job=job).exists()


def test_gold_tasks_need_one_annotated_label_the_job_knows(alice: User, job: Job, client_for: Any) -> None:
    api = client_for(alice)
    cases = [
        ([_task("only a prediction", prediction="cat")], "missing_label"),
        ([_task("unknown", annotation="horse")], "unknown_label"),
        ([{"data": {"text": "two"}, "annotations": [{"result": [
            {"type": "choices", "value": {"choices": ["cat", "dog"]}}]}]}], "ambiguous_label"),
    ]
    for tasks, reason in cases:
        response = _import(api, job, tasks, gold=True)
        assert (response.status_code, response.json()["error"]["details"]["reason"]) == (400, reason)
    # Submitted without a choice: the message says so and names the task (its id), not "several".
    unchosen = {"id": 41, "data": {"text": "blank"}, "annotations": [{"result": [
        {"type": "choices", "value": {"choices": []}}]}]}
    error = _import(api, job, [unchosen], gold=True).json()["error"]
    assert error["details"]["reason"] == "missing_label"
    assert "'41'" in error["message"] and "no choice selected" in error["message"]
    assert "several" not in error["message"]
    # A cancelled annotation is skipped; the next one gives the label.
    cancelled = _task("second try", annotation="dog")
    cancelled["annotations"].insert(0, {"was_cancelled": True, "result": [
        {"type": "choices", "value": {"choices": ["cat"]}}]})
    assert _import(api, job, [cancelled], gold=True).status_code == 201
    assert list(GoldAnswer.objects.filter(item__job=job).values_list("label", flat=True)) == ["dog"]


def test_export_names_are_checked_and_another_organization_sees_nothing(
    alice: User, carol: User, job: Job, client_for: Any
) -> None:
    url = f"/api/v1/jobs/{job.pk}/results/"
    bad = client_for(alice).get(url, {"format": "label_studio", "to_name": "<script>"})
    assert bad.status_code == 400
    assert client_for(alice).get(url, {"format": "csv", "layout": "sideways"}).status_code == 400
    assert client_for(carol).get(url, {"format": "label_studio"}).status_code == 404
    assert _import(client_for(carol), job, [_task("sneaky")]).status_code == 404
    assert not Item.objects.filter(job=job).exists()
