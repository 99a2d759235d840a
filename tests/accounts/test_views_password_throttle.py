"""The password pages are throttled: reset requests per e-mail and per address (no mail past the
limit, and never a hint whether an account has the e-mail), and wrong current passwords on the
change page count like failed log-ins.

Wendy is a worker whose inbox someone floods and whose session someone borrowed; "nobody@" has
no account and must be treated exactly like Wendy's address; Walter shares the flooder's address.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from marketplace.accounts.models import User

pytestmark = pytest.mark.django_db

FLOODER = "203.0.113.7"
ELSEWHERE = "198.51.100.1"


@pytest.fixture(autouse=True)
def reset_limits(settings: Any) -> None:
    settings.QUORUM_PASSWORD_RESETS_PER_EMAIL = 3
    settings.QUORUM_PASSWORD_RESETS_PER_ADDRESS = 20


def ask_reset(email: str, *, times: int = 1, ip: str = FLOODER) -> list[Any]:
    browser = Client(REMOTE_ADDR=ip)
    return [browser.post(reverse("password_reset"), {"email": email}) for _ in range(times)]


def page_text(response: Any) -> str:
    """The page as a visitor reads it, minus the minutes to wait (they tick with the clock)."""
    return re.sub(r"\d+ minutes?", "N minutes", response.content.decode())


# Reset requests

def test_a_flood_of_resets_for_one_email_mails_three_links_then_answers_429_and_mails_nothing(
    wendy: User, mailoutbox: list[Any]
) -> None:
    # The same e-mail in another case is the same inbox.
    responses = ask_reset(wendy.email, times=3) + ask_reset(wendy.email.upper(), times=2)

    assert [r.status_code for r in responses] == [302, 302, 302, 429, 429]
    assert len(mailoutbox) == 3
    refused = responses[-1]
    assert 0 < int(refused["Retry-After"]) <= 3600
    body = refused.content.decode()
    assert "Too many password-reset requests for this e-mail or from this address" in body
    assert "no mail was sent" in body and "Try again in" in body


def test_an_email_without_an_account_is_counted_and_answered_exactly_like_one_with_an_account(
    wendy: User, mailoutbox: list[Any]
) -> None:
    known = ask_reset(wendy.email, times=4)
    unknown = ask_reset("nobody@example.com", times=4, ip=ELSEWHERE)

    assert [r.status_code for r in unknown] == [r.status_code for r in known] == [302, 302, 302, 429]
    assert [r.get("Location") for r in unknown] == [r.get("Location") for r in known]
    assert page_text(unknown[-1]) == page_text(known[-1])
    assert [m.to for m in mailoutbox] == [[wendy.email]] * 3


def test_one_address_asking_for_many_emails_is_stopped_and_others_still_get_their_mail(
    settings: Any, wendy: User, walter: User, mailoutbox: list[Any]
) -> None:
    settings.QUORUM_PASSWORD_RESETS_PER_ADDRESS = 3
    emails = ["a@example.com", "b@example.com", walter.email, wendy.email]

    codes = [ask_reset(email)[0].status_code for email in emails]

    assert codes == [302, 302, 302, 429]
    assert [m.to for m in mailoutbox] == [[walter.email]]  # Wendy's request came after the limit
    assert ask_reset(wendy.email, ip=ELSEWHERE)[0].status_code == 302  # her own address is not throttled
    assert [m.to for m in mailoutbox] == [[walter.email], [wendy.email]]


def test_a_limit_of_zero_means_no_limit(settings: Any, wendy: User, mailoutbox: list[Any]) -> None:
    settings.QUORUM_PASSWORD_RESETS_PER_EMAIL = 0
    settings.QUORUM_PASSWORD_RESETS_PER_ADDRESS = 0

    assert [r.status_code for r in ask_reset(wendy.email, times=5)] == [302] * 5
    assert len(mailoutbox) == 5
