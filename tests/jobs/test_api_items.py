"""/api/v1/jobs/<id>/items|gold|results|judgments/export: the cast meets the import/export API.

Alice owns an Acme job and Bob, her colleague, may work on it too. Carol (Globex) must see
nothing: every URL answers her 404, as for a job that does not exist. Wendy is a worker: these
are client endpoints (403), and no gold label may reach her. Ada, an admin, may look at anything.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from marketplace.accounts.models import User
from marketplace.jobs.exporting import worker_pseudonym
from marketplace.jobs.models import Item, Job, JobStatus
from marketplace.jobs.services import job_transition
from marketplace.labeling.models import Judgment
from tests.factories import JobFactory, open_job_with_items

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(alice: User) -> Job:
    return JobFactory(organization=alice.organization, created_by=alice)


def _url(job: Job, tail: str) -> str:
    return f"/api/v1/jobs/{job.pk}/{tail}"


def _counts(job: Job) -> tuple[int, int, int]:
    job.refresh_from_db()
    return job.item_count, job.gold_item_count, Item.objects.filter(job=job).count()


@pytest.mark.parametrize(
    ("body", "content_type", "query"),
    [
        ("external_id,text\na,one\nb,two\n", "text/csv", ""),
        ('[{"external_id": "a", "text": "one"}, {"external_id": "b", "text": "two"}]', "application/json", ""),
        ('{"external_id": "a", "text": "one"}\n{"external_id": "b", "text": "two"}\n', "application/x-ndjson", ""),
        ('{"external_id": "a", "text": "one"}\n{"external_id": "b", "text": "two"}\n', "application/jsonl", ""),
        ("external_id,text\na,one\nb,two\n", "application/octet-stream", "?format=csv"),
    ],
    ids=["csv", "json", "ndjson", "jsonl", "format-param"],
)
def test_a_client_imports_items_as_a_raw_body(
    job: Job, alice: User, client_for: Any, body: str, content_type: str, query: str
) -> None:
    response = client_for(alice).post(_url(job, f"items/{query}"), body, content_type=content_type)
    assert response.status_code == 201, response.content
    assert response.json() == {"imported": 2, "item_count": 2, "gold_item_count": 0}
    assert sorted(Item.objects.filter(job=job).values_list("external_id", "data__text")) == [
        ("a", "one"), ("b", "two")
    ]


@pytest.mark.parametrize(
    ("name", "content", "query"),
    [
        ("items.csv", b"text\none\ntwo\n", ""),
        ("items.jsonl", b'{"text": "one"}\n{"text": "two"}\n', ""),
        ("items.json", b'[{"text": "one"}, {"text": "two"}]', ""),
        ("export.txt", b'{"text": "one"}\n{"text": "two"}\n', "?format=jsonl"),
    ],
)
def test_a_colleague_imports_items_as_an_upload(
    job: Job, bob: User, client_for: Any, name: str, content: bytes, query: str
) -> None:
    upload = SimpleUploadedFile(name, content, content_type="application/octet-stream")
    response = client_for(bob).post(_url(job, f"items/{query}"), {"file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["imported"] == 2 and _counts(job) == (2, 0, 2)


def test_a_bad_file_gets_a_400_naming_line_and_reason_and_saves_nothing(
    job: Job, alice: User, client_for: Any
) -> None:
    api = client_for(alice)
    api.post(_url(job, "items/"), "text\nkept\n", content_type="text/csv")
    before = _counts(job)
    body = "text,label\nmeow,cat\nwoof,dog\nmoo,cow\n"
    response = api.post(_url(job, "gold/"), body, content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid_import",
        "message": "line 4: unknown label 'cow' (expected one of cat, dog, bird)",
        "details": {
            "line": 4,
            "item": None,  # a JSON array's element, from 1; null in CSV and JSONL
            "reason": "unknown_label",
            "errors": [{
                "line": 4, "item": None, "reason": "unknown_label",
                "message": "line 4: unknown label 'cow' (expected one of cat, dog, bird)",
            }],
        },
    }
    assert _counts(job) == before


@pytest.mark.parametrize(
    ("tail", "body", "content_type", "line", "reason"),
    [
        ("items/", b"text\n\xff\xfe\n", "text/csv", 2, "bad_encoding"),
        ("items/", b'{"text": "a"}\n{"text": \n', "application/x-ndjson", 2, "malformed_json"),
        ("items/", b'[\n{"text": "a"}\n{"text": "b"}\n]', "application/json", 3, "malformed_json"),
        ("items/", b"a,b\n1,2\n3\n", "text/csv", 3, "wrong_field_count"),
        ("items/", b"external_id,text\nx,1\nx,2\n", "text/csv", 3, "duplicate_external_id"),
        ("items/", b"external_id,text\nkept,1\n", "text/csv", 2, "duplicate_external_id"),
        ("items/", b"", "text/csv", 1, "empty_file"),
        ("items/", b"text\na\n", "text/plain", None, "unknown_format"),
        ("gold/", b"external_id,text\ng,1\n", "text/csv", 1, "missing_column"),
    ],
)
def test_every_import_error_is_a_400_that_leaves_the_job_as_it_was(
    job: Job, alice: User, client_for: Any, tail: str, body: bytes, content_type: str,
    line: int | None, reason: str,
) -> None:
    api = client_for(alice)
    api.post(_url(job, "items/"), "external_id,text\nkept,me\n", content_type="text/csv")
    before = _counts(job)
    response = api.post(_url(job, tail), body, content_type=content_type)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_import"
    assert (error["details"]["line"], error["details"]["reason"]) == (line, reason), error["message"]
    assert _counts(job) == before


def test_a_body_over_the_limit_is_refused_before_it_is_read(
    job: Job, alice: User, client_for: Any, settings: Any
) -> None:
    settings.QUORUM_MAX_IMPORT_BYTES = 1024
    body = "text\n" + "x" * 2000 + "\n"
    response = client_for(alice).post(_url(job, "items/"), body, content_type="text/csv")
    assert response.status_code == 400 and response.json()["error"]["details"]["reason"] == "too_large"
    # The body as a whole is at fault: no "line 1:" before the message, no line in the details.
    error = response.json()["error"]
    assert error["message"] == "the file is over the 1,024 bytes allowed." and error["details"]["line"] is None
    assert _counts(job) == (0, 0, 0)


def test_an_upload_needs_its_file_field(job: Job, alice: User, client_for: Any) -> None:
    response = client_for(alice).post(_url(job, "items/"), {"other": "x"}, format="multipart")
    assert response.status_code == 400 and response.json()["error"]["details"]["reason"] == "missing_file"


def test_a_cancelled_job_refuses_imports_with_409(alice: User, client_for: Any) -> None:
    job = open_job_with_items(items=1, organization=alice.organization)
    job_transition(job=job, to=JobStatus.CANCELLED)
    response = client_for(alice).post(_url(job, "items/"), "text\nlate\n", content_type="text/csv")
    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"
    assert _counts(job) == (1, 0, 1)


def test_items_and_gold_are_listed_apart_and_only_gold_shows_answers(
    alice: User, client_for: Any
) -> None:
    job = open_job_with_items(items=3, gold=2, gold_label="dog", organization=alice.organization)
    api = client_for(alice)
    items = api.get(_url(job, "items/")).json()
    assert items["count"] == 3
    assert set(items["results"][0]) == {
        "id", "external_id", "data", "priority", "judgment_count", "is_complete", "created_at"
    }
    gold = api.get(_url(job, "gold/?page_size=1")).json()
    assert gold["count"] == 2 and len(gold["results"]) == 1 and gold["next"]
    assert gold["results"][0]["label"] == "dog" and gold["results"][0]["external_id"] == "g0"

    plain_id = items["results"][0]["id"]
    gold_id = gold["results"][0]["id"]
    assert api.get(_url(job, f"items/{plain_id}/")).json()["data"] == {"text": "item 0"}
    assert api.get(_url(job, f"gold/{gold_id}/")).json()["label"] == "dog"
    assert api.get(_url(job, f"items/{gold_id}/")).status_code == 404  # gold stays under /gold/
    assert api.get(_url(job, f"gold/{plain_id}/")).status_code == 404


def test_an_admin_sees_any_organizations_items(alice: User, ada: User, client_for: Any) -> None:
    job = open_job_with_items(items=2, gold=1, organization=alice.organization)
    api = client_for(ada)
    assert api.get(_url(job, "items/")).json()["count"] == 2
    assert api.get(_url(job, "gold/")).json()["results"][0]["label"] == "cat"


def _every_url(job: Job) -> list[tuple[str, str]]:
    item = Item.objects.filter(job=job, is_gold=False).first()
    gold = Item.objects.filter(job=job, is_gold=True).first()
    assert item and gold
    return [
        ("get", "items/"), ("post", "items/"), ("get", f"items/{item.pk}/"),
        ("get", "gold/"), ("post", "gold/"), ("get", f"gold/{gold.pk}/"),
        ("get", "results/?format=csv"), ("get", "judgments/export/"),
    ]


def test_another_organization_gets_404_on_every_url(alice: User, carol: User, client_for: Any) -> None:
    job = open_job_with_items(items=2, gold=1, organization=alice.organization)
    api = client_for(carol)
    for method, tail in _every_url(job):
        if method == "post":
            response = api.post(_url(job, tail), "text,label\nsneaky,cat\n", content_type="text/csv")
        else:
            response = api.get(_url(job, tail))
        assert response.status_code == 404, (method, tail)
        assert b"item " not in response.content and b"gold " not in response.content
    assert _counts(job) == (2, 1, 3)


def test_a_worker_is_refused_and_never_sees_a_gold_label(alice: User, wendy: User, client_for: Any) -> None:
    job = open_job_with_items(items=2, gold=1, gold_label="bird", organization=alice.organization)
    api = client_for(wendy)
    for method, tail in _every_url(job):
        response = getattr(api, method)(_url(job, tail))
        assert response.status_code == 403, (method, tail)
        assert b"bird" not in response.content


def _judge(job: Job, worker: User, external_id: str, label: str) -> None:
    item = Item.objects.get(job=job, external_id=external_id)
    Judgment.objects.create(job=job, item=item, worker=worker, label=label, is_gold=item.is_gold)


def test_results_stream_as_an_attachment_in_each_format(alice: User, client_for: Any) -> None:
    job = open_job_with_items(items=3, gold=1, organization=alice.organization)
    api = client_for(alice)
    for fmt, content_type in (("csv", "text/csv"), ("json", "application/json"), ("jsonl", "application/x-ndjson")):
        response = api.get(_url(job, f"results/?format={fmt}"))
        assert response.status_code == 200 and response.streaming
        assert response["Content-Type"].startswith(content_type)
        assert response["Content-Disposition"] == f'attachment; filename="job-{job.pk}-results.{fmt}"'
        body = b"".join(response.streaming_content).decode()
        assert body.count("item ") == 3 and "gold" not in body
        if fmt == "json":
            assert [row["external_id"] for row in json.loads(body)] == ["i0", "i1", "i2"]
    assert api.get(_url(job, "results/")).streaming  # CSV by default
    bad = api.get(_url(job, "results/?format=xlsx"))
    assert bad.status_code == 400 and "xlsx" in bad.json()["error"]["message"]


def test_raw_judgments_export_pseudonymizes_workers(
    alice: User, wendy: User, walter: User, client_for: Any
) -> None:
    job = open_job_with_items(items=2, gold=1, organization=alice.organization)
    _judge(job, wendy, "i0", "cat")
    _judge(job, walter, "i0", "dog")
    _judge(job, walter, "g0", "cat")  # gold: not part of the raw export
    response = client_for(alice).get(_url(job, "judgments/export/"))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == f'attachment; filename="job-{job.pk}-judgments.csv"'
    body = b"".join(response.streaming_content).decode()
    w = worker_pseudonym(job_id=job.pk, worker_id=wendy.pk)
    v = worker_pseudonym(job_id=job.pk, worker_id=walter.pk)
    assert body.splitlines() == ["task,worker,label", f"i0,{w},cat", f"i0,{v},dog"]
    for secret in ("wendy", "walter", f",{wendy.pk},", f",{walter.pk},"):
        assert secret not in body
