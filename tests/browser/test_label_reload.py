"""Reloading the labeling page, or opening it in a second tab, keeps the item the worker was on.

A closing page sends a beacon that gives its items back; the new page's first call claims the
worker's item. Whichever reaches the server first, Wendy sees the item she was on and her answer
to it is saved (labeling/returning.py). Where a test needs the beacon to arrive late, the page's
sendBeacon keeps the form (in localStorage, which outlives the page) and the test delivers that
same form later, from the same session. (Playwright does not see a beacon sent as a page goes.)
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import arrange, log_in
from tests.browser.labeling import item_text, wait_ahead, wait_for_item, wait_saved
from tests.factories import PASSWORD, WorkerFactory, open_job_with_items

def open_labeling(page: Any, name: str) -> tuple[Any, str]:
    """A worker `name` opens a job's labeling page; returns the job and the item on screen once
    the item after it has arrived too (the page holds both)."""
    wendy = arrange(WorkerFactory, username=name)
    job = arrange(open_job_with_items, items=6, overlap=1, title="Reloaded")
    log_in(page, wendy.username, PASSWORD)
    page.goto(f"/work/jobs/{job.pk}/label/")
    first = wait_for_item(page, None)
    wait_ahead(page)
    return job, first


def hold_beacon(page: Any) -> None:
    """The page on screen keeps the beacon it sends as it goes instead of sending it."""
    page.evaluate("""() => {
        navigator.sendBeacon = (url, form) => {
            localStorage.setItem("heldBeacon", JSON.stringify({ url, form: Object.fromEntries(form) }));
            return true;
        };
    }""")


def deliver(page: Any) -> None:
    """The held beacon reaches the server now: the same form, from the same session."""
    held = page.evaluate("() => JSON.parse(localStorage.getItem('heldBeacon'))")
    assert held and held["form"]["leases"], "the old page sent no beacon"
    reply = page.request.post(held["url"], form=held["form"])
    assert reply.status == 204, reply.text()


def test_a_reload_shows_the_same_item_and_its_answer_is_saved(page: Any) -> None:
    job, first = open_labeling(page, "wendy-reload")

    page.reload()

    expect(page.locator("#item")).to_have_text(first)
    expect(page.locator("#item")).to_have_attribute("aria-busy", "false")
    wait_ahead(page)
    page.keyboard.press("d")
    second = wait_for_item(page, first)
    wait_saved(page, 1)
    assert second != first


def test_a_beacon_landing_after_the_reloaded_page_claimed_takes_nothing_back(page: Any) -> None:
    job, first = open_labeling(page, "wendy-late-beacon")
    hold_beacon(page)

    page.reload()
    expect(page.locator("#item")).to_have_text(first)
    expect(page.locator("#item")).to_have_attribute("aria-busy", "false")
    wait_ahead(page)
    deliver(page)  # the old page's beacon, late

    page.keyboard.press("d")
    wait_for_item(page, first)
    wait_saved(page, 1)
    expect(page.locator("#save-state")).not_to_have_text("Not saved")


def test_a_second_tab_shows_the_same_item_and_closing_the_first_leaves_it_answerable(page: Any) -> None:
    job, first = open_labeling(page, "wendy-two-tabs")
    second_tab = page.context.new_page()
    second_tab.goto(f"/work/jobs/{job.pk}/label/")
    expect(second_tab.locator("#item")).to_have_text(first)
    expect(second_tab.locator("#item")).to_have_attribute("aria-busy", "false")
    wait_ahead(second_tab)

    hold_beacon(page)
    page.goto("/work/")  # the first tab leaves the labeling page
    deliver(page)

    second_tab.keyboard.press("d")
    after = wait_for_item(second_tab, first)
    wait_saved(second_tab, 1)
    assert item_text(second_tab) == after != first
