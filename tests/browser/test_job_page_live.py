"""Issue 14, must-show 2: Alice keeps her job's page open while a crowd works. Every figure on it
(progress, judgments, items being labeled, throughput, paid to workers, left in escrow, charged so
far) changes without a reload, and when a consensus run finishes the charts redraw: the label
distribution switches from raw votes to consensus labels, the confusion heat map appears and the
accuracy tile names the run. Screenshots go to var/screenshots/.

The crowd works through the work API and the run is started from the portal (Alice's second
window): the live server runs the in-memory channel layer (tests/live_server.py), so only writes
made in the server process reach the page's socket.
"""

from __future__ import annotations

from typing import Any

import httpx

from marketplace.accounts.models import User
from marketplace.accounts.services import token_create
from marketplace.jobs.models import Job
from marketplace.quality.estimate import jobs_accuracy_estimates
from marketplace.quality.models import ConsensusRun
from tests.browser.conftest import arrange, log_in, screenshot
from tests.factories import PASSWORD, WorkerFactory, open_job_with_items

FIGURES = "[data-job-figures]"
# Each figure a person reads on the page, by where it sits in the live container.
WATCHED = {
    "progress": f"{FIGURES} .stat-progress .value [data-field=percent]",
    "judgments": f"{FIGURES} [data-field=judgments]",
    "items in progress": f"{FIGURES} [data-figure=in-progress]",
    "throughput": f"{FIGURES} [data-figure=throughput]",
    "paid to workers": f"{FIGURES} [data-figure=paid]",
    "left in escrow": f"{FIGURES} [data-figure=escrow]",
    "charged so far": f"{FIGURES} [data-field=spent]",
}
CHANGED = "([selector, before]) => { const el = document.querySelector(selector); " \
          "return el !== null && el.textContent.trim() !== before; }"


def _worker_token(name: str) -> str:
    return token_create(user=WorkerFactory(username=name), name="browser")[1]


def _crowd_works(base: str, job: Job, tokens: list[str]) -> None:
    """Over HTTP, as any client of the work API: the first workers each label two items (six
    judgments, overlap 3, so items complete), the last one takes an item and keeps it (being
    labeled now)."""
    for k, token in enumerate(tokens):
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            for label in ([] if k == len(tokens) - 1 else ["cat", "dog"]):
                lease = http.post("/api/v1/work/next/", json={"job": job.pk})
                lease.raise_for_status()
                http.post(f"/api/v1/work/leases/{lease.json()['lease']}/submit/",
                          json={"label": label}).raise_for_status()
            if k == len(tokens) - 1:
                http.post("/api/v1/work/next/", json={"job": job.pk}).raise_for_status()


