"""The API describes itself, and every error, even an unknown URL, has the one format."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_openapi_schema_validates_without_warnings(tmp_path: Path) -> None:
    out = tmp_path / "schema.yaml"
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    schema = out.read_text()
    for path in ("/api/v1/jobs/", "/api/v1/work/next/", "/api/v1/auth/signup/", "/api/v1/qualifications/"):
        assert path in schema, path


@pytest.mark.django_db
def test_the_schema_and_docs_are_served(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.django_db
def test_an_unknown_api_url_answers_in_the_error_format(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_an_unknown_api_url_answers_in_the_error_format_with_debug_on_too(client, settings) -> None:  # type: ignore[no-untyped-def]
    """`make demo` runs with DEBUG on, where Django answers an unmatched path with its HTML page."""
    settings.DEBUG = True
    for response in (client.get("/api/v1/no-such-thing/"), client.post("/api/v1/work/leases/1/skip/")):
        assert response.status_code == 404 and response["Content-Type"] == "application/json"
        assert response.json() == {"error": {"code": "not_found", "message": "No such API endpoint.", "details": {}}}
    # A known address without its slash is still redirected to it, as before.
    assert client.get("/api/v1/me")["Location"] == "/api/v1/me/"


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
def test_every_method_on_an_unknown_api_url_answers_the_json_404(settings, method: str, debug: bool) -> None:
    """No CSRF refusal either: a browser's session posting to a wrong address learns it is wrong."""
    from django.test import Client

    settings.DEBUG = debug
    client = Client(enforce_csrf_checks=True)
    for path in ("/api/v1/no-such-thing/", "/api/v1/no-such-thing", "/api/v2/jobs/", "/api/docs/nothing/"):
        response = getattr(client, method)(path)
        assert response.status_code == 404 and response["Content-Type"] == "application/json", path
        assert response.json() == {"error": {"code": "not_found", "message": "No such API endpoint.", "details": {}}}


@pytest.mark.django_db
def test_a_known_api_address_without_its_slash_is_redirected_with_its_query(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/me/tokens?page=2")
    assert response.status_code == 301 and response["Location"] == "/api/v1/me/tokens/?page=2"
    assert client.get("/api/schema")["Location"] == "/api/schema/"


def _operations() -> list[tuple[str, str, dict]]:  # type: ignore[type-arg]
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [(path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()]


def test_every_list_is_documented_as_the_page_it_answers() -> None:
    for path, method, op in _operations():
        if "text/csv" in op["responses"].get("200", {}).get("content", {}):
            continue  # a streamed file (format=json: one array of rows), not a list page
        for code, response in op["responses"].items():
            for content in response.get("content", {}).values():
                assert content["schema"].get("type") != "array", f"{method} {path} {code}: a bare array"
    tokens = next(op for path, method, op in _operations() if path == "/api/v1/me/tokens/" and method == "get")
    assert tokens["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/PaginatedTokenOutputList"
    )
    assert {p["name"] for p in tokens["parameters"]} == {"page", "page_size"}


def test_a_json_export_is_documented_as_the_array_of_rows_it_streams() -> None:
    for path in ("/api/v1/jobs/{job_id}/judgments/export/", "/api/v1/jobs/{job_id}/results/"):
        op = next(op for p, method, op in _operations() if p == path and method == "get")
        content = op["responses"]["200"]["content"]
        assert content["application/json"]["schema"] == {"type": "array", "items": {"type": "object"}}
        assert content["text/csv"]["schema"]["format"] == "binary"


def test_every_error_answer_is_documented_in_the_one_error_format() -> None:
    for path, method, op in _operations():
        errors = {code: r for code, r in op["responses"].items() if code.startswith("4")}
        if op.get("security") != [{}]:
            assert "401" in errors, f"{method} {path} does not document 401"
        for code, response in errors.items():
            schema = response["content"]["application/json"]["schema"]
            assert schema["$ref"].endswith("/Error"), f"{method} {path} {code}"


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_a_write_to_a_known_api_address_without_its_slash_is_told_the_address_and_does_nothing(
    alice, client_for, settings, method: str, debug: bool  # type: ignore[no-untyped-def]
) -> None:
    """A 301 made HTTP libraries send the POST again as a GET: a list answered, no job created."""
    from marketplace.jobs.models import Job

    settings.DEBUG = debug
    body = {"title": "Animals", "labels": [{"key": "cat"}, {"key": "dog"}]}
    response = getattr(client_for(alice), method)("/api/v1/jobs?x=1", body, format="json")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "not_found" and error["details"] == {"path": "/api/v1/jobs/?x=1"}
    assert "/api/v1/jobs/?x=1" in error["message"]
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_a_taken_username_is_a_409_that_the_schema_documents(alice, ada, wendy, client_for) -> None:  # type: ignore[no-untyped-def]
    """Adding a colleague (or an admin) under a username someone has is a conflict, and says so."""
    documented = {(path, method): op["responses"] for path, method, op in _operations()}
    for user, path in ((alice, "/api/v1/organization/members/"), (ada, "/api/v1/admins/")):
        response = client_for(user).post(path, {"username": wendy.username, "password": "a-long-passphrase-42"},
                                         format="json")
        assert response.status_code == 409 and response.json()["error"]["code"] == "conflict", path
        assert "409" in documented[(path, "post")], f"POST {path} answers 409 but the schema does not say so"
