"""A worker on the work list hears of new work without reloading: Alice (Acme) publishes a job
through the API while Wendy looks at the list, and a notice names it and its pay
(static/js/work_list.js, on /ws/worker/). No test walked this path before.

The publish goes to the test server over HTTP, as a client's would: the server's channel layer is
its own, so only what happens in the server reaches its sockets."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from playwright.sync_api import expect

from marketplace.accounts.models import User
from marketplace.accounts.services import token_create
from marketplace.jobs.models import Job
from tests.browser.conftest import arrange, log_in
from tests.factories import PASSWORD, WorkerFactory, fund, open_job_with_items


def _draft_and_token(alice: User) -> tuple[Job, str]:
    """Alice's draft with three items, her organization funded for it, and an API token of hers."""
    job = open_job_with_items(items=3, organization=alice.organization, title="Owls at dusk", publish=False)
    fund(alice.organization, Decimal("100.00"))
    return job, token_create(user=alice, name="browser")[1]


def test_a_job_published_while_a_worker_looks_at_the_work_list_is_announced_there(
    page: Any, alice: User, live_url: str
) -> None:
    wendy = arrange(WorkerFactory, username="wendy-news")
    job, token = arrange(_draft_and_token, alice)
    log_in(page, wendy.username, PASSWORD)
    page.goto("/work/")
    expect(page.locator("html")).to_have_attribute("data-live", "open")  # the worker's socket is up
    expect(page.locator("#new-work")).to_be_hidden()

    with httpx.Client(base_url=live_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        http.post(f"/api/v1/jobs/{job.pk}/publish/").raise_for_status()

    expect(page.locator("#new-work")).to_be_visible()
    expect(page.locator("#new-work-text")).to_have_text(
        f"New work: Owls at dusk (pays {job.reward_per_judgment} per answer).")
