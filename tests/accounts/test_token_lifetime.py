"""An API token ends when its owner's password changes (reset, portal, Django admin, manage.py
changepassword: accounts/passwords.py hooks every one) and, when it
was given one, at its expiry: an expired token is refused with 401 and says why.

Wendy is a worker with a script holding a token; Ada is an admin who resets passwords.
"""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from marketplace.accounts.models import ApiToken, User
from tests.accounts.helpers import assert_error, reset_asked
from tests.factories import PASSWORD

TOKENS = "/api/v1/me/tokens/"
NEW_PASSWORD = "a-brand-new-long-passphrase"
pytestmark = pytest.mark.django_db


def bearer(secret: str) -> APIClient:
    return APIClient(HTTP_AUTHORIZATION=f"Bearer {secret}")


def a_token_of(user: User, **fields: Any) -> str:
    response = APIClient().post("/api/v1/auth/token/",
                                {"username": user.username, "password": PASSWORD, **fields}, format="json")
    assert response.status_code == 201, response.content
    return str(response.json()["token"])


def test_a_password_reset_revokes_every_api_token_and_the_page_says_so(
    client: Client, wendy: User, mailoutbox: list[Any]
) -> None:
    scripts = [a_token_of(wendy, name="laptop"), a_token_of(wendy, name="server")]
    reset_asked(client, wendy.email)
    link = re.search(r"https?://[^/\s]+(/password-reset/[^\s]+/)", mailoutbox[0].body)
    assert link is not None
    form_page = client.get(link.group(1), follow=True)
    assert "revokes your API tokens" in form_page.content.decode()

    done = client.post(form_page.redirect_chain[-1][0],
                       {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, follow=True)

    assert "API tokens were revoked" in done.content.decode()
    for secret in scripts:
        error = assert_error(bearer(secret).get("/api/v1/me/"), 401, "authentication_failed")
        assert error["message"] == "Invalid or revoked token"
    assert not ApiToken.objects.filter(user=wendy).exists()


def test_changing_the_password_in_the_portal_revokes_every_api_token(client: Client, wendy: User) -> None:
    secret = a_token_of(wendy)
    client.force_login(wendy)
    assert "revokes your API tokens" in client.get(reverse("password_change")).content.decode()

    done = client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD,
    }, follow=True)

    assert "API tokens were revoked" in done.content.decode()
    assert client.get(reverse("tokens")).status_code == 200  # still signed in on this browser
    assert_error(bearer(secret).get("/api/v1/me/"), 401, "authentication_failed")


def test_an_admin_setting_a_users_password_in_the_django_admin_revokes_their_tokens(
    client: Client, ada: User, wendy: User
) -> None:
    secret = a_token_of(wendy)
    client.force_login(ada)

    response = client.post(f"/admin/accounts/user/{wendy.pk}/password/", {
        "password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true",
    })

    assert response.status_code == 302
    assert_error(bearer(secret).get("/api/v1/me/"), 401, "authentication_failed")


def test_an_operator_running_manage_py_changepassword_revokes_the_users_tokens(
    wendy: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = a_token_of(wendy)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)

    call_command("changepassword", "wendy", stdout=StringIO())

    assert_error(bearer(secret).get("/api/v1/me/"), 401, "authentication_failed")
    assert not ApiToken.objects.filter(user=wendy).exists()


def test_a_new_account_keeps_the_token_its_sign_up_gave_it(api: APIClient) -> None:
    response = api.post("/api/v1/auth/signup/", {
        "username": "wanda", "password": NEW_PASSWORD, "role": "worker"}, format="json")

    assert bearer(response.json()["token"]).get("/api/v1/me/").status_code == 200


def test_the_django_admins_own_password_change_goes_to_the_page_that_revokes_tokens(
    client: Client, ada: User
) -> None:
    client.force_login(ada)

    response = client.get("/admin/password_change/")

    assert response.status_code in (301, 302) and response["Location"] == reverse("password_change")


def test_a_token_created_with_an_expiry_works_until_then_and_is_refused_after(wendy: User) -> None:
    expires = timezone.now() + timedelta(days=30)
    session = APIClient()
    session.force_authenticate(wendy)

    created = session.post(TOKENS, {"name": "ci", "expires_at": expires.isoformat()}, format="json")

    assert created.status_code == 201
    assert created.json()["expires_at"] is not None
    secret = created.json()["token"]
    assert bearer(secret).get("/api/v1/me/").status_code == 200

    ApiToken.objects.filter(name="ci").update(expires_at=timezone.now() - timedelta(seconds=1))
    error = assert_error(bearer(secret).get("/api/v1/me/"), 401, "authentication_failed")
    assert error["message"].startswith("This token expired on ") and "create a new one" in error["message"]


def test_the_token_endpoint_also_takes_an_expiry_and_tokens_without_one_never_expire(wendy: User) -> None:
    later = timezone.now() + timedelta(days=7)
    a_token_of(wendy, name="week", expires_at=later.isoformat())
    a_token_of(wendy, name="forever")

    expiries = {t.name: t.expires_at for t in ApiToken.objects.filter(user=wendy)}

    assert expiries["forever"] is None
    assert abs((expiries["week"] - later).total_seconds()) < 1


def test_an_expiry_in_the_past_is_refused(wendy: User) -> None:
    session = APIClient()
    session.force_authenticate(wendy)

    response = session.post(TOKENS, {"expires_at": (timezone.now() - timedelta(minutes=1)).isoformat()},
                            format="json")

    error = assert_error(response, 400, "invalid")
    assert "future" in error["message"]
    assert not ApiToken.objects.exists()


def test_the_tokens_page_creates_a_token_that_expires_and_lists_when(client: Client, wendy: User) -> None:
    client.force_login(wendy)

    created = client.post(reverse("tokens"), {"name": "trial", "expires_in_days": "30"})

    assert created.status_code == 200
    token = ApiToken.objects.get(user=wendy)
    assert token.expires_at is not None
    assert timedelta(days=29, hours=23) < token.expires_at - timezone.now() <= timedelta(days=30)
    listing = client.get(reverse("tokens")).content.decode()
    assert "Expires" in listing and token.expires_at.strftime("%b %-d, %Y") in listing


@pytest.mark.parametrize("given", ["2030-01-31", "2030-01-31T09:00", "2030-01-31 09:00:00"])
def test_an_expiry_without_a_time_zone_is_refused_naming_the_field_and_the_form(wendy: User, given: str) -> None:
    """A zoneless time was read as UTC, hours off for a client that meant its own clock."""
    session = APIClient()
    session.force_authenticate(wendy)

    for response in (session.post(TOKENS, {"expires_at": given}, format="json"),
                     APIClient().post("/api/v1/auth/token/", {"username": wendy.username, "password": PASSWORD,
                                                              "expires_at": given}, format="json")):
        error = assert_error(response, 400, "invalid")
        assert "expires_at" in error["message"] and "time zone" in error["message"]
        assert "2026-12-05T15:04:00Z" in error["details"]["expires_at"][0]
    assert not ApiToken.objects.exists()


def test_an_expiry_in_another_zone_is_kept_and_read_back_in_utc_with_z(wendy: User) -> None:
    session = APIClient()
    session.force_authenticate(wendy)

    created = session.post(TOKENS, {"expires_at": "2030-01-31T11:00:00+02:00"}, format="json")

    assert created.status_code == 201, created.content
    assert created.json()["expires_at"] == "2030-01-31T09:00:00Z"
