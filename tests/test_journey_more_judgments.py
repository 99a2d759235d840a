"""More judgments from the client's request to the invoice, over the HTTP API only.

Alice (Acme) runs a one-judgment-per-item job. Once Wendy has answered two items, Alice asks for
two more judgments on everything judged so far; Walter and Wade, new to those items, give them
through the normal work API, and the crowd finishes the rest. The job completes once, and its
invoice charges the items at the tier's price plus the extra judgments at the job's pay, which is
exactly what leaves Acme's balance.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from marketplace.billing.audit import ledger_audit
from tests.factories import WorkerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

API = "/api/v1"
ITEMS = 4
FIRST = 2  # items judged before Alice asks
MORE = 2
PAID_IN = Decimal("20.00")


def _answer_until_no_work(worker: Any, job: int, label: str) -> int:
    answered = 0
    while (lease := worker.post(f"{API}/work/next/", {"job": job}, format="json")).status_code in (200, 201):
        done = worker.post(f"{API}/work/leases/{lease.json()['lease']}/submit/", {"label": label}, format="json")
        assert done.status_code in (200, 201), done.content
        answered += 1
    assert lease.json()["error"]["code"] == "no_work", lease.content
    return answered


def test_more_judgments_reach_new_workers_and_are_charged_on_the_invoice_once_the_job_completes(
    alice: Any, ada: Any, wendy: Any, client_for: Any
) -> None:
    client, admin = client_for(alice), client_for(ada)
    assert admin.post(f"{API}/admin/topups/", {"organization": alice.organization_id, "amount": str(PAID_IN),
                                               "payment_reference": "wire-1"}, format="json").status_code == 201
    job = client.post(f"{API}/jobs/", {"title": "More", "labels": [{"key": "cat"}, {"key": "dog"}],
                                       "overlap": 1, "gold_rate": "0"}, format="json").json()["id"]
    items = "external_id,text\n" + "".join(f"a{n},thing {n}\n" for n in range(ITEMS))
    assert client.post(f"{API}/jobs/{job}/items/", items, content_type="text/csv").status_code == 201
    published = client.post(f"{API}/jobs/{job}/publish/")
    assert published.status_code == 200, published.content
    pay = Decimal(published.json()["reward_per_judgment"])

    first = client_for(wendy)
    for _ in range(FIRST):
        lease = first.post(f"{API}/work/next/", {"job": job}, format="json").json()["lease"]
        assert first.post(f"{API}/work/leases/{lease}/submit/", {"label": "cat"}, format="json").status_code == 201
    body = {"more": MORE, "filter": {"judged": "yes"}}
    quote = client.post(f"{API}/jobs/{job}/browse/more-judgments/", {**body, "quote": True}, format="json").json()
    assert (quote["items"], quote["judgments"], Decimal(quote["hold"])) == (FIRST, FIRST * MORE, FIRST * MORE * pay)
    asked = client.post(f"{API}/jobs/{job}/browse/more-judgments/", body, format="json",
                        HTTP_IDEMPOTENCY_KEY="more-1")
    assert asked.status_code == 200 and asked.json()["judgments"] == FIRST * MORE, asked.content

    assert _answer_until_no_work(first, job, "cat") == ITEMS - FIRST  # never the items she judged
    others = [client_for(WorkerFactory(username=name)) for name in ("walter2", "wade")]
    assert [_answer_until_no_work(worker, job, "dog") for worker in others] == [FIRST, FIRST]

    shown = client.get(f"{API}/jobs/{job}/").json()
    assert shown["status"] == "completed" and shown["counts"]["judgments"] == ITEMS + FIRST * MORE
    results = client.get(f"{API}/jobs/{job}/results/?format=jsonl")
    rows = [json.loads(line) for line in b"".join(results.streaming_content).splitlines() if line]
    assert sorted(row["judgment_count"] for row in rows) == [1] * (ITEMS - FIRST) + [1 + MORE] * FIRST

    invoice = client.get(f"{API}/jobs/{job}/invoice/").json()
    extra = [(line["judgments"], Decimal(line["amount"])) for line in invoice["extra_judgments"]]
    assert invoice["status"] == "final" and extra == [(FIRST * MORE, FIRST * MORE * pay)], invoice
    items_charged = Decimal(invoice["lines"][0]["amount"])
    assert Decimal(invoice["total"]) == items_charged + FIRST * MORE * pay
    assert Decimal(client.get(f"{API}/billing/").json()["balance"]) == PAID_IN - Decimal(invoice["total"])
    assert ledger_audit().violations == []
