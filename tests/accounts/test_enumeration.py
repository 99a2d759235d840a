"""Nobody learns from Quorum whether an e-mail address has an account: not from signing up, not
from asking for a password reset, not from any error. Usernames are public handles (README,
"Account enumeration"): a taken one is said to be taken, at the sign-up throttle's pace.

Wendy is a worker with an e-mail address; a stranger tries Wendy's address, and one nobody has.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from marketplace.accounts.models import User
from tests.accounts.helpers import reset_asked

SIGNUP = "/api/v1/auth/signup/"
STRONG = "correct-horse-battery-staple"
UNKNOWN = "nobody-has-this@example.com"
pytestmark = pytest.mark.django_db


def _shape(body: Any) -> Any:
    """The keys of an answer, and every value that is not the new account's own."""
    user = {key: value for key, value in body["user"].items() if key not in {"id", "username", "email"}}
    return sorted(body), user


def test_signing_up_with_an_address_an_account_has_answers_exactly_as_with_a_new_one(wendy: User) -> None:
    theirs = APIClient().post(SIGNUP, {"username": "mallory", "email": wendy.email, "password": STRONG,
                                       "role": "worker"}, format="json")
    fresh = APIClient().post(SIGNUP, {"username": "trent", "email": UNKNOWN, "password": STRONG,
                                      "role": "worker"}, format="json")

    assert theirs.status_code == fresh.status_code == 201
    assert _shape(theirs.json()) == _shape(fresh.json())


def test_the_sign_up_page_takes_an_address_an_account_has_as_it_takes_a_new_one(wendy: User) -> None:
    def page(username: str, email: str) -> Any:
        return Client().post("/signup/", {"role": "worker", "username": username, "email": email,
                                          "password1": STRONG, "password2": STRONG})

    theirs, fresh = page("mallory", wendy.email), page("trent", UNKNOWN)

    assert theirs.status_code == fresh.status_code == 302 and theirs["Location"] == fresh["Location"]


def test_a_refused_sign_up_never_mentions_the_address(wendy: User) -> None:
    taken = APIClient().post(SIGNUP, {"username": "wendy", "email": wendy.email, "password": STRONG,
                                      "role": "worker"}, format="json")
    weak = APIClient().post(SIGNUP, {"username": "mallory", "email": wendy.email, "password": "123",
                                     "role": "worker"}, format="json")

    assert taken.status_code == 409 and weak.status_code == 400
    for refused in (taken, weak):
        text = refused.content.decode().lower()
        assert wendy.email.lower() not in text and "e-mail" not in text and "email" not in text


def test_a_password_reset_answers_alike_for_an_address_with_an_account_and_one_without(
    wendy: User, settings: Any
) -> None:
    settings.QUORUM_TASKS = "inline"
    known, unknown = reset_asked(Client(), wendy.email), reset_asked(Client(), UNKNOWN)
    done_known = Client().get(known["Location"])
    done_unknown = Client().get(unknown["Location"])

    assert known.status_code == unknown.status_code == 302 and known["Location"] == unknown["Location"]
    assert done_known.content == done_unknown.content
