"""Undo is offered only for an answer it can take back, and a refused undo's banner speaks of its
own item only (outside UX review F7).

Wendy labels a job asked for two answers per item. Where Walter answered first, her answer
completes the item: the page stops offering Undo once the reply says so. Where she answers first
and Walter completes the item after, her click is refused; the banner saying so stands over the
item she pressed Undo over, never over one she has moved on to."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from playwright.sync_api import expect

from marketplace.accounts.models import User
from marketplace.labeling.models import Judgment, Lease
from marketplace.labeling.services import judgment_submit
from tests.browser.conftest import arrange, log_in
from tests.browser.labeling import answer_first_item, wait_ahead, wait_for_item, wait_saved
from tests.factories import PASSWORD, WorkerFactory, open_job_with_items
from tests.labeling.helpers import judge_all


def _answer_her_last_item(walter: User, wendy: User) -> None:
    """Walter answers the item of Wendy's latest answer: its second answer completes it."""
    item = Judgment.objects.filter(worker=wendy).latest("id").item
    now = timezone.now()
    lease = Lease.objects.create(job=item.job, item=item, worker=walter, created_at=now,
                                 expires_at=now + timedelta(minutes=5))
    judgment_submit(worker=walter, lease_id=lease.pk, label="cat")


def test_an_answer_that_completed_its_item_offers_no_undo(page: Any) -> None:
    wendy = arrange(WorkerFactory, username="wendy-completes")
    walter = arrange(WorkerFactory, username="walter-first")
    job = arrange(open_job_with_items, items=3, overlap=2, title="Completed by Wendy")
    arrange(judge_all, walter, job)  # every item has one answer: each of Wendy's completes one
    log_in(page, wendy.username, PASSWORD)
    page.goto(f"/work/jobs/{job.pk}/label/")
    first = wait_for_item(page, None)
    wait_ahead(page)

    page.keyboard.press("d")
    wait_for_item(page, first)
    wait_saved(page, 1)

    expect(page.locator("#undo")).to_be_hidden()  # the old page offered it, and a click said 409
    page.keyboard.press("Control+z")  # nothing to undo: nothing happens
    expect(page.locator("#feedback")).to_be_hidden()
    assert arrange(lambda: Judgment.objects.get(worker=wendy).status) == "accepted"


def test_a_refused_undos_banner_goes_when_the_next_item_shows(page: Any) -> None:
    wendy = arrange(WorkerFactory, username="wendy-refused")
    walter = arrange(WorkerFactory, username="walter-second")
    job = arrange(open_job_with_items, items=4, overlap=2, title="Completed by Walter")
    _, second = answer_first_item(page, wendy, job)  # the item's first answer: it can be undone
    expect(page.locator("#undo")).to_be_visible()
    arrange(_answer_her_last_item, walter, wendy)  # ...until Walter's completes the item
    page.locator("#undo").click()

    banner = page.locator("#feedback")
    expect(banner).to_have_text(
        "Not undone: Another worker's answer completed this item since, so yours can no longer be undone."
    )
    expect(page.locator("#item")).to_have_text(second)
    wait_ahead(page)
    page.keyboard.press("d")
    wait_for_item(page, second)
    wait_saved(page, 2)
    expect(banner).to_be_hidden()  # the old page kept it under every item after


def test_a_refusal_that_comes_after_the_worker_moved_on_leaves_the_new_item_alone(page: Any) -> None:
    """Wendy presses Undo, then answers the item on screen before the refusal comes back: the
    refusal is about the item before, so the item now on screen shows no banner, and her new
    answer is still offered for undo."""
    wendy = arrange(WorkerFactory, username="wendy-moved-on")
    walter = arrange(WorkerFactory, username="walter-then")
    job = arrange(open_job_with_items, items=4, overlap=2, title="Moved on")
    held: list[tuple[Any, Any]] = []

    def hold_undo(route: Any) -> None:
        held.append((route, route.fetch()))  # the server refused it; the page hears later
        page.evaluate("() => { window.undoHeld = true; }")

    page.route("**/work/judgments/*/undo/", hold_undo)
    _, second = answer_first_item(page, wendy, job)
    wait_ahead(page)
    arrange(_answer_her_last_item, walter, wendy)

    page.locator("#undo").click()
    page.wait_for_function("() => window.undoHeld === true")
    page.keyboard.press("d")  # she moves on: the item after shows at once
    third = wait_for_item(page, second)
    wait_saved(page, 2)
    route, reply = held[0]
    route.fulfill(response=reply)

    expect(page.locator("#announcer")).to_contain_text("Not undone")  # said, for a screen reader
    expect(page.locator("#feedback")).to_be_hidden()  # the old page put it over the third item
    expect(page.locator("#item")).to_have_text(third)
    expect(page.locator("#undo")).to_be_visible()  # her new answer's offer stands


def test_missed_check_item_feedback_names_that_item_offers_no_undo_and_links_its_appeal(page: Any) -> None:
    """Feedback arrives with the next item on screen: it names the missed item, Undo (always
    refused once the right label was shown) is not offered, and the appeal is one click away."""
    wendy = arrange(WorkerFactory, username="wendy-missed")
    # Gold comes at random (half the claims once a regular item is answered): with 30 regular
    # items the walk meets one before regular work runs out, but for a chance of 2**-29.
    job = arrange(open_job_with_items, items=30, gold=8, gold_rate=Decimal("0.5"), overlap=1,
                  quality_rules={"gold_feedback": True}, title="Animals, checked")
    log_in(page, wendy.username, PASSWORD)
    page.goto(f"/work/jobs/{job.pk}/label/")
    feedback, shown, missed = page.locator("#feedback"), None, None
    for answered in range(1, 31):
        shown = wait_for_item(page, shown)
        wait_ahead(page)
        page.keyboard.press("d")  # every gold answer is cat
        wait_saved(page, answered)
        if feedback.is_visible():
            missed = shown
            break
    assert missed is not None, "no check item came"
    expect(feedback).to_contain_text(f"Check item missed (the item before: “{missed}”)")
    expect(page.locator("#undo")).to_be_hidden()
    appeal = feedback.get_by_role("link", name="Think the check item is wrong? Appeal")
    judgment = arrange(lambda: Judgment.objects.filter(worker=wendy, is_gold=True).get().pk)
    appeal.click()
    expect(page.locator(f'input[name="subject"][value="gold:{judgment}"]')).to_be_checked()
