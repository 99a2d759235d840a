"""A signed-in person on another role's page gets Quorum's own "Page not found", with a way back
to their portal, also under DEBUG (what `make demo` runs), not Django's technical 404 page."""

from __future__ import annotations

import pytest
from django.test import override_settings

from marketplace.accounts.models import User
from tests.portal import browser


@pytest.mark.parametrize("url", ["/portal/jobs/", "/staff/clients/"])
@override_settings(DEBUG=True)
def test_a_worker_on_a_client_or_staff_page_reads_page_not_found_with_a_way_back(wendy: User, url: str) -> None:
    response = browser(wendy).get(url)
    body = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in body and "Back to your portal" in body
    assert "URLconf" not in body and "Raised by" not in body


@override_settings(DEBUG=True)
def test_a_client_on_the_worker_portal_reads_page_not_found(alice: User) -> None:
    response = browser(alice).get("/work/")
    assert response.status_code == 404 and "Back to your portal" in response.content.decode()
