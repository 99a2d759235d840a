"""Money through the flows, driven over the HTTP API as clients, workers and admins would.

Alice (Acme's client) creates, funds and publishes jobs; Ada (admin) records Acme's payments
and blocks workers; a crowd of workers labels. Publishing escrows items × price, each accepted
judgment is paid from the escrow, a block withdraws the dropped judgments' pay, and completion
or cancellation settles the job. Every test ends with the ledger audit.
"""

from __future__ import annotations

from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from marketplace.accounts.models import Organization, User
from marketplace.billing.posting import pay_post_tick
from marketplace.billing.models import (
    AccountKind,
    Earning,
    JobBudget,
    LedgerAccount,
    LedgerTransaction,
    TransactionKind,
)
from marketplace.billing.selectors import job_escrow, organization_balance, worker_money
from marketplace.billing.services import topup_record
from marketplace.jobs.models import Item, Job
from marketplace.jobs.services import job_transition
from marketplace.labeling.models import Judgment, JudgmentStatus, Lease
from tests.billing.helpers import tier
from tests.factories import THREE_LABELS, WorkerFactory, open_job_with_items

D = Decimal
PAY = D("0.02")  # the job's (and the standard tier's) pay per judgment
LABELS = ["cat", "dog", "bird"]


def _topup(ada: User, organization: Organization, amount: str, ref: str = "wire-1") -> None:
    topup_record(admin=ada, organization=organization, amount=D(amount), payment_reference=ref)


def _draft(api: Any, *, items: int, gold: int = 0, gold_rate: str = "0") -> int:
    """A draft job on the standard tier (overlap 3, pay 0.02) with its items, over the API."""
    created = api.post(
        "/api/v1/jobs/",
        {"title": "Animals", "labels": THREE_LABELS, "overlap": 3, "gold_rate": gold_rate},
        format="json",
    )
    assert created.status_code == 201, created.content
    job_id = created.json()["id"]
    rows = "".join(f"item-{n},Picture {n}\n" for n in range(items))
    imported = api.post(f"/api/v1/jobs/{job_id}/items/", "external_id,text\n" + rows, content_type="text/csv")
    assert imported.status_code == 201, imported.content
    if gold:
        rows = "".join(f"gold-{n},Gold {n},cat\n" for n in range(gold))
        imported = api.post(f"/api/v1/jobs/{job_id}/gold/", "external_id,text,label\n" + rows, content_type="text/csv")
        assert imported.status_code == 201, imported.content
    return job_id


def _claim(worker_api: Any, job_id: int) -> dict[str, Any] | None:
    nxt = worker_api.post("/api/v1/work/next/", {"job": job_id}, format="json")
    if nxt.status_code == 404:
        assert nxt.json()["error"]["code"] == "no_work"
        return None
    assert nxt.status_code in (200, 201), nxt.content
    return nxt.json()


def _submit(worker_api: Any, lease: dict[str, Any], label: str = "cat") -> Any:
    return worker_api.post(f"/api/v1/work/leases/{lease['lease']}/submit/", {"label": label}, format="json")


def _work(worker_api: Any, job_id: int, *, limit: int | None = None) -> int:
    """Claim and submit until no work is left (or `limit` submits); returns the submits."""
    done = 0
    while limit is None or done < limit:
        lease = _claim(worker_api, job_id)
        if lease is None:
            break
        item_id = Lease.objects.get(pk=lease["lease"]).item_id  # the test's choice; workers never see it
        response = _submit(worker_api, lease, LABELS[item_id % 3])
        assert response.status_code == 201, response.content
        done += 1
    return done


def _crowd(client_for: Any, n: int) -> tuple[list[User], list[Any]]:
    workers = [WorkerFactory() for _ in range(n)]
    return workers, [client_for(w) for w in workers]


def _revenue() -> Decimal:
    account = LedgerAccount.objects.filter(kind=AccountKind.PLATFORM_REVENUE).first()
    return account.balance if account else D("0.00")


def _audit_passes() -> None:
    out = StringIO()
    call_command("billing_audit", stdout=out, stderr=StringIO())  # CommandError on a violation
    assert "billing audit: OK" in out.getvalue()


def test_publishing_without_funds_is_refused_naming_the_missing_amount_and_the_job_stays_a_draft(
    alice: User, ada: User, client_for: Any
) -> None:
    api = client_for(alice)
    job_id = _draft(api, items=10)  # 10 items × 0.10 (standard tier) = 1.00 to escrow
    _topup(ada, alice.organization, "0.40")

    refused = api.post(f"/api/v1/jobs/{job_id}/publish/")

    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "insufficient_funds"
    assert error["details"] == {"needed": "1.00", "balance": "0.40", "missing": "0.60"}
    assert "0.60 is missing" in error["message"]
    assert api.get(f"/api/v1/jobs/{job_id}/").json()["status"] == "draft"
    assert organization_balance(organization=alice.organization) == D("0.40")
    assert not JobBudget.objects.filter(job_id=job_id).exists()

    _topup(ada, alice.organization, "0.60", ref="wire-2")
    published = api.post(f"/api/v1/jobs/{job_id}/publish/")
    assert published.status_code == 200 and published.json()["status"] == "open"
    assert organization_balance(organization=alice.organization) == D("0.00")
    assert job_escrow(job_id=job_id) == D("1.00")
    _audit_passes()


def test_a_whole_job_charges_completed_items_pays_accepted_judgments_and_keeps_the_difference(
    alice: User, ada: User, client_for: Any
) -> None:
    api = client_for(alice)
    job_id = _draft(api, items=20, gold=4, gold_rate="0.2")
    _topup(ada, alice.organization, "10.00")
    assert api.post(f"/api/v1/jobs/{job_id}/publish/").status_code == 200
    budget = JobBudget.objects.get(job_id=job_id)
    # The standard tier's 0.10, plus what a fifth of assignments being gold adds: 3/0.8 × 0.02 − 3/0.9 × 0.02.
    assert budget.price_per_item == D("0.1083") and budget.budget == D("2.17")
    assert organization_balance(organization=alice.organization) == D("7.83")

    workers, apis = _crowd(client_for, 5)
    while sum(_work(worker_api, job_id, limit=3) for worker_api in apis):
        pass  # round-robin, three submits each, until nobody finds work

    job = Job.objects.get(pk=job_id)
    assert job.status == "completed" and job.completed_item_count == 20
    accepted = Judgment.objects.filter(job_id=job_id, status=JudgmentStatus.ACCEPTED).count()
    assert accepted == 60 + Judgment.objects.filter(job_id=job_id, is_gold=True).count()
    earned = sum((worker_money(worker=w).pending for w in workers), D("0.00"))
    charged = D(20) * budget.price_per_item
    budget.refresh_from_db()
    assert budget.settled_at is not None
    assert earned == accepted * PAY == budget.spent
    assert budget.charged == charged.quantize(D("0.01")) == D("2.17")
    assert _revenue() == budget.charged - earned == budget.revenue
    assert job_escrow(job_id=job_id) == D("0.00")
    assert budget.refunded == budget.budget - budget.charged  # all of it charged: nothing back
    assert organization_balance(organization=alice.organization) == D("10.00") - budget.charged
    _audit_passes()


def test_a_cancelled_job_is_charged_for_its_completed_items_and_the_unspent_escrow_returns(
    alice: User, ada: User, client_for: Any
) -> None:
    api = client_for(alice)
    job_id = _draft(api, items=10)
    _topup(ada, alice.organization, "5.00")
    assert api.post(f"/api/v1/jobs/{job_id}/publish/").status_code == 200
    workers, apis = _crowd(client_for, 3)
    for worker_api in apis:
        _work(worker_api, job_id, limit=4)

    cancelled = api.post(f"/api/v1/jobs/{job_id}/cancel/")

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    completed = Job.objects.get(pk=job_id).completed_item_count
    assert 0 < completed < 10
    budget = JobBudget.objects.get(job_id=job_id)
    assert budget.charged == completed * D("0.10")
    assert budget.spent == 12 * PAY and budget.revenue == budget.charged - budget.spent
    assert budget.refunded == D("1.00") - budget.charged
    assert job_escrow(job_id=job_id) == D("0.00")
    assert organization_balance(organization=alice.organization) == D("5.00") - budget.charged
    _audit_passes()


