"""Expert review from the client's request to the expert's bank, over the HTTP API only, with the
release schedule's own task doing its part.

Alice (Acme) runs a job; Wendy says "cat" and Walter "dog" to every item, so the crowd splits.
Ada, an admin, records Acme's payment, makes an expert qualification and grants it to Erin, who
signed up as a worker. While the job runs, Alice sends the split items to expert review; Erin
takes and settles each; the results then carry her label, and settlement charges Alice for the
reviews she got. After the hold the release task makes Erin's review pay payable, she asks for
it, and Ada's payout batch pays it. Every figure comes from counts × the documented prices.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from marketplace import tasking
from marketplace.billing import tasks  # noqa: F401 (registers the task beat sends)
from marketplace.billing.audit import ledger_audit
from marketplace.celery import app
from marketplace.labeling.models import Lease

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

API = "/api/v1"
ITEMS = 4
SPLIT = 2  # the items both workers answer before Alice asks for reviews


def _signup(api: Any, username: str, **extra: str) -> int:
    answer = api.post(f"{API}/auth/signup/", {"username": username, "password": "a-long-passphrase-1",
                                              **extra}, format="json")
    assert answer.status_code == 201, answer.content
    return int(answer.json()["user"]["id"])


def _answer(api: Any, job: int, label: str) -> int:
    """Take the job's next item and answer it; the item's id (the test's, never the worker's)."""
    lease = api.post(f"{API}/work/next/", {"job": job}, format="json")
    assert lease.status_code in (200, 201), lease.content
    done = api.post(f"{API}/work/leases/{lease.json()['lease']}/submit/", {"label": label}, format="json")
    assert done.status_code in (200, 201), done.content
    return Lease.objects.get(pk=lease.json()["lease"]).item_id


def _earnings(api: Any) -> dict[str, Decimal]:
    body = api.get(f"{API}/me/earnings/").json()
    return {key: Decimal(body[key]) for key in ("pending", "available", "in_flight", "paid")}


def test_items_a_client_sends_to_review_are_settled_by_an_expert_charged_and_the_expert_is_paid(
    alice: Any, ada: Any, wendy: Any, walter: Any, api: Any, client_for: Any, settings: Any,
    monkeypatch: pytest.MonkeyPatch, django_user_model: Any,
) -> None:
    settings.QUORUM_MIN_PAYOUT = "0.10"
    monkeypatch.setattr(tasking, "close_old_connections", lambda: None)  # the test's connection
    client, admin = client_for(alice), client_for(ada)
    crowd = {"cat": client_for(wendy), "dog": client_for(walter)}
    erin_id = _signup(api, "erin", role="worker")  # anyone may sign up as a worker
    erin = client_for(django_user_model.objects.get(pk=erin_id))

    topup = admin.post(f"{API}/admin/topups/", {"organization": alice.organization_id, "amount": "20.00",
                                                "payment_reference": "wire-1"}, format="json")
    assert topup.status_code == 201, topup.content
    job = client.post(f"{API}/jobs/", {"title": "Animals", "labels": [{"key": "cat"}, {"key": "dog"}],
                                       "overlap": 2, "gold_rate": "0"}, format="json").json()["id"]
    items = "external_id,text\n" + "".join(f"a{n},thing {n}\n" for n in range(ITEMS))
    assert client.post(f"{API}/jobs/{job}/items/", items, content_type="text/csv").status_code == 201
    assert client.post(f"{API}/jobs/{job}/publish/").status_code == 200

    expert = admin.post(f"{API}/qualifications/", {"name": "Animal expert", "is_expert": True}, format="json")
    assert expert.status_code == 201, expert.content
    granted = admin.post(f"{API}/qualifications/{expert.json()['id']}/grants/",
                         {"worker": erin_id, "score": "1"}, format="json")
    assert granted.status_code == 201, granted.content
    assert erin.post(f"{API}/expert/next/", {}, format="json").status_code == 404  # nothing asked yet

    split = [_answer(crowd["cat"], job, "cat") for _ in range(SPLIT)]
    assert sorted(_answer(crowd["dog"], job, "dog") for _ in range(SPLIT)) == sorted(split)
    price = Decimal(settings.QUORUM_EXPERT_REVIEW_PRICE)
    quote = client.post(f"{API}/jobs/{job}/browse/expert-review/", {"items": split, "quote": True}, format="json")
    assert quote.status_code == 200, quote.content
    asked = client.post(f"{API}/jobs/{job}/browse/expert-review/", {"items": split}, format="json",
                        HTTP_IDEMPOTENCY_KEY="experts-1")
    assert asked.status_code in (200, 201), asked.content

    settled = 0
    while (review := erin.post(f"{API}/expert/next/", {}, format="json")).status_code == 200:
        body = review.json()
        assert body["crowd"]["counts"] == {"cat": 1, "dog": 1}
        answer = erin.post(f"{API}/expert/reviews/{body['id']}/settle/", {"label": "dog"}, format="json")
        assert answer.status_code == 200, answer.content
        settled += 1
        assert settled <= SPLIT, "the queue gave a settled review again"
    assert settled == SPLIT and review.json()["error"]["code"] == "no_work"

    for _ in range(ITEMS - SPLIT):  # the crowd finishes the job
        _answer(crowd["cat"], job, "cat")
        _answer(crowd["dog"], job, "dog")
    assert client.get(f"{API}/jobs/{job}/").json()["status"] == "completed"
    results = client.get(f"{API}/jobs/{job}/results/?format=jsonl")
    lines = b"".join(results.streaming_content).splitlines()
    rows = {row["item_id"]: row for row in map(json.loads, filter(None, lines))}
    assert all(rows[item]["consensus_label"] == "dog" and rows[item]["source"] == "expert" for item in split)
    invoice = client.get(f"{API}/jobs/{job}/invoice/").json()
    assert invoice["status"] == "final"
    assert [(line["reviews"], Decimal(line["amount"])) for line in invoice["expert_reviews"]] == [
        (SPLIT, price * SPLIT)]

    pay = Decimal(settings.QUORUM_EXPERT_REVIEW_PAY) * SPLIT
    assert _earnings(erin) == {"pending": pay, "available": 0, "in_flight": 0, "paid": 0}
    later = timezone.now() + timedelta(days=settings.QUORUM_EARNINGS_HOLD_DAYS, hours=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        app.loader.import_default_modules()
        app.tasks[app.conf.beat_schedule["earnings-release"]["task"]].apply()
    assert _earnings(erin) == {"pending": 0, "available": pay, "in_flight": 0, "paid": 0}

    assert erin.post(f"{API}/me/payouts/", {"amount": str(pay)}, format="json").status_code == 201
    batch = admin.post(f"{API}/admin/payout-batches/").json()
    assert [(p["handle"], Decimal(p["amount"])) for p in batch["payouts"]] == [("erin", pay)]
    base = f"{API}/admin/payout-batches/{batch['id']}"
    for action in ("approve", "export", "paid"):
        assert admin.post(f"{base}/{action}/").status_code == 200
    assert _earnings(erin) == {"pending": 0, "available": 0, "in_flight": 0, "paid": pay}
    assert ledger_audit().violations == []
