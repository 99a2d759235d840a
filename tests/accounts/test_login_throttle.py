"""Failed log-ins are throttled per account from one address (a low limit), per account from any
address (higher) and per address whatever the accounts (far higher): on the log-in page, the token
API and the Django admin alike, and the locked-out visitor is told so (429), not shown "wrong
password". One person guessing never locks out the office that shares their address.

Wendy is a worker whose password someone is guessing; Walter is another worker who happens to
share the guesser's address (an office behind one NAT); Ada is an admin. The throttle is the real
one (django-axes with its database handler and Quorum's per-count limits), with low limits so the
tests stay cheap.
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.db.models import F
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from marketplace.accounts.throttle import client_ip_address
from marketplace.accounts.models import User
from tests.accounts.helpers import assert_error
from tests.factories import PASSWORD

TOKEN = "/api/v1/auth/token/"
LIMIT = 3  # per account from one address
ACCOUNT_LIMIT = 6  # per account from any address
ADDRESS_LIMIT = 9  # per address, whatever the accounts
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def cheap_throttle(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.QUORUM_LOGIN_ACCOUNT_FAILURE_LIMIT = ACCOUNT_LIMIT
    settings.QUORUM_LOGIN_ADDRESS_FAILURE_LIMIT = ADDRESS_LIMIT
    # Every failed attempt hashes a password; MD5 keeps a dozen of them quick (test data only).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def from_address(ip: str, **extra: str) -> APIClient:
    return APIClient(REMOTE_ADDR=ip, **extra)


def guess(api: APIClient, username: str, times: int) -> list[int]:
    return [api.post(TOKEN, {"username": username, "password": "wrong-guess"}, format="json").status_code
            for _ in range(times)]


def test_the_token_api_locks_the_guessed_account_out_of_the_guessing_address_even_with_the_right_password(
    wendy: User,
) -> None:
    api = from_address("203.0.113.7")

    assert guess(api, "wendy", LIMIT - 1) == [401] * (LIMIT - 1)
    assert guess(api, "wendy", 1) == [429]  # the attempt that reaches the limit already says so

    # From that address, even with the right password, for the cool-off.
    refused = from_address("203.0.113.7").post(TOKEN, {"username": "wendy", "password": PASSWORD},
                                               format="json")
    error = assert_error(refused, 429, "locked_out")
    assert "Too many failed log-ins" in error["message"] and "15 minutes" in error["message"]
    assert refused["Retry-After"] == str(15 * 60)


def test_a_guesser_cannot_lock_the_owner_out_from_her_own_address(wendy: User) -> None:
    assert guess(from_address("203.0.113.7"), "wendy", LIMIT + 2)[-1] == 429

    owner = from_address("198.51.100.1").post(TOKEN, {"username": "wendy", "password": PASSWORD}, format="json")

    assert owner.status_code == 201


def test_failures_while_locked_out_do_not_extend_the_lock(wendy: User) -> None:
    guess(from_address("203.0.113.7"), "wendy", LIMIT)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=14))
    # The guesser keeps going during the last minute of the lock: refused, and not counted.
    assert guess(from_address("203.0.113.7"), "wendy", 3) == [429] * 3
    # Two minutes on, the lock from the last counted failure (16 minutes ago by then) is over.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=2))

    again = from_address("203.0.113.7").post(TOKEN, {"username": "wendy", "password": PASSWORD}, format="json")

    assert again.status_code == 201


def test_one_person_guessing_behind_an_office_address_does_not_lock_out_a_colleague_there(
    wendy: User, walter: User
) -> None:
    office = "203.0.113.7"
    assert guess(from_address(office), "wendy", LIMIT + 2)[-1] == 429  # wendy's account from there: locked

    colleague = from_address(office).post(TOKEN, {"username": "walter", "password": PASSWORD}, format="json")

    assert colleague.status_code == 201


def test_an_account_guessed_from_many_addresses_is_locked_from_every_address(wendy: User) -> None:
    for n in range(ACCOUNT_LIMIT // LIMIT):  # each address stays within its own limit for the pair
        guess(from_address(f"203.0.113.{n + 1}"), "wendy", LIMIT)

    owner = from_address("198.51.100.1").post(TOKEN, {"username": "wendy", "password": PASSWORD}, format="json")

    error = assert_error(owner, 429, "locked_out")
    assert "Too many failed log-ins" in error["message"]


def test_one_address_trying_account_after_account_is_locked_out_but_others_are_not(walter: User) -> None:
    attacker = from_address("203.0.113.7")
    for n in range(ADDRESS_LIMIT):  # accounts that do not even exist count against the address
        guess(attacker, f"user{n}", 1)

    same_address = from_address("203.0.113.7").post(TOKEN, {"username": "walter", "password": PASSWORD},
                                                    format="json")
    elsewhere = from_address("198.51.100.1").post(TOKEN, {"username": "walter", "password": PASSWORD},
                                                  format="json")

    assert_error(same_address, 429, "locked_out")
    assert elsewhere.status_code == 201


def test_the_lockout_lifts_after_the_cool_off(wendy: User) -> None:
    guess(from_address("203.0.113.7"), "wendy", LIMIT)
    # Instead of waiting 15 minutes, the failures happened 16 minutes ago.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    again = from_address("203.0.113.7").post(TOKEN, {"username": "wendy", "password": PASSWORD}, format="json")

    assert again.status_code == 201


def test_an_admin_unlocks_an_account_from_the_command_line(wendy: User) -> None:
    guess(from_address("203.0.113.7"), "wendy", LIMIT)

    call_command("axes_reset_username", "wendy", stdout=StringIO())

    unlocked = from_address("203.0.113.7").post(TOKEN, {"username": "wendy", "password": PASSWORD},
                                                format="json")
    assert unlocked.status_code == 201


def test_the_log_in_page_says_the_account_is_locked_and_does_not_log_in(wendy: User) -> None:
    browser = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(LIMIT - 1):
        wrong = browser.post("/login/", {"username": "wendy", "password": "wrong-guess"})
        assert wrong.status_code == 200 and b"correct username and password" in wrong.content
    assert browser.post("/login/", {"username": "wendy", "password": "wrong-guess"}).status_code == 429

    locked = browser.post("/login/", {"username": "wendy", "password": PASSWORD})

    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Too many failed log-ins" in page and "15 minutes" in page
    assert browser.get("/portal/").status_code == 302  # still signed out


def test_the_django_admin_log_in_is_throttled_too(ada: User) -> None:
    browser = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(LIMIT):
        browser.post("/admin/login/", {"username": "ada", "password": "wrong-guess", "next": "/admin/"})

    locked = browser.post("/admin/login/", {"username": "ada", "password": PASSWORD, "next": "/admin/"})

    assert locked.status_code == 429 and b"Too many failed log-ins" in locked.content
    assert browser.get("/admin/").status_code == 302  # still signed out


def test_behind_a_proxy_the_address_comes_from_x_forwarded_for_and_cannot_be_spoofed(
    settings: Any, walter: User
) -> None:
    settings.QUORUM_PROXY_COUNT = 1  # one reverse proxy appends the address it saw
    # The proxy is 10.0.0.2 for everyone; the guesser prepends a fake address of its own.
    attacker = from_address("10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.7")
    guess(attacker, "walter", LIMIT)

    colleague = from_address("10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1").post(
        TOKEN, {"username": "walter", "password": PASSWORD}, format="json")
    spoofer = from_address("10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7").post(
        TOKEN, {"username": "walter", "password": PASSWORD}, format="json")

    assert colleague.status_code == 201  # the proxy's own address is not what gets locked
    assert_error(spoofer, 429, "locked_out")  # walter from the guesser's own address is


def test_the_client_address_is_remote_addr_unless_proxies_are_configured(settings: Any, rf: Any) -> None:
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.7")

    settings.QUORUM_PROXY_COUNT = 0
    assert client_ip_address(request) == "10.0.0.2"  # a forged header is ignored without a proxy
    settings.QUORUM_PROXY_COUNT = 1
    assert client_ip_address(request) == "203.0.113.7"
    settings.QUORUM_PROXY_COUNT = 2
    assert client_ip_address(request) == "192.0.2.99"
    settings.QUORUM_PROXY_COUNT = 3  # fewer hops than proxies: misconfigured, fall back safely
    assert client_ip_address(request) == "10.0.0.2"


@pytest.mark.parametrize(("remote", "counted"), [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2::1", "2001:db8:1:2::"),
    ("2001:db8:1:2:ffff:ffff:ffff:fffe", "2001:db8:1:2::"),  # any address of the same /64
    ("2001:DB8:0001:0002:0:0:0:9", "2001:db8:1:2::"),  # however it is written
    ("2001:db8:1:3::1", "2001:db8:1:3::"),  # the next /64 is another client
    ("fe80::1%eth0", "fe80::"),
    ("::ffff:203.0.113.7", "203.0.113.7"),  # an IPv4 client seen through an IPv6 socket
])
def test_the_throttles_count_an_ipv6_client_by_its_64(rf: Any, remote: str, counted: str) -> None:
    assert client_ip_address(rf.get("/", REMOTE_ADDR=remote)) == counted


def test_the_64_comes_from_x_forwarded_for_behind_a_proxy(settings: Any, rf: Any) -> None:
    settings.QUORUM_PROXY_COUNT = 1
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="2001:db8:7:7:a:b:c:d")
    assert client_ip_address(request) == "2001:db8:7:7::"


def test_a_guesser_rotating_through_its_64_is_locked_out_as_one_address(walter: User) -> None:
    for n in range(1, LIMIT + 1):  # a new address of the /64 for each guess
        guess(from_address(f"2001:db8:1:2::{n:x}"), "walter", 1)

    same_64 = from_address("2001:db8:1:2::ff").post(TOKEN, {"username": "walter", "password": PASSWORD},
                                                     format="json")
    next_64 = from_address("2001:db8:1:3::1").post(TOKEN, {"username": "walter", "password": PASSWORD},
                                                    format="json")

    assert_error(same_64, 429, "locked_out")
    assert next_64.status_code == 201
