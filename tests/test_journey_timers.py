"""The embedded server's own timers do the scheduled part of a job's life, with nobody calling a
tick: one daphne with QUORUM_TASKS=thread (what `make demo` and a one-process deployment run),
driven only over HTTP as the README's API quick start drives it.

Maya signs up a client organization and registers a webhook receiver; Ada, an admin, records
Maya's payment; Maya posts a job with gold and publishes it; three workers sign up and label it
to the end. Then the server alone must: settle the job and post job.completed (again after the
receiver's first answer, a 500) and job.consensus_ready (the notifications sweep), and release
the workers' pay once the hold (0 days here) is over (the earnings-release timer), so that a
worker's payout request is batched, approved, exported and marked paid. Nothing released
earnings once, and no test saw it: this one waits for the release as a worker does, by asking.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from marketplace.billing.audit import ledger_audit
from tests.factories import PASSWORD, AdminFactory
from tests.live_server import daphne
from tests.notifications.receiver import Receiver, receiving

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

# The release timer's shortest period is a minute (QUORUM_EARNINGS_RELEASE_MINUTES=1); its first
# tick runs at the server's first request, before anyone earned, so the pay waits for the second.
RELEASE_WAIT = 150.0
TIMERS = {
    "QUORUM_TASKS": "thread", "QUORUM_EARNINGS_HOLD_DAYS": "0", "QUORUM_EARNINGS_RELEASE_MINUTES": "1",
    "QUORUM_PAY_POST_SECONDS": "1", "QUORUM_JOB_COMPLETION_SWEEP_SECONDS": "2",
    "QUORUM_CONSENSUS_SWEEP_SECONDS": "2", "QUORUM_NOTIFICATIONS_SWEEP_SECONDS": "1",
    "QUORUM_MIN_PAYOUT": "0.10", "QUORUM_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
    "QUORUM_WEBHOOK_RETRY_BASE_SECONDS": "1",
}
ITEMS = 6
OVERLAP = 2


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with daphne(tmp_path / "daphne.log", **TIMERS) as url:
        yield f"{url}/api/v1"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as hooks:
        yield hooks


def _wait_for(what: str, found: Callable[[], Any], seconds: float) -> Any:
    """`found()` once it is truthy; fail naming `what` if it never is within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.5)  # polled as a user reloading would; the deadline is the bound
    raise AssertionError(f"never happened within {seconds:.0f} s: {what}")


def _sign_up(api: httpx.Client, username: str, **extra: str) -> dict[str, str]:
    answer = api.post("/auth/signup/", json={"username": username, "password": PASSWORD, **extra})
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def _label_until_no_work(api: httpx.Client, worker: dict[str, str], job: int, label: str) -> int:
    """The quick start's worker loop: take an item, submit with "next" until none is left."""
    taken = api.post("/work/next/", headers=worker, json={"job": job})
    if taken.status_code == 404:
        return 0
    assert taken.status_code in (200, 201), taken.text
    lease: dict[str, Any] | None = taken.json()
    answered = 0
    while lease:
        done = api.post(f"/work/leases/{lease['lease']}/submit/", headers=worker,
                        json={"label": label, "next": True})
        assert done.status_code in (200, 201), done.text
        answered += 1
        lease = done.json()["next"]
    return answered


def _money(api: httpx.Client, worker: dict[str, str]) -> dict[str, Decimal]:
    body = api.get("/me/earnings/", headers=worker).json()
    return {key: Decimal(body[key]) for key in ("pending", "available", "in_flight", "paid")}


def test_the_servers_own_timers_settle_announce_and_release_pay_that_is_then_paid_out(
    server: str, receiver: Receiver
) -> None:
    walk_a_job_to_a_payout(server, receiver)


