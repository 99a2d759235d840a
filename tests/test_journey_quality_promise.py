"""The quality promise as a client meets it, over the HTTP API only: a job whose crowd answers
badly completes, and the client's invoice, balance and webhook say the promise was missed and
credit what it cost.

Alice (Acme) posts a standard-tier job (its promise: 90 % accuracy) with gold of every label; Ada
records Acme's payment. A crowd that answers "cat" to everything (right a third of the time)
labels it to the end, new workers standing in for those the gold rule blocks. Missing by more
than ten points credits the whole charge, so Acme's balance ends where the payment left it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from marketplace.billing.audit import ledger_audit
from marketplace.notifications.tasks import notifications_sweep_tick
from tests.factories import WorkerFactory
from tests.notifications.receiver import Receiver, receiving

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

API = "/api/v1"
KEYS = ("cat", "dog", "bird")
PAID_IN = Decimal("50.00")


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    settings.QUORUM_WEBHOOK_ALLOW_HOSTS = ["127.0.0.1"]
    with receiving() as running:
        yield running


def _crowd_answers_cat_until_done(client: Any, client_for: Any, job: int) -> None:
    """Three workers at a time answer "cat"; one who has no work left (done with every item, or
    blocked by the gold rule) makes room for a fresh one, until the job is no longer open."""
    crowd: list[Any] = []
    for joined in range(200):
        if client.get(f"{API}/jobs/{job}/").json()["status"] != "open":
            return
        while len(crowd) < 3:
            crowd.append(client_for(WorkerFactory(username=f"crowd{joined}-{len(crowd)}")))
        for worker in list(crowd):
            lease = worker.post(f"{API}/work/next/", {"job": job}, format="json")
            if lease.status_code == 409:  # busy: others hold the items left, ask again next turn
                continue
            if lease.status_code not in (200, 201):
                crowd.remove(worker)
                continue
            done = worker.post(f"{API}/work/leases/{lease.json()['lease']}/submit/", {"label": "cat"},
                               format="json")
            assert done.status_code in (200, 201, 403), done.content
    raise AssertionError("the crowd never finished the job")


def test_a_crowd_that_misses_the_promise_credits_the_client_on_the_invoice_balance_and_webhook(
    alice: Any, ada: Any, client_for: Any, receiver: Receiver
) -> None:
    client, admin = client_for(alice), client_for(ada)
    topup = admin.post(f"{API}/admin/topups/", {"organization": alice.organization_id, "amount": str(PAID_IN),
                                                "payment_reference": "wire-1"}, format="json")
    assert topup.status_code == 201, topup.content
    job = client.post(f"{API}/jobs/", {"title": "Animals", "labels": [{"key": key} for key in KEYS],
                                       "tier": "standard", "overlap": 3, "gold_rate": "0.4"},
                      format="json").json()["id"]
    items = "external_id,text\n" + "".join(f"i{n},item {n}\n" for n in range(24))
    gold = "external_id,text,label\n" + "".join(f"g{n},gold {n},{KEYS[n % 3]}\n" for n in range(12))
    assert client.post(f"{API}/jobs/{job}/items/", items, content_type="text/csv").status_code == 201
    assert client.post(f"{API}/jobs/{job}/gold/", gold, content_type="text/csv").status_code == 201
    hook = client.post(f"{API}/webhooks/", {"url": receiver.url, "events": ["job.promise_missed"]},
                       format="json")
    assert hook.status_code == 201, hook.content
    assert client.post(f"{API}/jobs/{job}/publish/").status_code == 200

    _crowd_answers_cat_until_done(client, client_for, job)
    assert client.get(f"{API}/jobs/{job}/").json()["status"] == "completed"

    invoice = client.get(f"{API}/jobs/{job}/invoice/").json()
    assert invoice["status"] == "final" and len(invoice["credits"]) == 1, json.dumps(invoice)
    credit = invoice["credits"][0]
    assert Decimal(credit["delivered_accuracy"]) < Decimal("0.5") < Decimal(credit["promised_accuracy"])
    assert Decimal(credit["amount"]) == Decimal(invoice["subtotal"]) and Decimal(invoice["total"]) == 0
    assert Decimal(client.get(f"{API}/billing/").json()["balance"]) == PAID_IN
    notifications_sweep_tick()  # the schedule's send (this test's transaction never commits)
    sent = [json.loads(r.body) for r in receiver.requests]
    assert [body["type"] for body in sent] == ["job.promise_missed"]
    assert sent[0]["data"]["credit"] == credit["amount"]
    assert ledger_audit().violations == []
