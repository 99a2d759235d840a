"""The billing API for workers' money: earnings, payout requests, and the admin's payout batches
(review with quality, approve, export, reject, paid). Wendy and Walter (workers) earn in an Acme
job; Ada (admin) reviews the batches; Alice (client) may neither request nor review payouts."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from marketplace.accounts.models import Organization, User
from marketplace.billing.selectors import worker_money
from marketplace.billing.services import DROPPED_JUDGMENT_PAY_POLICY
from marketplace.jobs.models import Job
from marketplace.quality.models import WorkerJobStats
from tests.billing.helpers import D, fund, published, work_all

pytestmark = pytest.mark.django_db
ClientFor = Callable[[User], APIClient]


def test_a_worker_sees_their_earnings_and_the_dropped_judgment_policy(
    ada: User, acme: Organization, wendy: User, client_for: ClientFor
) -> None:
    fund(ada, acme, "10.00")
    job = published(acme, items=3)
    work_all(wendy, job)
    body = client_for(wendy).get("/api/v1/me/earnings/").json()
    assert (body["pending"], body["available"], body["in_flight"], body["paid"]) == ("0.06", "0.00", "0.00", "0.00")
    assert [(e["job"], e["amount"], e["status"]) for e in body["recent"]] == [(job.pk, "0.02", "pending")] * 3
    assert body["policy"] == DROPPED_JUDGMENT_PAY_POLICY and body["hold_days"] == 7


def test_a_payout_request_below_the_minimum_or_above_the_available_is_refused(
    earned: Job, wendy: User, client_for: ClientFor
) -> None:
    api = client_for(wendy)
    small = api.post("/api/v1/me/payouts/", {"amount": "0.05"}, format="json")
    assert small.status_code == 400 and "smallest payout is 0.10" in small.json()["error"]["message"]
    large = api.post("/api/v1/me/payouts/", {"amount": "0.21"}, format="json")
    assert large.status_code == 402 and large.json()["error"]["details"]["missing"] == "0.01"
    assert api.get("/api/v1/me/payouts/").json()["count"] == 0


def test_a_payout_batch_goes_from_request_to_review_with_quality_to_export_to_paid(
    earned: Job, ada: User, wendy: User, walter: User, client_for: ClientFor
) -> None:
    WorkerJobStats.objects.update_or_create(
        job=earned, worker=wendy, defaults={"gold_seen": 20, "gold_correct": 18}
    )
    WorkerJobStats.objects.filter(worker=walter).delete()  # no gold answers yet
    for worker in (wendy, walter):
        response = client_for(worker).post("/api/v1/me/payouts/", {"amount": "0.20"}, format="json")
        assert response.status_code == 201 and response.json()["status"] == "requested"
    admin = client_for(ada)

    batch = admin.post("/api/v1/admin/payout-batches/").json()
    assert (batch["status"], batch["total"]) == ("pending", "0.40")
    assert [(p["handle"], p["amount"], p["gold_accuracy"]) for p in batch["payouts"]] == [
        ("wendy", "0.20", "0.9000"), ("walter", "0.20", None)
    ]
    listed = admin.get("/api/v1/admin/payout-batches/").json()["results"]
    assert [b["id"] for b in listed] == [batch["id"]] and listed[0]["payouts"] == batch["payouts"]
    url = f"/api/v1/admin/payout-batches/{batch['id']}"
    assert admin.post(f"{url}/export/").status_code == 409  # not approved yet

    assert admin.post(f"{url}/approve/").json()["status"] == "approved"
    unexported = admin.post(f"{url}/paid/")  # no file went to the provider: nothing was paid
    assert unexported.status_code == 409 and unexported.json()["error"]["code"] == "conflict"
    assert "before marking it paid" in unexported.json()["error"]["message"]
    assert admin.get("/api/v1/admin/payout-batches/").json()["results"][0]["status"] == "approved"
    export = admin.post(f"{url}/export/")
    assert export["Content-Type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(export.content.decode()))) == [
        ["payout_id", "worker_id", "handle", "amount"],
        [str(batch["payouts"][0]["payout"]), str(wendy.pk), "wendy", "0.20"],
        [str(batch["payouts"][1]["payout"]), str(walter.pk), "walter", "0.20"],
    ]
    assert admin.post(f"{url}/paid/").json()["status"] == "paid"
    assert admin.post(f"{url}/reject/").status_code == 409  # paid is final
    body = client_for(wendy).get("/api/v1/me/earnings/").json()
    assert (body["available"], body["in_flight"], body["paid"]) == ("0.00", "0.00", "0.20")


def test_a_rejected_batch_returns_every_amount_to_its_worker(
    earned: Job, ada: User, wendy: User, client_for: ClientFor
) -> None:
    client_for(wendy).post("/api/v1/me/payouts/", {"amount": "0.15"}, format="json")
    batch = client_for(ada).post("/api/v1/admin/payout-batches/").json()
    rejected = client_for(ada).post(f"/api/v1/admin/payout-batches/{batch['id']}/reject/").json()
    assert rejected["status"] == "rejected" and rejected["reviewed_by"] == "ada"
    assert worker_money(worker=wendy).available == D("0.20")
    assert client_for(wendy).get("/api/v1/me/payouts/").json()["results"][0]["status"] == "rejected"


def test_an_exported_batch_is_rejected_over_the_api_only_when_the_provider_declined_it(
    earned: Job, ada: User, wendy: User, client_for: ClientFor
) -> None:
    client_for(wendy).post("/api/v1/me/payouts/", {"amount": "0.15"}, format="json")
    admin = client_for(ada)
    url = f"/api/v1/admin/payout-batches/{admin.post('/api/v1/admin/payout-batches/').json()['id']}"
    admin.post(f"{url}/approve/")
    admin.post(f"{url}/export/")
    refused = admin.post(f"{url}/reject/")
    assert refused.status_code == 409 and "pay its workers twice" in refused.json()["error"]["message"]
    # The time in the details reads as the batch's own exported_at does: one form across the API.
    [batch] = admin.get("/api/v1/admin/payout-batches/").json()["results"]
    assert refused.json()["error"]["details"]["exported_at"] == batch["exported_at"]
    assert admin.post(f"{url}/reject/", {"provider_declined": "yes"}, format="json").status_code == 400
    assert admin.post(f"{url}/reject/", {"reason": "x" * 2001}, format="json").status_code == 400
    assert worker_money(worker=wendy).available == D("0.05")  # 0.15 still in flight

    rejected = admin.post(f"{url}/reject/", {"provider_declined": True, "reason": "provider bounced it"},
                          format="json").json()
    assert rejected["status"] == "rejected"
    assert worker_money(worker=wendy).available == D("0.20")


def test_no_batch_without_requests_and_no_batch_that_does_not_exist(ada: User, client_for: ClientFor) -> None:
    admin = client_for(ada)
    assert "No payout requests" in admin.post("/api/v1/admin/payout-batches/").json()["error"]["message"]
    assert admin.post("/api/v1/admin/payout-batches/999999/approve/").status_code == 404


def test_clients_and_workers_cannot_review_payouts_and_clients_cannot_request_them(
    alice: User, wendy: User, client_for: ClientFor
) -> None:
    for user in (alice, wendy):
        assert client_for(user).get("/api/v1/admin/payout-batches/").status_code == 403
        assert client_for(user).post("/api/v1/admin/payout-batches/").status_code == 403
    assert client_for(alice).get("/api/v1/me/earnings/").status_code == 403
    assert client_for(alice).post("/api/v1/me/payouts/", {"amount": "1.00"}, format="json").status_code == 403
