"""Steps on the labeling page that several browser tests take: wait for what the worker waits
for (the next item, "Saved", the item after it fetched ahead), the walk to a first answer, and
items held locked the way a concurrent claim or submit holds them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from django.db import connections, transaction
from playwright.sync_api import expect

from marketplace.accounts.models import User
from marketplace.jobs.models import Item, Job
from tests.browser.conftest import log_in
from tests.factories import PASSWORD
from tests.threads import WAIT


def item_text(page: Any) -> str:
    return page.evaluate("document.querySelector('#item').textContent")


def wait_for_item(page: Any, previous: str | None) -> str:
    """Until an item other than `previous` is on screen and the buttons are live again."""
    page.wait_for_function(
        """previous => {
            const item = document.querySelector('#item');
            const button = document.querySelector('button.choice');
            return item.getAttribute('aria-busy') === 'false' && button.getAttribute('aria-disabled') === 'false'
                && item.textContent !== previous;
        }""",
        arg=previous,
    )
    return item_text(page)


def wait_saved(page: Any, answered: int) -> None:
    """Until the page acknowledges `answered` answers: the counter shows them and "Saved" says
    none is still on its way to the server."""
    expect(page.locator("#done-count")).to_have_text(str(answered))
    expect(page.locator("#save-state")).to_have_text("Saved")


def wait_ahead(page: Any) -> None:
    """Until the item after the one on screen has arrived (what a person's reading time covers)."""
    page.locator('#labeler[data-ahead="ready"]').wait_for(state="attached")


def answer_first_item(page: Any, worker: User, job: Job, key: str = "d") -> tuple[str, str]:
    """`worker` logs in, opens the job's labeling page and answers its first item with `key`
    once the item after it has arrived; returns (the answered item, the one now on screen),
    with the answer saved."""
    log_in(page, worker.username, PASSWORD)
    page.goto(f"/work/jobs/{job.pk}/label/")
    first = wait_for_item(page, None)
    wait_ahead(page)
    page.keyboard.press(key)
    second = wait_for_item(page, first)
    wait_saved(page, 1)
    return first, second


@contextmanager
def rows_locked(item_ids: list[int]) -> Iterator[None]:
    """Hold these items' rows locked, in a transaction of another connection, while the block
    runs: what the server's claim of an item fetched ahead does while it is still running (its
    candidate query takes the row FOR UPDATE), so any other claim passes the item over."""
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                list(Item.objects.select_for_update().filter(pk__in=item_ids))
                locked.set()
                release.wait(WAIT)
        finally:
            locked.set()  # also when the lock failed: its error is raised below
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="locker") as pool:
        holding = pool.submit(hold)
        try:
            locked.wait(WAIT)
            if holding.done():
                holding.result()
            yield
        finally:
            release.set()
            holding.result()
