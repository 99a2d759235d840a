"""The labeling page when the item left for the worker is held by another worker's answer this
moment: the server says `busy` (not "nothing left"), and the page looks again until it is free.

Wendy is a worker; Acme's job has one item, whose row another transaction holds locked (as a
submit in flight does) when she opens the page.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from marketplace.jobs.models import Item
from tests.browser.conftest import arrange, log_in
from tests.browser.labeling import rows_locked, wait_for_item
from tests.factories import PASSWORD, WorkerFactory, open_job_with_items


def test_the_page_looks_again_while_the_item_left_is_held_and_shows_it_once_free(page: Any) -> None:
    wendy = arrange(WorkerFactory, username="wendy-busy")
    job = arrange(open_job_with_items, items=1, overlap=1, title="One item, held a moment")
    item = arrange(lambda: Item.objects.get(job=job))
    log_in(page, wendy.username, PASSWORD)

    with rows_locked([item.pk]):
        page.goto(f"/work/jobs/{job.pk}/label/")
        # Not the end of the job: the page says it is looking again, and keeps looking.
        expect(page.locator("#empty-message")).to_contain_text("Looking again")
        expect(page.locator("#labeler[data-waiting='busy']")).to_be_attached()
    # Once the other transaction has committed, the next look brings the item.
    assert wait_for_item(page, None) == item.data["text"]
    expect(page.locator("#empty")).to_be_hidden()
