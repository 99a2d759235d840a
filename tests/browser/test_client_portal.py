"""A client's day in a real browser: Alice (Acme, funded) logs in, creates a job in the wizard —
labels with shortcuts, instructions with a live preview, a CSV upload that is refused line by
line first and accepted once fixed — compares the tiers' quotes, publishes, and lands on the
job page; then the dashboard and billing. Screenshots go to var/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from marketplace.accounts.models import User
from marketplace.jobs.models import Job, JobStatus
from marketplace.jobs.services import ItemRow, item_bulk_create, job_create
from tests.browser.conftest import arrange, log_in, screenshot
from tests.factories import PASSWORD, fund, open_job_with_items

BAD_CSV = "external_id,text\np1,A cat on a mat\np2,too,many,fields\np3,\n"
GOOD_CSV = "external_id,text\np1,A cat on a mat\np2,A dog in the fog\np3,A bird on a wire\np4,Two cats\n"


def test_a_client_creates_compares_quotes_and_publishes_a_job(page: Any, alice: User, tmp_path: Path) -> None:
    arrange(fund, alice.organization, "100.00")
    # An earlier job, so the dashboard has something running beside the new one.
    arrange(open_job_with_items, items=20, organization=alice.organization,
            title="Product photos, batch 1")
    bad, good = tmp_path / "items-bad.csv", tmp_path / "items.csv"
    bad.write_text(BAD_CSV)
    good.write_text(GOOD_CSV)

    log_in(page, "alice", PASSWORD)
    page.goto("/portal/jobs/")
    page.get_by_role("link", name="+ New job").click()
    page.wait_for_url(re.compile(r"/portal/jobs/new/$"))

    # Details, labels (keys and shortcuts are suggested from the names), instructions.
    page.get_by_label("Title").fill("Which animal is it?")
    page.get_by_label("Label 1 name").fill("Cat")
    page.get_by_label("Label 2 name").fill("Dog")
    page.get_by_role("button", name="+ Add a label").click()
    page.get_by_label("Label 5 name").fill("Bird")
    assert page.get_by_label("Label 1 key").get_attribute("placeholder") == "cat"  # derived when saved
    assert page.get_by_label("Label 1 shortcut").get_attribute("placeholder") == "c"
    page.get_by_label("Instructions", exact=True).fill("Pick **the animal** you see.\n\n<script>alert(1)</script>")
    preview = page.locator("#instructions-preview")
    preview.locator("strong", has_text="the animal").wait_for()
    assert preview.locator("script").count() == 0
    page.get_by_role("button", name="Save and continue to items →").click()
    page.wait_for_url(re.compile(r"/setup/items/$"))

    # A bad file first: every bad line is named, nothing is imported.
    page.get_by_label("Items file").set_input_files(str(bad))
    page.get_by_role("button", name="Upload").click()
    errors = page.locator(".import-errors")
    errors.wait_for()
    assert "line 3" in errors.inner_text() and "expected 2 fields, found 4" in errors.inner_text()
    assert "line 4" in errors.inner_text()
    assert page.get_by_test_id("item-count").inner_text() == "0"

    page.get_by_label("Items file").set_input_files(str(good))
    page.get_by_role("button", name="Upload").click()
    page.get_by_text("Imported 4 items.").wait_for()
    assert page.get_by_test_id("item-count").inner_text() == "4"
    page.get_by_role("link", name="Continue to gold →").click()
    page.get_by_role("link", name="Skip gold, continue →").click()
    page.wait_for_url(re.compile(r"/setup/publish/$"))

    # The quotes, side by side.
    cards = page.locator(".tier-card")
    assert cards.count() == 3
    for name in ("Economy", "Standard", "Premium"):
        card = cards.filter(has_text=name)
        for fact in ("Expected judgments", "Expected accuracy", "Expected time"):
            assert fact.lower() in card.inner_text().lower()  # dt labels are shown upper-case
    assert cards.filter(has_text="Premium").locator("[data-field=price]").inner_text() == "$1.80"
    screenshot(page, "client-wizard-quotes")
    page.locator("#tier-standard").check()
    page.get_by_role("button", name="Publish job").click()

    page.wait_for_url(re.compile(r"/portal/jobs/\d+/$"))
    job = Job.objects.get(organization=alice.organization, title="Which animal is it?")
    assert job.status == JobStatus.OPEN and job.tier == "standard" and job.item_count == 4
    assert page.get_by_role("heading", level=1).inner_text().startswith("Which animal is it?")
    assert page.locator(f'[data-job="{job.pk}"][data-field="items_total"]').first.inner_text() == "4"
    assert page.get_by_text("Published on the Standard tier").is_visible()
    screenshot(page, "client-job-page")

    page.get_by_role("link", name="Jobs", exact=True).first.click()
    page.wait_for_url(re.compile(r"/portal/jobs/$"))
    assert page.locator(".jobs-table tbody tr").count() == 2
    screenshot(page, "client-dashboard")

    page.goto("/portal/billing/")
    assert page.get_by_test_id("balance").inner_text() == "$97.60"  # 100 − 2.00 − 0.40 escrowed
    screenshot(page, "client-billing")


def test_publishing_beyond_the_balance_names_the_missing_amount(page: Any, alice: User) -> None:
    job = arrange(job_create, user=alice, fields={"title": "Big job", "labels": ["cat", "dog"]})
    rows = [ItemRow(data={"text": f"item {i}"}) for i in range(10)]
    arrange(item_bulk_create, job=job, rows=rows, gold=False)
    log_in(page, "alice", PASSWORD)
    page.goto(f"/portal/jobs/{job.pk}/setup/publish/")
    page.locator("#tier-premium").check()
    page.get_by_role("button", name="Publish job").click()
    alert = page.locator(".form-alert.funds")
    alert.wait_for()
    assert "4.50 is missing" in alert.inner_text().replace("\n", " ")
    assert alert.get_by_role("link", name=re.compile("Go to billing")).get_attribute("href") == "/portal/billing/"


def test_cancel_job_leads_to_the_page_that_says_what_is_charged_and_refunded(page: Any, alice: User) -> None:
    """With JavaScript on, "Cancel job…" once asked confirm() and cancelled at once; now the
    server's confirmation page, with the money, comes first, as without JavaScript."""
    job = arrange(open_job_with_items, items=4, organization=alice.organization, title="Pets to cancel")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, "alice", PASSWORD)
    page.goto(f"/portal/jobs/{job.pk}/")
    page.get_by_role("link", name="Cancel job…").click()
    expect(page).to_have_url(re.compile(rf"/portal/jobs/{job.pk}/cancel/$"))
    expect(page.get_by_text("You are charged")).to_be_visible()
    expect(page.get_by_text("Back to your balance")).to_be_visible()
    assert dialogs == [] and Job.objects.get(pk=job.pk).status == JobStatus.OPEN
    page.get_by_role("button", name="Yes, cancel the job").click()
    page.wait_for_url(re.compile(rf"/portal/jobs/{job.pk}/$"))
    expect(page.get_by_text("Cancelled. Completed items are charged")).to_be_visible()
    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED
