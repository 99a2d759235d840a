"""The bodies the API reads: JSON, and multipart only where a file is uploaded (item imports).
Whatever refuses a request under /api/, the answer is the one error body.

Cast (tests/conftest.py): Alice is Acme's client.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from drf_spectacular.generators import SchemaGenerator

from marketplace.accounts.models import User
from marketplace.jobs.models import Job
from tests.conftest import needs_postgres
from tests.factories import open_job_with_items
from tests.live_server import daphne

ERROR_KEYS = {"code", "message", "details"}


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS
    return body["error"]


@pytest.mark.django_db
@pytest.mark.parametrize("encoding", ["form", "multipart"])
def test_a_form_body_on_a_json_operation_is_a_415_saying_to_send_json(
    alice: User, client_for: Any, encoding: str
) -> None:
    """It was read as text fields: "items must be a whole number" for items=5, and no job made."""
    api = client_for(alice)
    if encoding == "form":
        quote = api.post("/api/v1/quotes/", "items=5", content_type="application/x-www-form-urlencoded")
        job = api.post("/api/v1/jobs/", "title=Form+job&labels=a", content_type="application/x-www-form-urlencoded")
    else:
        quote = api.post("/api/v1/quotes/", {"items": 5}, format="multipart")
        job = api.post("/api/v1/jobs/", {"title": "Form job", "labels": "a"}, format="multipart")
    for response in (quote, job):
        error = _error(response, 415)
        assert error["code"] == "unsupported_media_type" and "send application/json" in error["message"]
        assert error["details"]["accepted"] == ["application/json"]
    assert not Job.objects.exists()


def test_the_schema_offers_json_bodies_and_multipart_only_for_imports() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    offered = {
        (method, path): set(op["requestBody"]["content"])
        for path, ops in schema["paths"].items() for method, op in ops.items() if "requestBody" in op
    }
    imports = {("post", "/api/v1/jobs/{job_id}/items/"), ("post", "/api/v1/jobs/{job_id}/gold/")}
    for operation, types in offered.items():
        if operation in imports:
            assert types == {"multipart/form-data", "text/csv", "application/json", "application/x-ndjson"}
        else:
            assert types == {"application/json"}, operation


@pytest.mark.django_db
def test_a_multipart_import_with_too_many_fields_is_a_400_in_the_error_format(alice: User, client_for: Any) -> None:
    """Django's own limit (DATA_UPLOAD_MAX_NUMBER_FIELDS) answered its HTML "Bad Request" page."""
    job = open_job_with_items(items=1, organization=alice.organization)
    fields = {f"field{i}": "x" for i in range(1_200)}
    error = _error(client_for(alice).post(f"/api/v1/jobs/{job.pk}/items/", fields, format="multipart"), 400)
    assert "DATA_UPLOAD_MAX_NUMBER_FIELDS" in error["message"]
    assert job.items.count() == 1


@pytest.mark.django_db
def test_a_request_refused_before_any_view_is_in_the_error_format_too(client: Any, settings: Any) -> None:
    """A Host header not allowed is refused by Django's middleware, with an HTML page (the debug
    page with DEBUG on); pages keep it."""
    for debug in (False, True):
        settings.DEBUG = debug
        error = _error(client.get("/api/v1/me/", HTTP_HOST="evil.example.com"), 400)
        assert error["code"] == "invalid"
        page = client.get("/login/", HTTP_HOST="evil.example.com")
        assert page.status_code == 400 and page["Content-Type"].startswith("text/html")


@pytest.fixture(scope="module")
def server(django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with daphne(tmp_path_factory.mktemp("daphne") / "daphne.log") as url:
        yield url


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_an_empty_multipart_body_reaches_the_api_through_daphne_and_answers_json(server: str) -> None:
    """Twisted parsed the body first, for daphne, and answered one it could not parse (no parts)
    with a bare 400: no body, no Content-Type."""
    answer = httpx.post(f"{server}/api/v1/auth/signup/", content=b"--XyZ--\r\n",
                        headers={"Content-Type": "multipart/form-data; boundary=XyZ"}, timeout=30)
    assert answer.status_code == 415 and answer.headers["Content-Type"] == "application/json"
    assert answer.json()["error"]["code"] == "unsupported_media_type"


# --- The error's details: an object whose keys name what is at fault ---


@pytest.mark.django_db
def test_a_nested_field_at_fault_is_named_by_its_dotted_path(alice: User, client_for: Any) -> None:
    """It was {"events": {"0": [...]}}, while other fields answered {"field": [...]}: one level now."""
    body = {"url": "https://example.com/hook", "events": ["job.completed", "job.nope"]}
    error = _error(client_for(alice).post("/api/v1/webhooks/", body, format="json"), 400)
    assert error["details"] == {"events.1": ['"job.nope" is not a valid choice.']}


@pytest.mark.django_db
def test_unknown_and_missing_job_fields_are_named_in_the_details(alice: User, client_for: Any) -> None:
    api = client_for(alice)
    labels = [{"key": "cat"}, {"key": "dog"}]
    unknown = _error(api.post("/api/v1/jobs/", {"title": "A", "labels": labels, "colour": "red"}, format="json"), 400)
    assert unknown["details"] == {"colour": "unknown"}
    missing = _error(api.post("/api/v1/jobs/", {"title": "A"}, format="json"), 400)
    assert missing["details"] == {"labels": "required"}


@pytest.mark.django_db
def test_an_escrow_top_up_without_its_key_names_the_header(alice: User, client_for: Any) -> None:
    job = open_job_with_items(items=1, organization=alice.organization)
    error = _error(client_for(alice).post(f"/api/v1/jobs/{job.pk}/escrow/", {"amount": "5.00"}, format="json"), 400)
    assert error["details"] == {"Idempotency-Key": "missing or invalid"}
