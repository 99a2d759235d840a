"""The data browser in a real browser: Alice's job has its judged items done (i0..i5, three
judgments each, a consensus run; i6 and i7 wait, so the job is still open). She filters it to its
least confident items, opens one, sends the whole filter back for two more judgments (the page says
what that holds first), watches the new judgments arrive while two new workers label through the
work API, and downloads the filtered CSV. Screenshots go to var/screenshots/.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import httpx

from marketplace.accounts.models import User
from marketplace.accounts.services import token_create
from marketplace.jobs.models import Item
from marketplace.labeling.models import Lease
from marketplace.quality.models import ItemResult
from tests.browser.conftest import arrange, log_in, screenshot
from tests.factories import PASSWORD, WorkerFactory, fund
from tests.quality.browse_helpers import browsed_job


def _worker_token(name: str) -> str:
    return token_create(user=WorkerFactory(username=name), name="browser")[1]


def _label_through_the_api(base: str, token: str, job_id: int, count: int) -> list[int]:
    """A worker takes and submits `count` items of the job over HTTP, as any client of the API;
    returns the items' ids, looked up by lease (a worker is never told them)."""
    headers = {"Authorization": f"Bearer {token}"}
    done = []
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        for _ in range(count):
            lease = http.post("/api/v1/work/next/", json={"job": job_id})
            lease.raise_for_status()
            body = lease.json()
            http.post(f"/api/v1/work/leases/{body['lease']}/submit/", json={"label": "cat"}).raise_for_status()
            done.append(body["lease"])
    return list(Lease.objects.filter(pk__in=done).values_list("item_id", flat=True))


def test_a_client_sends_her_least_confident_items_back_and_watches_the_judgments_arrive(
    page: Any, alice: User, live_url: str, tmp_path: Path
) -> None:
    job = arrange(browsed_job, organization=alice.organization, title="Animals, batch 7")
    arrange(fund, alice.organization, "20.00")
    # The three least confident items the run labelled, and a threshold that takes exactly them.
    results = sorted(ItemResult.objects.filter(item__job=job).values_list("confidence", "item_id"))
    low = [item_id for _, item_id in results[:3]]
    threshold = f"{results[2][0]:.6f}"
    assert results[3][0] > float(threshold), "the run gave two items the same confidence"

    log_in(page, "alice", PASSWORD)
    page.goto(f"/portal/jobs/{job.pk}/")
    page.get_by_role("link", name="Browse data").click()
    page.wait_for_url(re.compile(rf"/portal/jobs/{job.pk}/data/$"))
    page.get_by_label("to", exact=True).fill(threshold)
    page.get_by_label("Sort").select_option("confidence")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"confidence_max="))
    rows = page.locator("tr[data-item]")
    assert sorted(int(rows.nth(k).get_attribute("data-item")) for k in range(rows.count())) == sorted(low)
    screenshot(page, "client-data-browser")

    # One item: every judgment under a pseudonym, the posterior of every label.
    page.locator(f'tr[data-item="{low[0]}"] a').first.click()
    page.get_by_role("heading", name=re.compile(rf"Item #{low[0]}")).wait_for()
    assert page.locator("[data-judgments] tbody tr").count() == 3
    assert page.locator("[data-posterior] tbody tr").count() == 3
    assert "crowd0" not in page.content()  # the workers' names never show
    screenshot(page, "client-data-item")
    page.get_by_role("link", name="Data", exact=True).click()
    page.wait_for_url(re.compile(r"confidence_max="))

    # The whole filter back for two more judgments each: first what it holds, then done.
    page.get_by_label("every item this filter shows").check()
    page.get_by_label("More judgments per item").fill("2")
    page.get_by_role("button", name="Ask for more judgments…").click()
    page.get_by_role("heading", name="Ask for 2 more judgments per item?").wait_for()
    hold = page.locator("[data-quote-hold]").inner_text()
    assert page.locator("[data-quote-items]").inner_text().startswith("3 ")
    page.get_by_role("button", name=f"Hold {hold} and reopen 3 items").click()
    page.get_by_text(f"3 items reopened for 2 more judgments each; {hold} moved into the job's escrow.").wait_for()
    assert set(Item.objects.filter(job=job, extra_judgments=2).values_list("pk", flat=True)) == set(low)

    # Two new workers label through the API; the table follows without a reload.
    page.wait_for_function("() => document.documentElement.dataset.live === 'open'")
    for name in ("newcomer1", "newcomer2"):
        labelled = _label_through_the_api(live_url, arrange(_worker_token, name), job.pk, 3)
        assert sorted(labelled) == sorted(low)  # reopened items are served first
    for item_id in low:
        page.locator(f'tr[data-item="{item_id}"] [data-cell="judgments"]').filter(
            has_text=re.compile(r"^5$")).wait_for()
    screenshot(page, "client-data-browser-more")

    # The CSV holds exactly the rows on show.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV of this filter").click()
    text = Path(download.value.path()).read_text()
    exported = [int(row["item_id"]) for row in csv.DictReader(io.StringIO(text))]
    shown = [int(rows.nth(k).get_attribute("data-item")) for k in range(rows.count())]
    assert exported == shown


def test_the_data_page_says_live_only_once_the_server_answered_its_job_subscription(
    page: Any, alice: User, live_url: str
) -> None:
    """The page subscribes to its job as the socket opens; "live" before the server's answer would
    let a page (or a test) act on a feed that is not there yet."""
    job = arrange(browsed_job, organization=alice.organization, title="Animals, batch 8")
    page.add_init_script("""
        window.liveOrder = [];
        document.addEventListener("quorum:subscribed", () => window.liveOrder.push("subscribed"));
        document.addEventListener("quorum:live", (e) => window.liveOrder.push(e.detail.state));
    """)
    log_in(page, "alice", PASSWORD)
    page.goto(f"/portal/jobs/{job.pk}/data/")
    page.wait_for_function("() => document.documentElement.dataset.live === 'open'")
    assert page.evaluate("window.liveOrder") == ["connecting", "subscribed", "open"]
