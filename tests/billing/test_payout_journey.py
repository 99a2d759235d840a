"""A worker's money from judgment to bank, through the real flow, schedule and API.

The cast: Wendy and Walter label an Acme job through the submit flow; Ada blocks Walter, so his
judgments are dropped and their pay withdrawn. Eight days pass; the release schedule's task
runs; Wendy asks for all she has; Ada batches, approves, exports and marks the batch paid.
Every figure is checked against a count of accepted judgments × the job's pay, not against the
ledger's own sums, and the audit must still pass at the end.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from marketplace import flows, tasking
from marketplace.accounts.models import Organization, User
from marketplace.billing import tasks  # noqa: F401 (registers the tasks beat schedules)
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import AccountKind, LedgerAccount
from marketplace.celery import app
from marketplace.labeling.models import Judgment, JudgmentStatus
from tests.billing.helpers import D, fund, published, work_through_flow

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _accepted_pay(worker: User, pay: D) -> D:
    """The independent figure: what the worker is owed, from the judgments alone."""
    return Judgment.objects.filter(worker=worker, status=JudgmentStatus.ACCEPTED).count() * pay


def _money(api: Any) -> dict[str, D]:
    body = api.get("/api/v1/me/earnings/").json()
    return {key: D(body[key]) for key in ("pending", "available", "in_flight", "paid")}


def test_earned_pay_is_released_on_schedule_requested_batched_approved_exported_and_paid(
    ada: User, acme: Organization, wendy: User, walter: User, client_for: Any, settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.QUORUM_MIN_PAYOUT = "0.10"
    monkeypatch.setattr(tasking, "close_old_connections", lambda: None)  # the test's connection
    fund(ada, acme, "10.00")
    job = published(acme, items=8, overlap=2, reward_per_judgment="0.05")
    pay = job.reward_per_judgment
    for _ in range(6):
        work_through_flow(wendy, job)
    for _ in range(3):
        work_through_flow(walter, job)
    flows.worker_block(job=job, worker=walter, reason="Answers without reading", actor=ada)
    owed = _accepted_pay(wendy, pay)
    assert owed == D("0.30") and _accepted_pay(walter, pay) == 0
    wendy_api, walter_api, admin_api = client_for(wendy), client_for(walter), client_for(ada)
    assert _money(wendy_api)["pending"] == owed and _money(walter_api)["pending"] == 0

    refused = wendy_api.post("/api/v1/me/payouts/", {"amount": "0.30"}, format="json")
    assert refused.status_code == 402  # still on hold: nothing available yet

    later = timezone.now() + timedelta(days=settings.QUORUM_EARNINGS_HOLD_DAYS, hours=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        scheduled = app.conf.beat_schedule["earnings-release"]["task"]
        app.loader.import_default_modules()
        app.tasks[scheduled].apply()
        app.tasks[scheduled].apply()  # the next tick moves nothing
    assert _money(wendy_api) == {"pending": 0, "available": owed, "in_flight": 0, "paid": 0}

    requested = wendy_api.post(
        "/api/v1/me/payouts/", {"amount": str(owed)}, format="json", HTTP_IDEMPOTENCY_KEY="all-of-it"
    )
    assert requested.status_code == 201, requested.content
    assert _money(wendy_api) == {"pending": 0, "available": 0, "in_flight": owed, "paid": 0}

    batch = admin_api.post("/api/v1/admin/payout-batches/").json()
    assert D(batch["total"]) == owed and [p["handle"] for p in batch["payouts"]] == ["wendy"]
    base = f"/api/v1/admin/payout-batches/{batch['id']}"
    assert admin_api.post(f"{base}/approve/").json()["status"] == "approved"
    assert admin_api.get(f"{base}/export/").status_code == 405  # looking changes nothing
    assert admin_api.get("/api/v1/admin/payout-batches/").json()["results"][0]["exported_at"] is None
    export = admin_api.post(f"{base}/export/")
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert [(r["handle"], D(r["amount"])) for r in rows] == [("wendy", owed)]
    paid = admin_api.post(f"{base}/paid/").json()
    assert paid["status"] == "paid" and paid["exported_at"] and paid["paid_at"]

    assert _money(wendy_api) == {"pending": 0, "available": 0, "in_flight": 0, "paid": owed}
    assert _money(walter_api) == {"pending": 0, "available": 0, "in_flight": 0, "paid": 0}
    paid_out = LedgerAccount.objects.get(kind=AccountKind.PAYOUTS_PAID).balance
    assert paid_out == owed == sum(D(r["amount"]) for r in rows)
    assert ledger_audit().violations == []
