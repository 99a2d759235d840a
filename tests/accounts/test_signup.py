"""POST /api/v1/auth/signup/: workers and clients sign themselves up; nobody signs up as admin."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from marketplace.accounts.models import Organization, User
from tests.accounts.helpers import assert_error

SIGNUP = "/api/v1/auth/signup/"
STRONG = "correct-horse-battery-staple"
pytestmark = pytest.mark.django_db


def signup(api: APIClient, **fields: Any) -> Any:
    return api.post(SIGNUP, {"password": STRONG, **fields}, format="json")


def test_a_worker_signs_up_and_the_token_shown_once_works(api: APIClient) -> None:
    response = signup(api, username="wanda", email="wanda@example.com", role="worker")

    assert response.status_code == 201
    body = response.json()
    assert body["user"]["username"] == "wanda" and body["user"]["role"] == "worker"
    assert body["user"]["organization"] is None
    me = APIClient(HTTP_AUTHORIZATION=f"Bearer {body['token']}").get("/api/v1/me/")
    assert me.status_code == 200 and me.json()["username"] == "wanda"


def test_a_client_signs_up_with_a_new_organization(api: APIClient) -> None:
    response = signup(api, username="cleo", role="client", organization="Initech Labs")

    assert response.status_code == 201
    org = response.json()["user"]["organization"]
    assert org["name"] == "Initech Labs" and org["slug"] == "initech-labs"
    assert User.objects.get(username="cleo").organization == Organization.objects.get(pk=org["id"])


def test_a_client_without_an_organization_is_refused(api: APIClient) -> None:
    error = assert_error(signup(api, username="cleo", role="client"), 400, "invalid")

    assert "organization" in error["message"]
    assert not User.objects.filter(username="cleo").exists()


def test_an_organization_name_already_taken_is_refused_whatever_its_case_or_spacing(api: APIClient) -> None:
    assert signup(api, username="cleo", role="client", organization="Acme Vision").status_code == 201

    for name in ("Acme Vision", "  acme   VISION "):
        error = assert_error(signup(api, username="rho", role="client", organization=name), 409, "conflict")
        assert f"An organization named “{name.strip()}”" in error["message"] and "already exists" in error["message"]
        assert error["details"]["organization"] == [error["message"]]
    assert Organization.objects.count() == 1 and not User.objects.filter(username="rho").exists()
    # A name that merely starts the same is someone else.
    assert signup(api, username="rho", role="client", organization="Acme Visionaries").status_code == 201


def test_a_weak_password_is_refused_with_the_validators_message(api: APIClient) -> None:
    response = api.post(SIGNUP, {"username": "wanda", "password": "12345", "role": "worker"}, format="json")

    error = assert_error(response, 400, "invalid")
    assert "This password is too short. It must contain at least 8 characters." in error["message"]
    assert "This password is entirely numeric." in error["details"]["password"]
    assert not User.objects.filter(username="wanda").exists()


def test_a_taken_username_is_a_conflict_whatever_its_case(api: APIClient, wendy: User) -> None:
    assert_error(signup(api, username="wendy", role="worker"), 409, "conflict")
    assert_error(signup(api, username="WENDY", role="worker"), 409, "conflict")
    assert User.objects.filter(username__iexact="wendy").count() == 1


def test_nobody_signs_up_as_an_admin(api: APIClient) -> None:
    assert_error(signup(api, username="mallory", role="admin"), 400, "invalid")
    assert not User.objects.filter(username="mallory").exists()


def test_a_username_with_spaces_or_symbols_is_refused(api: APIClient) -> None:
    assert_error(signup(api, username="bad name!", role="worker"), 400, "invalid")


def test_a_stale_token_does_not_stop_anyone_signing_up(api: APIClient) -> None:
    api.credentials(HTTP_AUTHORIZATION="Bearer qrm_not-a-real-token")

    assert signup(api, username="wanda", role="worker").status_code == 201


def test_one_address_signing_up_too_often_is_told_to_wait_and_creates_nothing(
    api: APIClient, settings: Any
) -> None:
    settings.QUORUM_SIGNUPS_PER_HOUR = 2
    assert signup(api, username="mal1", role="worker").status_code == 201
    assert signup(api, username="mal1", role="worker").status_code == 409  # refused ones count too

    refused = signup(api, username="mal3", role="worker")

    error = assert_error(refused, 429, "signup_throttled")
    assert "Too many sign-ups from this address" in error["message"]
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert not User.objects.filter(username="mal3").exists()
    other_address = APIClient(REMOTE_ADDR="203.0.113.9")
    assert signup(other_address, username="wanda", role="worker").status_code == 201


def test_an_ipv6_client_rotating_through_its_64_is_one_address_to_the_sign_up_limit(settings: Any) -> None:
    settings.QUORUM_SIGNUPS_PER_HOUR = 2
    codes = [signup(APIClient(REMOTE_ADDR=f"2001:db8:5:6::{n:x}"), username=f"mal{n}", role="worker").status_code
             for n in range(1, 4)]

    assert codes == [201, 201, 429]
    assert signup(APIClient(REMOTE_ADDR="2001:db8:5:7::1"), username="wanda", role="worker").status_code == 201
