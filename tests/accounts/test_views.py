"""The public and account pages through Django's test client: sign-up, log-in and log-out,
password reset by e-mail, and API tokens.

The cast (tests/conftest.py): Alice is Acme's client, Carol is Globex's client, Wendy is a worker.
Carol must never be able to touch Alice's tokens.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from marketplace.accounts.models import ApiToken, Organization, Role, User
from marketplace.accounts.services import token_create
from tests.accounts.helpers import reset_asked
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-long-passphrase"


def signup(client: Client, **fields: str) -> Any:
    data = {"role": "worker", "username": "wanda", "email": "wanda@example.com",
            "password1": PASSWORD, "password2": PASSWORD, "organization": ""}
    data.update(fields)
    return client.post(reverse("signup"), data)


def signed_in_as(client: Client) -> User | None:
    user = client.get(reverse("tokens")).wsgi_request.user
    return user if user.is_authenticated else None  # type: ignore[return-value]


# Sign-up

def test_a_client_signs_up_which_creates_the_organization_and_logs_in(client: Client) -> None:
    response = signup(client, role="client", username="cleo", email="cleo@initech.test",
                      organization="Initech Labs")

    assert response.status_code == 302 and response["Location"] == reverse("portal")
    cleo = User.objects.get(username="cleo")
    assert cleo.role == Role.CLIENT and cleo.email == "cleo@initech.test"
    assert cleo.organization == Organization.objects.get(name="Initech Labs")
    assert signed_in_as(client) == cleo


def test_a_worker_signs_up_without_an_organization_and_lands_in_the_portal(client: Client) -> None:
    response = signup(client, organization="Ignored Inc")

    assert response.status_code == 302 and response["Location"] == reverse("portal")
    wanda = User.objects.get(username="wanda")
    assert wanda.role == Role.WORKER and wanda.organization is None
    assert not Organization.objects.filter(name="Ignored Inc").exists()
    assert signed_in_as(client) == wanda


def test_a_taken_username_is_shown_next_to_the_field_and_nothing_is_created(client: Client, alice: User) -> None:
    orgs = Organization.objects.count()

    response = signup(client, role="client", username="ALICE", organization="Copycat Co")

    assert response.status_code == 200
    assert response.context["form"].errors["username"] == ["That username is taken."]
    assert b"That username is taken." in response.content
    assert User.objects.count() == 1 and Organization.objects.count() == orgs
    assert signed_in_as(client) is None


def test_an_existing_organization_name_is_refused_on_its_field_keeping_what_was_typed(
    client: Client, alice: User
) -> None:
    taken = alice.organization.name.upper()  # Acme, in other letters
    orgs = Organization.objects.count()

    response = signup(client, role="client", username="rho", organization=taken)

    assert response.status_code == 200
    assert "already exists" in " ".join(response.context["form"].errors["organization"])
    assert f'value="{taken}"' in response.content.decode() and 'value="rho"' in response.content.decode()
    assert Organization.objects.count() == orgs and not User.objects.filter(username="rho").exists()


def test_a_weak_password_is_reported_on_the_password_field(client: Client) -> None:
    response = signup(client, password1="password", password2="password")

    assert response.status_code == 200
    assert "This password is too common." in " ".join(response.context["form"].errors["password1"])
    assert not User.objects.exists()


def test_every_problem_of_a_sign_up_is_reported_in_one_round(client: Client, alice: User) -> None:
    """A bad username, a bad address, differing passwords and a taken organization, all at once:
    not the username's error on a second round, after the passwords had to be typed again."""
    response = signup(client, role="client", username="new client!", email="not-an-address",
                      password2="something-else-entirely", organization=alice.organization.name)

    errors = response.context["form"].errors
    assert response.status_code == 200 and set(errors) == {"username", "email", "password2", "organization"}
    assert "Enter a valid username" in " ".join(errors["username"])
    assert "already exists" in " ".join(errors["organization"])
    assert not User.objects.filter(username="new client!").exists()


def test_a_common_password_is_reported_beside_a_bad_address(client: Client) -> None:
    errors = signup(client, email="nope", password1="password", password2="password").context["form"].errors
    assert set(errors) == {"email", "password1"} and "This password is too common." in errors["password1"]