def walk_a_job_to_a_payout(server: str, receiver: Receiver) -> None:
    """The journey above against the API at `server`, whatever runs its scheduled work."""
    AdminFactory(username="ada")
    with httpx.Client(base_url=server, timeout=60) as api:
        maya = _sign_up(api, "maya", role="client", organization="Maya Labs")
        organization = api.get("/me/", headers=maya).json()["organization"]["id"]
        admin = {"Authorization": "Bearer " + api.post(
            "/auth/token/", json={"username": "ada", "password": PASSWORD}).json()["token"]}
        hook = api.post("/webhooks/", headers=maya, json={
            "url": receiver.url, "events": ["job.completed", "job.consensus_ready"]})
        assert hook.status_code == 201, hook.text
        receiver.answers.append((500, {}))  # the receiver's first answer fails: the sweep must retry

        job = api.post("/jobs/", headers=maya, json={
            "title": "Animals", "labels": [{"key": "cat"}, {"key": "dog"}], "overlap": OVERLAP}).json()["id"]
        items = "external_id,text\n" + "".join(f"a{n},thing {n}\n" for n in range(ITEMS))
        assert api.post(f"/jobs/{job}/items/", headers={**maya, "Content-Type": "text/csv"},
                        content=items).status_code == 201
        gold = "external_id,text,label,explanation\ng1,meows,cat,It meows.\n"
        assert api.post(f"/jobs/{job}/gold/", headers={**maya, "Content-Type": "text/csv"},
                        content=gold).status_code == 201
        assert api.post(f"/jobs/{job}/publish/", headers=maya).status_code == 402  # nothing paid in yet
        topup = api.post("/admin/topups/", headers=admin, json={
            "organization": organization, "amount": "20.00", "payment_reference": "wire-1"})
        assert topup.status_code == 201, topup.text
        published = api.post(f"/jobs/{job}/publish/", headers=maya)
        assert published.status_code == 200 and published.json()["status"] == "open", published.text
        pay = Decimal(published.json()["reward_per_judgment"])

        crowd = [_sign_up(api, f"crowd{n}", role="worker") for n in range(3)]
        answered = [_label_until_no_work(api, worker, job, "cat") for worker in crowd]
        assert api.get(f"/jobs/{job}/", headers=maya).json()["status"] == "completed"

        # The notifications sweep posts the settled completion, retries it after the receiver's
        # 500, and posts the final results.
        def sent(event: str) -> list[bytes]:
            return [r.body for r in receiver.requests if r.headers.get("quorum-event") == event]

        _wait_for("job.completed was retried after the 500 and job.consensus_ready was posted",
                  lambda: len(sent("job.completed")) == 2 and sent("job.consensus_ready"), 60)
        assert all(b'"settlement"' in body for body in sent("job.completed"))
        invoice = api.get(f"/jobs/{job}/invoice/", headers=maya).json()
        assert invoice["status"] == "final" and invoice["lines"][0]["items_charged"] == ITEMS

        # The release timer makes every worker's pay payable; nobody asked it to.
        busiest = max(range(3), key=lambda n: answered[n])
        worker, owed = crowd[busiest], answered[busiest] * pay
        assert owed >= Decimal("0.10")  # above the minimum payout, or the request below is refused
        _wait_for("the worker's pay became available",
                  lambda: _money(api, worker)["available"] == owed, RELEASE_WAIT)
        assert all(_money(api, w)["pending"] == 0 for w in crowd)

        requested = api.post("/me/payouts/", headers=worker, json={"amount": str(owed)})
        assert requested.status_code == 201, requested.text
        batch = api.post("/admin/payout-batches/", headers=admin).json()
        base = f"/admin/payout-batches/{batch['id']}"
        assert api.post(f"{base}/approve/", headers=admin).json()["status"] == "approved"
        rows = list(csv.DictReader(io.StringIO(api.post(f"{base}/export/", headers=admin).text)))
        assert [Decimal(row["amount"]) for row in rows] == [owed]
        assert api.post(f"{base}/paid/", headers=admin).json()["status"] == "paid"
        assert _money(api, worker) == {"pending": 0, "available": 0, "in_flight": 0, "paid": owed}
    assert ledger_audit().violations == []