def test_a_blocked_workers_dropped_judgments_are_not_paid_and_reopened_items_are_charged_once(
    alice: User, ada: User, wendy: User, client_for: Any
) -> None:
    api = client_for(alice)
    job_id = _draft(api, items=10)
    _topup(ada, alice.organization, "5.00")
    assert api.post(f"/api/v1/jobs/{job_id}/publish/").status_code == 200
    assert _work(client_for(wendy), job_id, limit=4) == 4
    assert worker_money(worker=wendy).pending == 4 * PAY

    blocked = client_for(ada).post(
        f"/api/v1/jobs/{job_id}/workers/{wendy.pk}/block/", {"reason": "Random answers"}, format="json"
    )

    assert blocked.status_code == 200, blocked.content
    assert worker_money(worker=wendy).pending == D("0.00")
    assert set(Earning.objects.filter(worker=wendy).values_list("status", flat=True)) == {"reversed"}
    assert job_escrow(job_id=job_id) == D("1.00")  # her pay went back into the escrow
    workers, apis = _crowd(client_for, 3)
    for worker_api in apis:
        _work(worker_api, job_id)

    budget = JobBudget.objects.get(job_id=job_id)
    assert Job.objects.get(pk=job_id).status == "completed" and budget.settled_at is not None
    assert budget.charged == D("1.00")  # ten items, each once, though four were labeled twice over
    earned = sum((worker_money(worker=w).pending for w in workers), D("0.00"))
    assert earned == 30 * PAY == budget.spent
    assert _revenue() == D("1.00") - earned
    settles = LedgerTransaction.objects.filter(kind=TransactionKind.JOB_SETTLE, job_id=job_id)
    assert settles.count() == 1
    _audit_passes()


def test_an_automatic_block_inside_a_submit_withdraws_the_pay_of_everything_it_drops(
    wendy: User, settings: Any
) -> None:
    from tests.quality.worker_helpers import answer_gold, gold_job

    settings.QUORUM_WITHDRAW_REVIEW_SHARE = D("1.00")  # no review cap here (tests/quality/test_appeals.py)

    job = gold_job(quality_rules={"min_gold_answers": 3, "gold_accuracy_floor": "0.5"})
    answer_gold(wendy, job, right=0, wrong=3)  # the third miss blocks her, in that submit

    assert Judgment.objects.filter(job=job, worker=wendy, status=JudgmentStatus.ACCEPTED).count() == 0
    earnings = Earning.objects.filter(worker=wendy)
    assert earnings.count() == Judgment.objects.filter(job=job, worker=wendy).count() > 0
    assert set(earnings.values_list("status", flat=True)) == {"reversed"}
    assert worker_money(worker=wendy).pending == D("0.00")
    assert job_escrow(job_id=job.pk) == JobBudget.objects.get(job=job).budget
    _audit_passes()


def test_a_retried_submit_pays_once(alice: User, ada: User, wendy: User, client_for: Any) -> None:
    api = client_for(alice)
    job_id = _draft(api, items=2)
    _topup(ada, alice.organization, "1.00")
    assert api.post(f"/api/v1/jobs/{job_id}/publish/").status_code == 200
    worker_api = client_for(wendy)
    lease = _claim(worker_api, job_id)
    assert lease is not None

    first = _submit(worker_api, lease)
    again = _submit(worker_api, lease)

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["judgment"] == again.json()["judgment"]
    assert Earning.objects.filter(worker=wendy).count() == 1
    pay_post_tick()  # the schedule posts what the submit recorded, once
    pays = LedgerTransaction.objects.filter(kind=TransactionKind.JUDGMENT_PAY, worker_id=wendy.pk)
    assert pays.count() == 1
    assert worker_money(worker=wendy).pending == PAY
    _audit_passes()


def test_a_tier_priced_under_its_pay_holds_the_pay_so_every_submit_is_paid_and_the_job_completes(
    acme: Organization, client_for: Any
) -> None:
    # A tier priced under its own pay (test device): the hold is the pay, 3 × 0.02, not the price.
    tier("lean", price="0.0400", pay="0.0200", overlap=3)
    job = open_job_with_items(items=1, organization=acme, tier="lean", overlap=3)
    assert job_escrow(job_id=job.pk) == D("0.06")
    workers, apis = _crowd(client_for, 3)
    leases = [_claim(worker_api, job.pk) for worker_api in apis]  # all three slots handed out

    responses = [_submit(worker_api, lease) for worker_api, lease in zip(apis, leases)]

    assert [r.status_code for r in responses] == [201, 201, 201]
    job.refresh_from_db()
    assert job.status == "completed"
    assert Item.objects.get(job=job).judgment_count == 3
    assert [worker_money(worker=w).pending for w in workers] == [D("0.02")] * 3
    budget = JobBudget.objects.get(job=job)
    assert (budget.charged, budget.spent, budget.revenue) == (D("0.04"), D("0.06"), D("-0.02"))
    _audit_passes()


