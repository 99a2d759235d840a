"""Undo while the item after the one on screen is still on its way: the page still holds two
leases at most (the undone item and the one it was showing), never a third one nobody shows."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from marketplace.labeling.models import Lease
from tests.browser.conftest import arrange, log_in
from tests.browser.labeling import wait_for_item, wait_saved
from tests.factories import PASSWORD, WorkerFactory, open_job_with_items


def test_undo_while_the_next_item_is_on_its_way_leaves_no_third_lease(page: Any) -> None:
    """Wendy's first fetch-ahead fails, so her answer waits for its reply, which brings the next
    item; the page then fetches the one after it. The server has handed that one out but its reply
    has not reached the page when she presses Ctrl+Z: the undo waits for it and gives it back."""
    wendy = arrange(WorkerFactory, username="wendy-undo-ahead")
    job = arrange(open_job_with_items, items=4, title="Undo ahead")
    fetches_ahead: list[Any] = []
    held: list[tuple[Any, Any]] = []  # the fetch-ahead the server answered, its reply held back

    def fetch_ahead(route: Any) -> None:
        if "ahead_of" not in (route.request.post_data or ""):
            route.continue_()
            return
        fetches_ahead.append(route)
        if len(fetches_ahead) == 1:
            route.abort()  # no item fetched ahead of the first: the answer takes the slow path
        else:
            held.append((route, route.fetch()))
            page.evaluate("() => { window.aheadHeld = true; }")

    page.route(f"**/work/jobs/{job.pk}/label/next/", fetch_ahead)
    log_in(page, wendy.username, PASSWORD)
    page.goto(f"/work/jobs/{job.pk}/label/")
    first = wait_for_item(page, None)
    page.wait_for_function("() => document.querySelector('#labeler').dataset.ahead !== 'ready'")

    page.keyboard.press("d")
    second = wait_for_item(page, first)
    wait_saved(page, 1)
    page.wait_for_function("() => window.aheadHeld === true")  # the third item's lease exists
    assert arrange(lambda: Lease.objects.filter(worker=wendy, status="active").count()) == 2

    page.keyboard.press("Control+z")
    route, reply = held[0]
    route.fulfill(response=reply)

    expect(page.locator("#item")).to_have_text(first)  # the undone item is back on screen
    expect(page.locator("#done-count")).to_have_text("0")
    live = arrange(lambda: list(Lease.objects.filter(worker=wendy, status="active").values_list("item__data", flat=True)))
    assert sorted(item["text"] for item in live) == sorted([first, second])  # three on the old page