def test_mismatched_passwords_and_a_missing_organization_are_field_errors(client: Client) -> None:
    response = signup(client, role="client", password2="something-else-entirely")

    errors = response.context["form"].errors
    assert response.status_code == 200 and set(errors) == {"password2", "organization"}
    assert not User.objects.exists()


def test_a_sign_up_page_flooded_from_one_address_answers_429_and_says_when_to_come_back(
    client: Client, settings: Any
) -> None:
    settings.QUORUM_SIGNUPS_PER_HOUR = 1
    assert signup(client, password2="typo-typo-typo-typo").status_code == 200  # a refused try counts

    response = signup(client)

    assert response.status_code == 429 and 0 < int(response["Retry-After"]) <= 3600
    assert "Too many sign-ups from this address. Try again in" in response.content.decode()
    assert not User.objects.exists()


def test_the_signup_page_labels_every_input_and_preselects_the_role_from_the_link(client: Client) -> None:
    html = client.get(reverse("signup") + "?role=worker").content.decode()

    for label in ("Username", "Email", "Password", "Password (again)", "Organization name"):
        assert f">{label}</label>" in html
    assert re.search(r'<input[^>]*value="worker"[^>]*checked', html)
    assert "csrfmiddlewaretoken" in html


def test_signed_in_users_are_sent_from_login_and_signup_to_their_portal(client: Client, wendy: User) -> None:
    client.force_login(wendy)

    for name in ("login", "signup"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"] == reverse("portal")


# Log-in and log-out

def test_a_user_logs_in_with_the_form_and_follows_a_safe_next(client: Client, wendy: User) -> None:
    page = client.get(reverse("login")).content.decode()
    assert ">Username</label>" in page and ">Password</label>" in page and ">Log in</button>" in page

    response = client.post(reverse("login") + "?next=/portal/tokens/",
                           {"username": "wendy", "password": PASSWORD, "next": "/portal/tokens/"})

    assert response.status_code == 302 and response["Location"] == "/portal/tokens/"
    assert signed_in_as(client) == wendy


def test_login_never_redirects_to_another_site(client: Client, wendy: User) -> None:
    response = client.post(reverse("login"), {"username": "wendy", "password": PASSWORD,
                                              "next": "https://evil.example/steal"})

    assert response.status_code == 302 and response["Location"] == reverse("portal")


def test_a_wrong_password_shows_an_error_and_does_not_log_in(client: Client, wendy: User) -> None:
    response = client.post(reverse("login"), {"username": "wendy", "password": "nope"})

    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert signed_in_as(client) is None


def test_logout_is_a_post_and_ends_the_session(client: Client, wendy: User) -> None:
    client.force_login(wendy)

    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))

    assert response.status_code == 302 and response["Location"] == "/"
    assert signed_in_as(client) is None


# Password reset

