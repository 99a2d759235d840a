"""The escrow a job holds: dynamic overlap's worst case at publish, and adding to it when a job
ran out. Alice is Acme's client; Carol (Globex) must not touch Acme's jobs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import JobBudget
from marketplace.billing.pricing import escrow_per_item
from marketplace.billing.selectors import job_escrow, organization_balance
from marketplace.labeling import claiming
from tests.billing.helpers import tier, work_all
from tests.factories import WorkerFactory, fund, open_job_with_items
from tests.labeling.test_claim import AlwaysGold

D = Decimal


def test_a_fixed_overlap_job_holds_its_price_and_a_dynamic_one_its_worst_case_pay() -> None:
    assert escrow_per_item(price=D("0.10"), pay=D("0.02"), overlap=3, max_overlap=None, gold_rate=D("0")) == D("0.1")
    # 7 judgments at most per item, a fifth of assignments gold: 8.75 judgments × 0.02 = 0.175 > 0.10
    assert escrow_per_item(price=D("0.10"), pay=D("0.02"), overlap=3, max_overlap=7, gold_rate=D("0.2")) == D("0.175")


def test_publishing_a_dynamic_overlap_job_holds_the_worst_case_and_the_quote_says_so(acme: Any, client_for: Any,
                                                                                     alice: Any) -> None:
    job = open_job_with_items(items=10, organization=acme, tier="standard", overlap=3, max_overlap=7,
                              target_confidence=D("0.95"))
    budget = JobBudget.objects.get(job=job)
    assert budget.escrow_per_item > budget.price_per_item
    assert job_escrow(job_id=job.pk) == budget.budget == (10 * budget.escrow_per_item).quantize(D("0.01"))
    quotes = client_for(alice).post("/api/v1/quotes/", {"items": 100}, format="json").json()["tiers"]
    assert all(D(q["escrow"]) >= D(q["price"]) for q in quotes)


def test_a_client_adds_to_a_jobs_escrow_once_per_key_and_the_audit_balances(acme: Any, alice: Any,
                                                                              client_for: Any) -> None:
    job = open_job_with_items(items=2, organization=acme, tier="standard")
    fund(acme, "5.00")
    api = client_for(alice)
    url = f"/api/v1/jobs/{job.pk}/escrow/"
    before = job_escrow(job_id=job.pk)

    budget = JobBudget.objects.get(job=job)

    first = api.post(url, {"amount": "1.50"}, format="json", HTTP_IDEMPOTENCY_KEY="add-1")
    second = api.post(url, {"amount": "1.00"}, format="json", HTTP_IDEMPOTENCY_KEY="add-2")
    retry = api.post(url, {"amount": "1.50"}, format="json", HTTP_IDEMPOTENCY_KEY="add-1")

    assert first.status_code == second.status_code == retry.status_code == 200, first.content
    assert job_escrow(job_id=job.pk) == before + D("2.50")
    assert organization_balance(organization=acme) == D("2.50")
    # `added` is what each request moved; `added_total` every addition so far; a retry answers
    # the first response again, not the job's figures now.
    assert first.json() == {"job": job.pk, "budget": str(budget.budget + D("1.50")), "added": "1.50",
                            "added_total": str(budget.added + D("1.50")), "replayed": False}
    assert second.json()["added"] == "1.00" and second.json()["added_total"] == str(budget.added + D("2.50"))
    assert retry.json() == {**first.json(), "replayed": True}
    assert ledger_audit().ok


def test_a_key_sent_again_with_another_amount_is_a_409_naming_both(acme: Any, alice: Any, client_for: Any) -> None:
    job = open_job_with_items(items=2, organization=acme, tier="standard")
    fund(acme, "20.00")
    api = client_for(alice)
    url = f"/api/v1/jobs/{job.pk}/escrow/"
    assert api.post(url, {"amount": "5.00"}, format="json", HTTP_IDEMPOTENCY_KEY="k1").status_code == 200

    clash = api.post(url, {"amount": "7.00"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert clash.status_code == 409
    assert clash.json()["error"]["details"]["differs"] == ["amount"]
    assert "5.00" in clash.json()["error"]["message"]
    assert organization_balance(organization=acme) == D("15.00")


@pytest.mark.parametrize(("body", "key", "status", "code"), [
    ({"amount": "999.00"}, "k1", 402, "insufficient_funds"),
    ({"amount": "-1"}, "k2", 400, "invalid"),
    ({"amount": "0.001"}, "k3", 400, "invalid"),
    ({"amount": "ten"}, "k4", 400, "invalid"),
    ({"amount": "1.00"}, "", 400, "invalid"),
    (1.5, "k5", 400, "invalid"),  # a body that is not an object was a 500
    (["1.00"], "k6", 400, "invalid"),
])
def test_a_bad_escrow_addition_is_refused_and_moves_nothing(acme: Any, alice: Any, client_for: Any, body: Any,
                                                            key: str, status: int, code: str) -> None:
    job = open_job_with_items(items=2, organization=acme, tier="standard")
    fund(acme, "5.00")
    before = job_escrow(job_id=job.pk)
    response = client_for(alice).post(f"/api/v1/jobs/{job.pk}/escrow/", body, format="json",
                                      HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert job_escrow(job_id=job.pk) == before and organization_balance(organization=acme) == D("5.00")


def test_another_organizations_client_cannot_add_to_acmes_escrow(acme: Any, carol: Any, client_for: Any) -> None:
    job = open_job_with_items(items=2, organization=acme, tier="standard")
    response = client_for(carol).post(f"/api/v1/jobs/{job.pk}/escrow/", {"amount": "1.00"}, format="json",
                                      HTTP_IDEMPOTENCY_KEY="x")
    assert response.status_code == 404


def _import(api: Any, job_id: int, n: int, prefix: str) -> Any:
    rows = "".join(f"{prefix}-{i},More {i}\n" for i in range(n))
    return api.post(f"/api/v1/jobs/{job_id}/items/", "external_id,text\n" + rows, content_type="text/csv")


def test_items_imported_after_an_addition_are_escrowed_in_full_and_the_addition_stays(
        acme: Any, alice: Any, client_for: Any) -> None:
    job = open_job_with_items(items=10, organization=acme, tier="standard")  # 10 × 0.10 held
    fund(acme, "1.50")
    api = client_for(alice)
    assert api.post(f"/api/v1/jobs/{job.pk}/escrow/", {"amount": "0.50"}, format="json",
                    HTTP_IDEMPOTENCY_KEY="more").status_code == 200

    assert _import(api, job.pk, 10, "more").status_code == 201

    # The 10 new items hold 10 × 0.10 whatever was added by hand before them.
    assert organization_balance(organization=acme) == D("0.00")
    assert job_escrow(job_id=job.pk) == D("2.50")
    budget = JobBudget.objects.get(job=job)
    assert (budget.items, budget.budget, budget.added) == (20, D("2.50"), D("0.50"))
    assert ledger_audit().ok


def test_a_job_topped_up_by_hand_then_grown_still_cancels_and_returns_its_money(
        acme: Any, alice: Any, client_for: Any) -> None:
    job = open_job_with_items(items=10, organization=acme, tier="standard")
    fund(acme, "1.30")
    api = client_for(alice)
    assert api.post(f"/api/v1/jobs/{job.pk}/escrow/", {"amount": "1.00"}, format="json",
                    HTTP_IDEMPOTENCY_KEY="more").status_code == 200
    assert _import(api, job.pk, 3, "more").status_code == 201

    cancelled = api.post(f"/api/v1/jobs/{job.pk}/cancel/", format="json")

    assert cancelled.status_code == 200, cancelled.content
    # Nothing was labeled: every cent held (1.00 + 1.00 added + 0.30) returns to the balance.
    assert organization_balance(organization=acme) == D("2.30")
    assert job_escrow(job_id=job.pk) == D("0.00")
    assert ledger_audit().ok


def test_an_idempotency_key_reused_with_another_amount_is_refused(acme: Any, alice: Any,
                                                                   client_for: Any) -> None:
    job = open_job_with_items(items=2, organization=acme, tier="standard")
    fund(acme, "10.00")
    api = client_for(alice)
    url = f"/api/v1/jobs/{job.pk}/escrow/"
    assert api.post(url, {"amount": "2.00"}, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 200
    before = job_escrow(job_id=job.pk)

    reused = api.post(url, {"amount": "5.00"}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert reused.status_code == 409 and reused.json()["error"]["code"] == "conflict"
    assert "2.00" in reused.json()["error"]["message"]
    assert job_escrow(job_id=job.pk) == before and organization_balance(organization=acme) == D("8.00")


def test_an_escrow_amount_sent_as_a_json_number_with_a_fraction_is_refused(acme: Any, alice: Any,
                                                                            client_for: Any) -> None:
    job = open_job_with_items(items=2, organization=acme, tier="standard")
    fund(acme, "5.00")
    response = client_for(alice).post(f"/api/v1/jobs/{job.pk}/escrow/", {"amount": 1.5}, format="json",
                                      HTTP_IDEMPOTENCY_KEY="f")
    assert response.status_code == 400 and "string" in response.json()["error"]["message"]
    assert organization_balance(organization=acme) == D("5.00")


def test_a_small_dynamic_job_never_runs_its_escrow_dry_even_when_every_draw_says_gold(
        acme: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(claiming, "_rng", AlwaysGold())
    # Priced under its worst case, so publishing holds 3 / 0.75 judgments × 0.02 = 0.08 per item.
    tier("lean-dynamic", price="0.0100", pay="0.0200", overlap=1)
    job = open_job_with_items(items=4, gold=10, organization=acme, tier="lean-dynamic", overlap=2,
                              max_overlap=3, target_confidence=D("0.95"), gold_rate=D("0.25"))
    assert job_escrow(job_id=job.pk) == D("0.32")

    for worker in [WorkerFactory() for _ in range(3)]:
        work_all(worker, job)  # a FundsExhausted here would be the job pausing itself

    job.refresh_from_db()
    assert job.status == "completed" and job.gold_judgment_count * 3 <= job.judgment_count
    assert job_escrow(job_id=job.pk) > 0  # the hold was never reached