def test_every_figure_moves_while_the_crowd_works_and_the_charts_redraw_after_consensus(
    new_page: Any, alice: User, live_url: str
) -> None:
    job = arrange(open_job_with_items, items=6, overlap=3, organization=alice.organization,
                  title="Pets, live")
    tokens = [arrange(_worker_token, f"crowd{k}") for k in range(4)]
    page = new_page()
    log_in(page, "alice", PASSWORD)
    page.goto(f"/portal/jobs/{job.pk}/")
    page.wait_for_function("() => document.documentElement.dataset.live === 'open'")
    page.evaluate("() => { window.stillTheSamePage = true; }")  # a reload would drop it
    before = {name: page.locator(selector).inner_text().strip() for name, selector in WATCHED.items()}
    assert before["progress"] == "0.0%" and before["judgments"] == "0" and before["paid to workers"] == "$0.00"
    assert page.locator(f"{FIGURES} [data-chart=confusion]").count() == 0
    assert page.locator(f"{FIGURES} [data-chart=distribution]").get_attribute("data-source") == "votes"

    _crowd_works(live_url, job, tokens)
    for name, selector in WATCHED.items():
        page.wait_for_function(CHANGED, arg=[selector, before[name]])
    after = {name: page.locator(selector).inner_text().strip() for name, selector in WATCHED.items()}
    # The last refresh lands the final state (the throttle's trailing fetch), not a middle one.
    page.locator(WATCHED["judgments"]).filter(has_text="6").wait_for()
    job.refresh_from_db()
    assert job.completed_item_count >= 1
    page.locator(WATCHED["progress"]).filter(has_text=f"{100 * job.completed_item_count / 6:.1f}%").wait_for()
    page.locator(WATCHED["items in progress"]).filter(has_text="1").wait_for()
    assert page.evaluate("() => window.stillTheSamePage") is True, "the page reloaded"
    assert after["throughput"] != "0" and after["paid to workers"] != "$0.00"
    screenshot(page, "client-job-page-live")

    refreshed = int(page.locator(FIGURES).get_attribute("data-refreshed"))
    # Alice starts a run from a second window; the first one is never touched.
    other = new_page()
    log_in(other, "alice", PASSWORD)
    other.goto(f"/portal/jobs/{job.pk}/")
    other.get_by_role("button", name="Run consensus now").click()
    other.get_by_text("finished.").wait_for()
    run = ConsensusRun.objects.filter(job_id=job.pk).latest("id")
    assert run.status == ConsensusRun.Status.SUCCEEDED
    page.locator(f"{FIGURES} [data-chart=distribution][data-source=consensus]").wait_for()
    page.locator(f"{FIGURES} [data-chart=confusion] svg.heatmap").wait_for()
    page.get_by_text(f"consensus run #{run.pk},").wait_for()
    # The headline the live event wrote and the one the page computes agree (quality/estimate.py):
    # a job without gold shows the model's own estimate, said to be one, with no interval.
    figure = jobs_accuracy_estimates(job_ids=[job.pk])[job.pk]
    assert figure.basis == "model" and figure.accuracy is not None
    page.locator('[data-consensus="estimated_accuracy"]').filter(has_text=f"{100 * figure.accuracy:.1f}%").wait_for()
    page.get_by_text("The consensus model's own estimate, not measured").wait_for()
    assert page.locator(f"{FIGURES} [data-figure=accuracy-interval]").count() == 0
    assert int(page.locator(FIGURES).get_attribute("data-refreshed")) > refreshed
    assert page.evaluate("() => window.stillTheSamePage") is True, "the page reloaded"
    assert page.get_by_text("reload to redraw").count() == 0
    screenshot(page, "client-job-page-after-consensus")


def test_the_controls_follow_the_status_without_a_reload(new_page: Any, alice: User, live_url: str) -> None:
    """Alice pauses the job in a second window: the first one's Pause becomes Resume, and Resume
    there brings Pause back (issue 14: the buttons needed a reload)."""
    job = arrange(open_job_with_items, items=4, organization=alice.organization, title="Pets, controls")
    page = new_page()
    log_in(page, "alice", PASSWORD)
    page.goto(f"/portal/jobs/{job.pk}/")
    page.wait_for_function("() => document.documentElement.dataset.live === 'open'")
    page.evaluate("() => { window.stillTheSamePage = true; }")
    actions = page.locator("[data-job-actions]")
    actions.get_by_role("button", name="Pause").wait_for()

    other = new_page()
    log_in(other, "alice", PASSWORD)
    other.goto(f"/portal/jobs/{job.pk}/")
    other.get_by_role("button", name="Pause").click()
    other.get_by_text("Paused.").wait_for()

    page.locator("[data-job-actions][data-status=paused]").wait_for()
    actions.get_by_role("button", name="Resume").wait_for()
    assert actions.get_by_role("button", name="Pause").count() == 0
    page.get_by_text("The job is now paused.").wait_for()
    actions.get_by_role("button", name="Resume").click()  # a real form post: this page reloads
    page.get_by_text("Resumed.").wait_for()
    page.locator("[data-job-actions]").get_by_role("button", name="Pause").wait_for()


def test_an_admin_watching_a_clients_job_page_sees_it_move(
    new_page: Any, alice: User, ada: User, live_url: str
) -> None:
    """A staff look follows the job on the staff socket (the client socket refuses admins): the
    page says live once the job's feed is joined, and a worker's judgment moves its figures."""
    job = arrange(open_job_with_items, items=4, organization=alice.organization, title="Pets, watched")
    token = arrange(_worker_token, "watched-worker")
    page = new_page()
    log_in(page, "ada", PASSWORD)
    page.goto(f"/portal/jobs/{job.pk}/")
    page.wait_for_function("() => document.documentElement.dataset.live === 'open'")
    before = page.locator(WATCHED["judgments"]).inner_text().strip()
    with httpx.Client(base_url=live_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        lease = http.post("/api/v1/work/next/", json={"job": job.pk})
        lease.raise_for_status()
        http.post(f"/api/v1/work/leases/{lease.json()['lease']}/submit/", json={"label": "cat"}).raise_for_status()
    page.wait_for_function(CHANGED, arg=[WATCHED["judgments"], before])
