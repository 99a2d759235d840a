"""API tokens: obtained with a password, listed without secrets, revoked, and stored hashed."""

from __future__ import annotations

import hashlib
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from marketplace.accounts.models import ApiToken, User
from tests.accounts.helpers import assert_error
from tests.factories import PASSWORD

TOKEN = "/api/v1/auth/token/"
TOKENS = "/api/v1/me/tokens/"
pytestmark = pytest.mark.django_db


def bearer(secret: str) -> APIClient:
    return APIClient(HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_a_username_and_password_buy_a_token_that_authenticates(api: APIClient, wendy: User) -> None:
    response = api.post(TOKEN, {"username": "wendy", "password": PASSWORD, "name": "laptop"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "laptop" and body["token"].startswith(body["prefix"])
    assert bearer(body["token"]).get("/api/v1/me/").json()["username"] == "wendy"


def test_wrong_credentials_get_one_answer_that_does_not_say_which_part_was_wrong(
    api: APIClient, wendy: User
) -> None:
    wrong_password = api.post(TOKEN, {"username": "wendy", "password": "nope-nope-nope"}, format="json")
    unknown_user = api.post(TOKEN, {"username": "nobody", "password": PASSWORD}, format="json")

    first = assert_error(wrong_password, 401, "authentication_failed")
    second = assert_error(unknown_user, 401, "authentication_failed")
    assert first == second == {"code": "authentication_failed", "message": "Invalid username or password.",
                               "details": {}}
    assert wrong_password["WWW-Authenticate"].startswith("Bearer")
    assert not ApiToken.objects.exists()


def test_a_revoked_token_stops_working(wendy: User) -> None:
    login = APIClient().post(TOKEN, {"username": "wendy", "password": PASSWORD}, format="json")
    client = bearer(login.json()["token"])
    token_id = client.get(TOKENS).json()["results"][0]["id"]

    assert client.delete(f"{TOKENS}{token_id}/").status_code == 204

    error = assert_error(client.get("/api/v1/me/"), 401, "authentication_failed")
    assert error["message"] == "Invalid or revoked token"


def test_an_api_call_without_credentials_is_401_in_the_one_error_format(api: APIClient) -> None:
    assert_error(api.get("/api/v1/me/"), 401, "not_authenticated")


def test_the_database_never_holds_a_token_secret(api: APIClient, wendy: User, client_for: Any) -> None:
    secret = api.post(TOKEN, {"username": "wendy", "password": PASSWORD}, format="json").json()["token"]
    another = client_for(wendy).post(TOKENS, {"name": "ci"}, format="json").json()["token"]

    dump = StringIO()
    call_command("dumpdata", stdout=dump)
    assert secret not in dump.getvalue() and another not in dump.getvalue()
    assert secret[12:] not in dump.getvalue()  # not even the part after the shown prefix
    assert ApiToken.objects.filter(key_hash=hashlib.sha256(secret.encode()).hexdigest()).exists()


def test_listing_tokens_shows_names_and_prefixes_but_never_secrets(wendy: User, client_for: Any) -> None:
    client = client_for(wendy)
    created = client.post(TOKENS, {"name": "ci"}, format="json")
    secret = created.json()["token"]

    listing = client.get(TOKENS)

    assert created.status_code == 201 and listing.status_code == 200
    assert {t["name"] for t in listing.json()["results"]} == {"ci", "tests"}
    assert secret not in listing.content.decode()
    assert all("token" not in t for t in listing.json()["results"])
    assert set(listing.json()["results"][0]) == {"id", "name", "prefix", "created_at", "last_used_at",
                                                 "expires_at"}


def test_a_token_records_when_it_was_last_used(wendy: User, client_for: Any) -> None:
    client = client_for(wendy)
    client.get("/api/v1/me/")

    tokens = client.get(TOKENS).json()["results"]
    assert tokens[0]["last_used_at"] is not None


def test_someone_elses_token_id_looks_missing(wendy: User, walter: User, client_for: Any) -> None:
    walters = ApiToken.objects.filter(user=walter)
    client_for(walter)
    walters_token = walters.get()

    error = assert_error(client_for(wendy).delete(f"{TOKENS}{walters_token.pk}/"), 404, "not_found")

    assert error["message"] == "Token not found."
    assert walters.exists()
