"""A multi-label job in a real browser: Wendy ticks labels with the keyboard and sends each set
with Enter; Acme's client then downloads the items' label sets from the job page.

Wendy is a worker; the client is the one the factory's organization gets (made here).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from playwright.sync_api import expect

from marketplace.labeling.models import Judgment
from marketplace.quality.runs import consensus_run
from tests.browser.conftest import arrange, log_in
from tests.browser.labeling import wait_ahead, wait_for_item, wait_saved
from tests.factories import PASSWORD, ClientFactory, WorkerFactory, open_job_with_items

# Keys pressed per item ("c" cat, "d" dog, "b" bird), then Enter; "" sends the empty set.
PRESSES = ["cd", "b", "", "cdd"]  # the last ticks dog twice: ticked, then unticked
SENT = [["cat", "dog"], ["bird"], [], ["cat"]]


def test_a_worker_ticks_label_sets_with_the_keyboard_and_the_client_downloads_them(new_page: Any) -> None:
    wendy = arrange(WorkerFactory, username="wendy-multi")
    job = arrange(open_job_with_items, items=len(PRESSES), overlap=1, multi_label=True, title="Pets in photos")
    page = new_page()
    log_in(page, wendy.username, PASSWORD)
    page.goto(f"/work/jobs/{job.pk}/label/")
    shown = wait_for_item(page, None)
    seen = []
    for n, keys in enumerate(PRESSES):
        seen.append(shown)
        if n < len(PRESSES) - 1:
            wait_ahead(page)
        for key in keys:
            page.keyboard.press(key)
        expect(page.locator('button.choice[aria-pressed="true"]')).to_have_count(len(SENT[n]))
        page.keyboard.press("Enter")
        expect(page.locator("#sent-line")).to_have_text(
            "Previous item: sent " + (", ".join(label.capitalize() for label in SENT[n]) or "none"))
        if n < len(PRESSES) - 1:
            shown = wait_for_item(page, shown)
            expect(page.locator('button.choice[aria-pressed="true"]')).to_have_count(0)  # a fresh item
    wait_saved(page, len(PRESSES))
    judged = {j.item.data["text"]: j.labels for j in Judgment.objects.filter(worker=wendy).select_related("item")}
    assert judged == dict(zip(seen, SENT, strict=True))

    arrange(consensus_run, job=job)
    client = arrange(ClientFactory, username="acme-multi", organization=job.organization)
    buyer = new_page()
    log_in(buyer, client.username, PASSWORD)
    buyer.goto(f"/portal/jobs/{job.pk}/")
    buyer.get_by_text("Download results").click()
    with buyer.expect_download() as download:
        buyer.get_by_role("link", name="JSON", exact=True).click()
    rows = json.loads(open(download.value.path()).read())
    assert {row["data"]["text"]: row["consensus_labels"] for row in rows} == dict(zip(seen, SENT, strict=True))
    assert all(set(row["label_probabilities"]) == {"cat", "dog", "bird"} for row in rows)


def test_a_worker_who_misses_a_multi_label_check_item_reads_the_labels_decided_wrong(new_page: Any) -> None:
    walter = arrange(WorkerFactory, username="walter-multi")
    # Every gold set is {cat}; Walter ticks dog alone everywhere, so each check item is a miss.
    # Gold comes at random (half the claims once one regular item is answered): with 30 regular
    # items the walk below meets one before regular work runs out, but for a chance of 2**-29.
    job = arrange(open_job_with_items, items=30, gold=8, gold_rate=Decimal("0.5"), overlap=1, multi_label=True,
                  quality_rules={"gold_feedback": True}, title="Pets, checked")
    page = new_page()
    log_in(page, walter.username, PASSWORD)
    page.goto(f"/work/jobs/{job.pk}/label/")
    feedback, shown = page.locator("#feedback"), None
    for answered in range(1, 31):
        shown = wait_for_item(page, shown)
        page.locator('#labeler[data-ahead="ready"], #empty:not([hidden])').first.wait_for(state="attached")
        page.keyboard.press("d")
        page.keyboard.press("Enter")
        wait_saved(page, answered)
        if feedback.is_visible():
            break
    expect(feedback).to_contain_text("Wrong: Cat (should be ticked), Dog (should be unticked).")