def test_a_job_opened_without_a_budget_refuses_to_take_unpaid_work_and_pauses(
    acme: Organization, wendy: User, client_for: Any
) -> None:
    # Opened behind the flow's back, as a job published before billing existed would be.
    job = job_transition(job=open_job_with_items(items=2, organization=acme, publish=False), to="open")
    worker_api = client_for(wendy)
    lease = _claim(worker_api, job.pk)
    assert lease is not None

    refused = _submit(worker_api, lease)

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "funds_exhausted"
    assert "no open budget" in refused.json()["error"]["message"]
    assert Job.objects.get(pk=job.pk).status == "paused"
    assert not Judgment.objects.filter(job=job).exists()


def test_importing_into_an_open_job_escrows_the_new_items_or_imports_nothing(
    alice: User, ada: User, client_for: Any
) -> None:
    api = client_for(alice)
    job_id = _draft(api, items=5)
    _topup(ada, alice.organization, "0.80")
    assert api.post(f"/api/v1/jobs/{job_id}/publish/").status_code == 200  # 0.50 escrowed
    more = "external_id,text\n" + "".join(f"more-{n},More {n}\n" for n in range(5))

    short = api.post(f"/api/v1/jobs/{job_id}/items/", more, content_type="text/csv")

    assert short.status_code == 402 and short.json()["error"]["details"]["missing"] == "0.20"
    assert Job.objects.get(pk=job_id).item_count == 5
    _topup(ada, alice.organization, "0.20", ref="wire-2")
    added = api.post(f"/api/v1/jobs/{job_id}/items/", more, content_type="text/csv")
    assert added.status_code == 201 and added.json()["item_count"] == 10
    assert job_escrow(job_id=job_id) == D("1.00")
    assert organization_balance(organization=alice.organization) == D("0.00")
    _audit_passes()


def test_the_demo_seed_funds_and_publishes_its_jobs_once() -> None:
    call_command("seed_demo", "--i-know-this-is-not-production", stdout=StringIO())  # DEBUG is off in tests
    budgets = dict(JobBudget.objects.values_list("job_id", "budget"))
    job = Job.objects.get(title="Product review sentiment")
    balance = organization_balance(organization=job.organization)
    call_command("seed_demo", "--i-know-this-is-not-production", stdout=StringIO())  # changes nothing

    assert dict(JobBudget.objects.values_list("job_id", "budget")) == budgets
    assert organization_balance(organization=job.organization) == balance > 0
    assert job.status == "open"
    assert JobBudget.objects.get(job=job).budget == D("150.00")  # 1,500 items × 0.10
    assert LedgerTransaction.objects.filter(kind=TransactionKind.TOPUP).count() == 2
    assert Job.objects.filter(status="completed", budget__settled_at__isnull=False).count() == 1
    _audit_passes()


pytestmark = pytest.mark.django_db


def test_a_job_goes_from_quote_to_invoice_over_the_api_and_every_cent_adds_up(
    alice: User, ada: User, client_for: Any
) -> None:
    api = client_for(alice)
    quote = api.post("/api/v1/quotes/", {"items": 12}, format="json")
    assert quote.status_code == 200, quote.content
    standard = next(t for t in quote.json()["tiers"] if t["tier"] == "standard")
    assert (standard["price_per_item"], standard["price"]) == ("0.1000", "1.20")

    job_id = _draft(api, items=12)
    payment = {"organization": alice.organization_id, "amount": "1.20", "payment_reference": "wire-q"}
    assert client_for(ada).post("/api/v1/admin/topups/", payment, format="json").status_code == 201
    assert api.post(f"/api/v1/jobs/{job_id}/publish/").status_code == 200
    assert api.get("/api/v1/billing/").json()["balance"] == "0.00"  # the quoted price, escrowed

    workers, apis = _crowd(client_for, 4)
    while sum(_work(worker_api, job_id, limit=2) for worker_api in apis):
        pass
    assert Job.objects.get(pk=job_id).status == "completed"

    invoice = api.get(f"/api/v1/jobs/{job_id}/invoice/").json()
    assert invoice["status"] == "final"
    assert [(x["completed_items"], x["price_per_item"], x["amount"]) for x in invoice["lines"]] == [
        (12, "0.1000", "1.20")
    ]
    assert (invoice["credits_total"], invoice["total"]) == ("0.00", "1.20")  # = the quote
    accepted = Judgment.objects.filter(job_id=job_id, status=JudgmentStatus.ACCEPTED).count()
    assert accepted == 12 * 3
    earnings = [client_for(w).get("/api/v1/me/earnings/").json()["pending"] for w in workers]
    assert sum(D(e) for e in earnings) == accepted * PAY == D("0.72")
    assert _revenue() == D("1.20") - D("0.72") == D("0.48")
    assert api.get("/api/v1/billing/").json()["balance"] == "0.00"  # nothing left to refund
    _audit_passes()
