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
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from marketplace.accounts.models import User
from tests.accounts.helpers import reset_asked
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

FLOODER = "203.0.113.7"
ELSEWHERE = "198.51.100.1"


@pytest.fixture(autouse=True)
def reset_limits(settings: Any) -> None:
    settings.QUORUM_PASSWORD_RESETS_PER_EMAIL = 3
    settings.QUORUM_PASSWORD_RESETS_PER_ADDRESS = 20


def ask_reset(email: str, *, times: int = 1, ip: str = FLOODER) -> list[Any]:
    browser = Client(REMOTE_ADDR=ip)
    return [reset_asked(browser, email) for _ in range(times)]


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


def test_an_ipv6_client_rotating_through_its_64_is_one_address_to_the_reset_limit(
    settings: Any, wendy: User, mailoutbox: list[Any]
) -> None:
    settings.QUORUM_PASSWORD_RESETS_PER_ADDRESS = 2
    emails = ["a@example.com", "b@example.com", wendy.email]

    codes = [ask_reset(email, ip=f"2001:db8:9:9::{n:x}")[0].status_code for n, email in enumerate(emails, start=1)]

    assert codes == [302, 302, 429]
    assert mailoutbox == []  # Wendy's request came after the /64's limit
    assert ask_reset(wendy.email, ip="2001:db8:9:a::1")[0].status_code == 302  # another /64


def test_a_limit_of_zero_means_no_limit(settings: Any, wendy: User, mailoutbox: list[Any]) -> None:
    settings.QUORUM_PASSWORD_RESETS_PER_EMAIL = 0
    settings.QUORUM_PASSWORD_RESETS_PER_ADDRESS = 0

    assert [r.status_code for r in ask_reset(wendy.email, times=5)] == [302] * 5
    assert len(mailoutbox) == 5


# Wrong current passwords on the change page

LIMIT = 3
NEW = "a-brand-new-long-passphrase"


@pytest.fixture
def cheap_lockout(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = LIMIT
    # Every guess hashes a password; MD5 keeps a dozen of them quick (test data only).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def signed_in(user: User, *, ip: str = FLOODER) -> Client:
    browser = Client(REMOTE_ADDR=ip)
    browser.force_login(user)
    return browser


def change(browser: Client, old_password: str) -> Any:
    return browser.post(reverse("password_change"),
                        {"old_password": old_password, "new_password1": NEW, "new_password2": NEW})


def log_in(user: User, *, ip: str = ELSEWHERE) -> Any:
    return Client(REMOTE_ADDR=ip).post(reverse("login"), {"username": user.username, "password": PASSWORD})


@pytest.mark.usefixtures("cheap_lockout")
def test_the_right_current_password_still_changes_it_after_fewer_wrong_guesses_than_the_limit(
    wendy: User
) -> None:
    browser = signed_in(wendy)
    wrong = [change(browser, f"guess-{n}") for n in range(LIMIT - 1)]

    assert [r.status_code for r in wrong] == [200] * (LIMIT - 1)
    assert "Your old password was entered incorrectly" in wrong[-1].content.decode()
    done = change(browser, PASSWORD)
    assert done.status_code == 302 and done["Location"] == reverse("password_change_done")
    wendy.refresh_from_db()
    assert wendy.check_password(NEW)


@pytest.mark.usefixtures("cheap_lockout")
def test_guessing_the_current_password_locks_the_change_page_but_not_the_owners_log_ins(
    wendy: User
) -> None:
    browser = signed_in(wendy)
    codes = [change(browser, f"guess-{n}").status_code for n in range(LIMIT)]

    assert codes == [200] * (LIMIT - 1) + [429]  # the guess that reaches the limit already says so
    refused = change(browser, PASSWORD)  # even the right password, for the cool-off
    assert refused.status_code == 429 and refused["Retry-After"] == str(15 * 60)
    body = refused.content.decode()
    assert "Too many wrong passwords for this account" in body
    assert "refused for 15 minutes" in body
    wendy.refresh_from_db()
    assert wendy.check_password(PASSWORD) and not wendy.check_password(NEW)
    # Log-ins are counted per address: a borrowed session's guesses never keep the owner out.
    assert log_in(wendy).status_code == 302
    assert change(signed_in(wendy, ip=ELSEWHERE), PASSWORD).status_code == 429  # every session's page


@pytest.mark.usefixtures("cheap_lockout")
def test_one_persons_guesses_on_the_change_page_lock_no_one_else_behind_the_same_address(
    wendy: User, walter: User
) -> None:
    """An office shares one address: Wendy's guesses lock her change page, not her colleagues'
    log-ins nor their own password changes."""
    browser = signed_in(wendy, ip=FLOODER)
    assert [change(browser, f"guess-{n}").status_code for n in range(LIMIT)][-1] == 429

    assert log_in(walter, ip=FLOODER).status_code == 302  # same address, his right password
    assert change(signed_in(walter, ip=FLOODER), PASSWORD).status_code == 302


@pytest.mark.usefixtures("cheap_lockout")
def test_the_guessed_passwords_are_not_kept_in_the_failure_records(wendy: User) -> None:
    change(signed_in(wendy), "my-secret-guess")

    attempt = AccessAttempt.objects.get(username="wendy")
    assert attempt.failures_since_start == 1
    assert "my-secret-guess" not in attempt.post_data and NEW not in attempt.post_data


@pytest.mark.usefixtures("cheap_lockout")
def test_a_form_without_a_current_password_is_not_counted_as_a_guess(wendy: User) -> None:
    browser = signed_in(wendy)
    codes = [change(browser, "").status_code for _ in range(LIMIT + 1)]

    assert codes == [200] * (LIMIT + 1)
    assert change(browser, PASSWORD).status_code == 302
