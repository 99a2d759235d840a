"""A visitor's first minutes, in a real browser: the landing page, sign-up as a worker, the
portal, log-out and log-in again; and an API token created and copied from the tokens page.

/portal/ sends each role to its home (the worker's is /work/, built by another part of the
portal), so these tests check where the browser lands, not what that page says.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from marketplace.accounts.models import ApiToken, Role, User
from tests.browser.conftest import arrange, log_in, screenshot
from tests.factories import PASSWORD, ClientFactory


def _in_portal(url: str) -> bool:
    return urlparse(url).path.startswith(("/work/", "/portal/"))


def test_a_visitor_signs_up_as_a_worker_logs_out_and_logs_back_in(page: Any) -> None:
    page.goto("/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Labels you can trust")
    assert page.locator(".tier-card").count() == 3  # the seeded tiers, with prices
    assert "per 1,000 items" in page.locator(".tier-card").first.inner_text()
    screenshot(page, "public-landing")

    page.get_by_role("link", name="Earn as a labeler").click()
    page.wait_for_url(re.compile(r"/signup/\?role=worker$"))
    assert page.get_by_label("I want to label and earn").is_checked()
    assert page.get_by_label("Organization name").is_hidden()  # only clients name one
    page.get_by_label("Username").fill("wanda")
    page.get_by_label("Email").fill("wanda@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    screenshot(page, "public-signup")
    page.get_by_role("button", name="Create account").click()

    page.wait_for_url(lambda url: "/signup/" not in url)
    assert _in_portal(page.url)
    assert User.objects.get(username="wanda").role == Role.WORKER

    # Log out from an account page (the worker's home belongs to another part of the portal).
    page.goto("/portal/tokens/")
    assert page.locator(".topbar .who").inner_text().startswith("wanda")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(lambda url: urlparse(url).path == "/")
    assert page.get_by_role("link", name="Log in").first.is_visible()

    page.goto("/login/")
    screenshot(page, "public-login")
    log_in(page, "wanda", PASSWORD)
    assert _in_portal(page.url)


def test_a_wrong_password_keeps_the_visitor_on_the_login_page(page: Any) -> None:
    arrange(ClientFactory, username="cleo")

    page.goto("/login/")
    page.get_by_label("Username").fill("cleo")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()

    assert page.get_by_role("alert").inner_text().startswith("Please enter a correct username and password")
    assert urlparse(page.url).path == "/login/"


def test_a_client_creates_a_token_sees_it_once_and_revokes_it(page: Any) -> None:
    cleo = arrange(ClientFactory, username="cleo")
    log_in(page, "cleo", PASSWORD)

    page.goto("/portal/tokens/")
    page.get_by_label("Token name").fill("nightly export")
    page.get_by_role("button", name="Create token").click()

    secret = page.get_by_test_id("token-secret").inner_text()
    assert secret.startswith("qrm_") and "only time" in page.locator(".secret-card").inner_text()
    screenshot(page, "public-tokens")
    page.get_by_role("button", name="Copy").click()
    page.get_by_role("button", name=re.compile("Copied|Press Ctrl")).wait_for()
    token = ApiToken.objects.get(user=cleo)
    assert secret.startswith(token.prefix)

    page.goto("/portal/tokens/")
    assert secret not in page.content() and "nightly export" in page.content()
    page.once("dialog", lambda dialog: dialog.accept())  # "Revoke …?" confirmation
    page.get_by_role("button", name="Revoke nightly export").click()
    page.get_by_text("Token revoked").wait_for()
    assert not ApiToken.objects.filter(pk=token.pk).exists()


def test_an_address_too_long_for_the_server_answers_a_page_saying_what_to_do(page: Any) -> None:
    # 5,000 "é" are 30 KB once percent-encoded: over daphne's 16 KB request line.
    response = page.goto("/portal/jobs/1/data/?q=" + "é" * 5000)
    assert response is not None and response.status == 414
    assert page.get_by_role("heading", level=1).inner_text() == "This address is too long"
    assert "Shorten the search text" in page.locator("body").inner_text()
