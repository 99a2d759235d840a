"""Pages on a phone and with names longer than anyone expects: nothing a person must reach is
pushed off the screen.

At 390 px (a phone), Wendy's "Find work" list shows each job's Label button without scrolling
sideways, and the labeling page shows the label buttons without scrolling down. An organization
named with 200 letters and no space (what the sign-up form allows) neither widens the staff
Clients table past the window nor runs the client's Billing header off the page.
"""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import arrange, log_in, screenshot
from tests.browser.labeling import wait_for_item
from tests.factories import PASSWORD, AdminFactory, ClientFactory, WorkerFactory, open_job_with_items

PHONE = {"width": 390, "height": 844}
LONG_NAME = "X" * 200


def _page_width(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def _within_window(page: Any, locator: Any, *, sideways_only: bool = False) -> bool:
    """On screen as the page opened: not off to the right, nor below the fold (unless sideways_only)."""
    box = locator.bounding_box()
    window = page.viewport_size
    across = box is not None and box["x"] >= 0 and box["x"] + box["width"] <= window["width"]
    return across and (sideways_only or box["y"] >= 0 and box["y"] + box["height"] <= window["height"])


def test_on_a_phone_the_worker_reaches_label_buttons_without_scrolling(page: Any) -> None:
    wendy = arrange(WorkerFactory, username="wendy-phone")
    job = arrange(open_job_with_items, items=5, title="Animals in photos taken at the city zoo",
                  instructions="Pick the animal you see.\n\n" + "Look at the whole photo first. " * 30)
    page.set_viewport_size(PHONE)
    log_in(page, wendy.username, PASSWORD)

    page.goto("/work/")
    label = page.get_by_role("link", name=f"Label {job.title}")
    label.wait_for()
    screenshot(page, "phone-work-list")
    assert _page_width(page) <= PHONE["width"]
    assert _within_window(page, label)

    label.click()
    wait_for_item(page, None)
    screenshot(page, "phone-labeling")
    assert _page_width(page) <= PHONE["width"]
    assert _within_window(page, page.locator("button.choice").first)


def test_a_very_long_organization_name_keeps_the_staff_table_and_the_billing_header_on_screen(page: Any) -> None:
    client = arrange(ClientFactory, username="longname", organization__name=LONG_NAME,
                     organization__slug="x" * 50)
    admin = arrange(AdminFactory, username="staff-longname")
    window = page.viewport_size

    log_in(page, client.username, PASSWORD)
    page.goto("/portal/billing/")
    page.get_by_role("heading", name="Billing").wait_for()
    screenshot(page, "billing-long-name")
    assert _page_width(page) <= window["width"]

    page.context.clear_cookies()
    log_in(page, admin.username, PASSWORD)
    page.goto("/staff/clients/")
    row = page.locator(f'tr[data-organization="{client.organization.slug}"]')
    row.wait_for()
    screenshot(page, "staff-clients-long-name")
    assert _page_width(page) <= window["width"]
    record = row.get_by_role("button", name="Record")
    assert _within_window(page, record, sideways_only=True)
    assert row.locator("[title]").first.get_attribute("title") == LONG_NAME  # the whole name, on hover