def test_password_reset_mails_a_link_that_sets_a_new_password(client: Client, wendy: User,
                                                             mailoutbox: list[Any]) -> None:
    response = reset_asked(client, wendy.email)

    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [wendy.email]
    assert mailoutbox[0].subject == "Reset your Quorum password"
    link = re.search(r"https?://[^/\s]+(/password-reset/[^\s]+/)", mailoutbox[0].body)
    assert link is not None

    form_page = client.get(link.group(1), follow=True)  # Django swaps the token for a session one
    assert form_page.context["validlink"] is True
    done = client.post(form_page.redirect_chain[-1][0],
                       {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert done.status_code == 302 and done["Location"] == reverse("password_reset_complete")
    wendy.refresh_from_db()
    assert wendy.check_password(NEW_PASSWORD) and not wendy.check_password(PASSWORD)
    assert client.get(link.group(1), follow=True).context["validlink"] is False  # used once


def test_the_reset_link_is_on_the_sites_address_whatever_host_and_port_the_request_named(
    wendy: User, mailoutbox: list[Any], settings: Any
) -> None:
    """Outside review: a POST with "Host: 127.0.0.1:31337" (ALLOWED_HOSTS checks the name, not
    the port) mailed Wendy a link to that port."""
    settings.QUORUM_SITE_URL = "https://quorum.example.com"
    stranger = Client(HTTP_HOST="127.0.0.1:31337")

    assert reset_asked(stranger, wendy.email).status_code == 302

    [sent] = mailoutbox
    assert re.search(r"https://quorum\.example\.com/password-reset/[^\s/]+/[^\s/]+/", sent.body)
    assert "31337" not in sent.body and "127.0.0.1" not in sent.body


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client: Client,
                                                                               mailoutbox: list[Any]) -> None:
    response = reset_asked(client, "nobody@example.com")

    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert mail.outbox == [] and mailoutbox == []


# API tokens

def test_tokens_need_a_signed_in_user(client: Client) -> None:
    response = client.get(reverse("tokens"))

    assert response.status_code == 302 and response["Location"].startswith(reverse("login") + "?next=")


def test_creating_a_token_shows_its_secret_once_and_it_works(client: Client, wendy: User) -> None:
    client.force_login(wendy)

    created = client.post(reverse("tokens"), {"name": "labeling bot"})

    secret = created.context["secret"]
    assert created.status_code == 200 and secret.startswith("qrm_")
    assert secret in created.content.decode() and b"only time" in created.content
    assert "no-store" in created["Cache-Control"]
    token = ApiToken.objects.get(user=wendy)
    assert token.name == "labeling bot" and secret.startswith(token.prefix)
    me = Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/api/v1/me/")
    assert me.status_code == 200 and me.json()["username"] == "wendy"

    listing = client.get(reverse("tokens")).content.decode()
    assert "labeling bot" in listing and token.prefix in listing and secret not in listing


def test_a_user_revokes_its_own_token(client: Client, alice: User) -> None:
    token, secret = token_create(user=alice, name="pipeline")
    client.force_login(alice)

    response = client.post(reverse("token-revoke", args=[token.pk]))

    assert response.status_code == 302 and response["Location"] == reverse("tokens")
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    assert Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/api/v1/me/").status_code == 401


def test_nobody_can_revoke_someone_elses_token(client: Client, alice: User, carol: User) -> None:
    token, _ = token_create(user=alice, name="acme-nightly-export")
    client.force_login(carol)

    response = client.post(reverse("token-revoke", args=[token.pk]))

    assert response.status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()
    assert "acme-nightly-export" not in client.get(reverse("tokens")).content.decode()


def test_revoking_needs_a_post(client: Client, alice: User) -> None:
    token, _ = token_create(user=alice, name="pipeline")
    client.force_login(alice)

    assert client.get(reverse("token-revoke", args=[token.pk])).status_code == 405
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_token_forms_carry_a_csrf_token(alice: User) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    token, _ = token_create(user=alice, name="pipeline")

    assert strict.post(reverse("tokens"), {"name": "x"}).status_code == 403
    assert strict.post(reverse("token-revoke", args=[token.pk])).status_code == 403
    assert strict.get(reverse("tokens")).content.count(b"csrfmiddlewaretoken") == 3  # logout, revoke, create


def test_a_too_long_token_name_is_a_field_error(client: Client, wendy: User) -> None:
    client.force_login(wendy)

    response = client.post(reverse("tokens"), {"name": "x" * 101})

    assert response.status_code == 400 and "name" in response.context["form"].errors
    assert not ApiToken.objects.exists()


# Navigation per role

def test_the_tokens_page_shows_the_clients_nav_to_a_client(client: Client, alice: User) -> None:
    client.force_login(alice)

    html = client.get(reverse("tokens")).content.decode()

    assert f'<a href="{reverse("tokens")}" aria-current="page">API tokens</a>' in html
    assert '<span class="badge">client</span>' in html


def test_the_tokens_page_shows_a_worker_no_client_links(client: Client, wendy: User) -> None:
    client.force_login(wendy)

    html = client.get(reverse("tokens")).content.decode()

    assert '<span class="badge">worker</span>' in html
    assert ">Billing</a>" not in html and ">New job</a>" not in html
