"""Browser: Ada, an admin, reviews worker quality and blocks a bad worker from the review page.

The crowd labels one gold-mixed job through the real claim and submit flow: Goodwin and Grace
answer gold well, Sam is middling, Mallory misses most gold items (not yet enough gold answers
for the automatic rule to block her). A consensus run gives everyone a Dawid-Skene figure, and
the workers ask for payouts so the payouts page has something to review.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.utils import timezone
from playwright.sync_api import expect

from marketplace.billing.payouts import earnings_release, payout_request
from marketplace.billing.selectors import worker_money
from marketplace.labeling.models import JobBlock, Judgment, JudgmentStatus
from marketplace.quality.models import QualityEvent
from marketplace.quality.runs import consensus_run
from tests.browser.conftest import arrange, log_in, screenshot
from tests.factories import PASSWORD, AdminFactory, WorkerFactory
from tests.quality.worker_helpers import answer_gold, gold_job

ARIA_SORT = "(order) => document.querySelector('th[data-sort-key=accuracy]').getAttribute('aria-sort') === order"


def _crowd(settings: Any) -> tuple[Any, Any]:
    job = gold_job(title="Animals in photos")
    plan = {"goodwin": (9, 0, "7"), "grace": (8, 1, "5"), "sam": (5, 4, "3"), "mallory": (1, 8, "1")}
    workers = {}
    for name, (right, wrong, seconds) in plan.items():
        workers[name] = WorkerFactory(username=name)
        answer_gold(workers[name], job, right=right, wrong=wrong, seconds=seconds,
                    regular="dog" if name == "mallory" else "cat")
    assert consensus_run(job=job).status == "succeeded"
    settings.QUORUM_MIN_PAYOUT = "0.01"  # small sums, so everyone can ask for a payout
    earnings_release(now=timezone.now() + timedelta(days=8))
    for worker in workers.values():
        available = worker_money(worker=worker).available
        if available > 0:
            payout_request(worker=worker, amount=available)
    return job, workers["mallory"]


def test_an_admin_blocks_a_bad_worker_from_the_review_page(page: Any, settings: Any) -> None:
    job, mallory = arrange(_crowd, settings)
    arrange(AdminFactory, username="ada")
    log_in(page, "ada", PASSWORD)

    page.goto("/staff/workers/")
    table = page.locator("#workers-table")
    rows = table.locator("tbody tr")
    assert rows.count() == 4, page.content()[:3000]
    assert rows.first.locator("td").first.inner_text() == "mallory"  # worst gold accuracy first

    # Sort by accuracy: the first click on the sorted column reverses it (best first), the next
    # restores worst first. The address follows, so a reload keeps the order.
    accuracy = table.get_by_role("link", name=re.compile("Gold accuracy"))
    accuracy.click()
    page.wait_for_function(ARIA_SORT, arg="descending")
    assert rows.first.locator("td").first.inner_text() == "goodwin"
    assert "sort=-accuracy" in page.url
    accuracy.click()
    page.wait_for_function(ARIA_SORT, arg="ascending")
    assert rows.first.locator("td").first.inner_text() == "mallory"
    screenshot(page, "staff-workers")

    rows.first.get_by_role("link", name="mallory").click()
    page.wait_for_url(f"**/staff/workers/{mallory.pk}/")
    assert page.locator("svg.chart.heatmap").count() == 1
    assert page.locator(".gold-history tbody tr.wrong").count() == 8

    page.get_by_label("Block from").select_option(str(job.pk))
    page.get_by_label("Reason").first.fill("8 of 9 gold answers wrong, answering in 1 s")
    page.get_by_label(re.compile("I understand")).check()
    page.get_by_role("button", name="Block worker").click()
    # The page the server answers with (the form's page stays until then).
    expect(page.locator(".messages")).to_contain_text("mallory is blocked from Animals in photos")
    assert "blocked" in page.locator("h1 .badge").inner_text()
    assert "8 of 9 gold answers wrong" in page.locator(".event-blocked").first.inner_text()
    screenshot(page, "staff-worker")

    assert JobBlock.objects.filter(job=job, worker=mallory).exists()
    assert not Judgment.objects.filter(job=job, worker=mallory, status=JudgmentStatus.ACCEPTED).exists()
    event = QualityEvent.objects.get(worker=mallory, kind=QualityEvent.Kind.BLOCKED)
    assert (event.reason, event.actor.username) == ("8 of 9 gold answers wrong, answering in 1 s", "ada")

    page.goto("/staff/workers/?status=blocked")
    assert page.locator("#workers-table tbody tr").count() == 1, page.content()[:4000]
    assert page.locator("#workers-table tbody tr td").first.inner_text() == "mallory"

    page.goto("/staff/payouts/")
    assert page.locator(".payout-rows tbody tr").count() >= 3
    screenshot(page, "staff-payouts")
    page.get_by_role("button", name=re.compile("Create a batch")).click()
    page.wait_for_url(re.compile(r"/staff/payouts/\d+/$"))
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("[data-batch-status]")).to_contain_text("Approved")
