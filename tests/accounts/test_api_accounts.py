"""me/, admins/ and organization/members/; the answers that carry a token's secret.

Alice and Bob are Acme's clients, Carol is Globex's; Wendy is a worker, Ada an admin.
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from marketplace.accounts.models import Role, User
from tests.accounts.helpers import assert_error
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
NEW = {"username": "newbie", "password": "another-long-passphrase-42"}


def test_me_shows_a_client_with_its_organization(alice: User, client_for: Any) -> None:
    body = client_for(alice).get("/api/v1/me/").json()

    assert body == {
        "id": alice.pk, "username": "alice", "email": "alice@example.com", "role": "client",
        "organization": {"id": alice.organization_id, "name": "Acme", "slug": "acme"},
    }


def test_me_shows_a_worker_without_an_organization(wendy: User, client_for: Any) -> None:
    body = client_for(wendy).get("/api/v1/me/").json()

    assert body["role"] == "worker" and body["organization"] is None


def test_a_worker_cannot_create_an_admin(wendy: User, client_for: Any) -> None:
    assert_error(client_for(wendy).post("/api/v1/admins/", NEW, format="json"), 403, "permission_denied")
    assert not User.objects.filter(username="newbie").exists()


def test_a_client_cannot_create_an_admin(alice: User, client_for: Any) -> None:
    assert_error(client_for(alice).post("/api/v1/admins/", NEW, format="json"), 403, "permission_denied")


def test_an_admin_creates_an_admin_who_can_sign_in(ada: User, client_for: Any, api: APIClient) -> None:
    response = client_for(ada).post("/api/v1/admins/", NEW, format="json")

    assert response.status_code == 201 and response.json()["role"] == "admin"
    newbie = User.objects.get(username="newbie")
    assert newbie.role == Role.ADMIN and newbie.is_staff
    assert newbie.is_superuser  # so the Django admin shows them every raw record
    token = api.post("/api/v1/auth/token/", NEW, format="json")
    assert token.status_code == 201


def test_a_client_lists_only_its_own_organizations_members(
    alice: User, bob: User, carol: User, wendy: User, client_for: Any
) -> None:
    body = client_for(alice).get("/api/v1/organization/members/").json()

    assert [m["username"] for m in body["results"]] == ["alice", "bob"]
    assert body["count"] == 2


def test_a_client_adds_a_colleague_to_its_organization(alice: User, client_for: Any) -> None:
    response = client_for(alice).post(
        "/api/v1/organization/members/", {**NEW, "email": "n@acme.test"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["organization"]["slug"] == "acme"
    newbie = User.objects.get(username="newbie")
    assert newbie.role == Role.CLIENT and newbie.organization_id == alice.organization_id
    assert newbie.check_password(NEW["password"])


def test_adding_a_colleague_with_a_taken_name_is_a_conflict(alice: User, bob: User, client_for: Any) -> None:
    response = client_for(alice).post(
        "/api/v1/organization/members/", {"username": "bob", "password": PASSWORD}, format="json"
    )

    assert_error(response, 409, "conflict")


def test_a_worker_has_no_organization_to_list(wendy: User, client_for: Any) -> None:
    assert_error(client_for(wendy).get("/api/v1/organization/members/"), 403, "permission_denied")


def test_a_browser_session_works_without_a_token(wendy: User) -> None:
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(wendy)

    assert browser.get("/api/v1/me/").json()["username"] == "wendy"
    # Session-authenticated writes need the CSRF token, like any form on the site.
    assert_error(browser.post("/api/v1/me/tokens/", {"name": "x"}, format="json"), 403, "permission_denied")


def test_a_number_where_the_api_takes_text_is_refused_not_turned_into_text(alice: User, client_for: Any) -> None:
    response = client_for(alice).post(
        "/api/v1/organization/members/", {"username": "newbie", "password": 123456.789012}, format="json"
    )

    assert_error(response, 400, "invalid")
    assert response.json()["error"]["message"] == "password: Not a valid string."
    assert not User.objects.filter(username="newbie").exists()


@pytest.mark.parametrize("how", ["sign-up", "log-in", "me/tokens"])
def test_an_answer_carrying_a_token_secret_is_never_cached(how: str, wendy: User, client_for: Any,
                                                           api: APIClient) -> None:
    """Outside review: these had no Cache-Control; a sign-up or log-in carries no Authorization
    header, so a shared cache could have kept the token."""
    if how == "sign-up":
        answer = api.post("/api/v1/auth/signup/", {**NEW, "role": "worker"}, format="json")
    elif how == "log-in":
        answer = api.post("/api/v1/auth/token/", {"username": "wendy", "password": PASSWORD}, format="json")
    else:
        answer = client_for(wendy).post("/api/v1/me/tokens/", {"name": "bot"}, format="json")

    assert answer.status_code == 201 and answer.json()["token"].startswith("qrm_")
    assert "no-store" in answer["Cache-Control"] and "private" in answer["Cache-Control"]

