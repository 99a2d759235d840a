"""Expert review money: experts earn per settled review; Quorum or the client pays.

The cast: Acme (Alice) runs jobs at the "exact" tier (0.50 per item, pay 0.10 per judgment).
Erin is a worker holding the expert qualification; Ada is an admin (an expert who earns
nothing); Wendy and Walter label. A review costs the client 0.40 and pays its expert 0.25.

Every figure is checked against a recomputation from the story (items, reviews asked for,
reviews settled, the prices), never against the ledger's own sums; the audit must pass too.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from marketplace import flows, flows_experts
from marketplace.accounts.models import Organization, User
from marketplace.billing import expert_pay, payouts
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import AccountKind, ExpertEarning, JobBudget, LedgerAccount
from marketplace.errors import NotFound
from marketplace.jobs.models import Job
from marketplace.quality import experts
from marketplace.quality.models import ExpertReview
from tests.billing.helpers import D, fund, published, tier, work_through_flow
from tests.conftest import needs_postgres
from tests.factories import WorkerFactory, grant
from tests.threads import WAIT, failures as thread_failures, hold_thread_in, sessions_waiting_for_a_lock, thread_recording, until

pytestmark = pytest.mark.django_db

PRICE, PAY, ITEM = D("0.40"), D("0.25"), D("0.50")


@pytest.fixture(autouse=True)
def _terms(settings: Any) -> None:
    settings.QUORUM_EXPERT_REVIEW_PRICE = "0.40"
    settings.QUORUM_EXPERT_REVIEW_PAY = "0.25"
    settings.QUORUM_PAY_POST_SECONDS = 0


@pytest.fixture
def erin(db: object) -> User:
    expert = WorkerFactory(username="erin")
    grant(expert, experts.expert_qualification())
    return expert


def _job(acme: Organization, *, items: int, overlap: int = 1) -> Job:
    tier("exact", price=str(ITEM), pay="0.10", overlap=overlap)
    return published(acme, items=items, tier="exact", overlap=overlap, reward_per_judgment=D("0.10"))


def _balance(kind: str, **owner: Any) -> Decimal:
    account = LedgerAccount.objects.filter(kind=kind, **owner).first()
    return account.balance if account else D("0.00")


def _earnings(api: Any) -> dict[str, Decimal]:
    body = api.get("/api/v1/me/earnings/").json()
    return {key: D(body[key]) for key in ("pending", "available", "in_flight", "paid")}


def _ask(api: Any, job: Job, ids: list[int], key: str | None = "ask-1", quote: bool = False) -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    body = {"items": ids, "quote": quote}
    return api.post(f"/api/v1/jobs/{job.pk}/browse/expert-review/", body, format="json", **headers)


def _settle(api: Any, review: ExpertReview, label: str = "cat") -> Any:
    return api.post(f"/api/v1/expert/reviews/{review.pk}/settle/", {"label": label}, format="json")


def _quorum_queued_review(wendy: User, walter: User, acme: Organization) -> ExpertReview:
    """A dynamic job whose one item stays split at its maximum overlap: Quorum queues it."""
    job = published(acme, items=1, overlap=2, max_overlap=2, target_confidence=D("0.95"))
    work_through_flow(wendy, job, "cat")
    work_through_flow(walter, job, "dog")
    return ExpertReview.objects.get(job=job)


# --- reviews Quorum queued: paid from its revenue


def test_a_worker_expert_earns_the_review_pay_from_quorums_revenue_for_a_review_quorum_queued(
    ada: User, acme: Organization, wendy: User, walter: User, erin: User, client_for: Any
) -> None:
    fund(ada, acme, "10.00")
    review = _quorum_queued_review(wendy, walter, acme)
    revenue_before = _balance(AccountKind.PLATFORM_REVENUE)
    answer = _settle(client_for(erin), review)
    assert answer.status_code == 200, answer.content
    assert _earnings(client_for(erin)) == {"pending": PAY, "available": 0, "in_flight": 0, "paid": 0}
    assert _balance(AccountKind.PLATFORM_REVENUE) == revenue_before - PAY
    assert ledger_audit().violations == []


def test_a_retried_settle_pays_the_expert_once(
    ada: User, acme: Organization, wendy: User, walter: User, erin: User, client_for: Any
) -> None:
    fund(ada, acme, "10.00")
    review = _quorum_queued_review(wendy, walter, acme)
    for _ in range(3):
        assert _settle(client_for(erin), review).status_code == 200
    assert _earnings(client_for(erin))["pending"] == PAY
    assert ExpertEarning.objects.filter(worker=erin).count() == 1
    assert ledger_audit().violations == []


def test_an_admin_who_settles_a_review_earns_nothing_and_moves_no_money(
    ada: User, acme: Organization, wendy: User, walter: User, client_for: Any
) -> None:
    fund(ada, acme, "10.00")
    review = _quorum_queued_review(wendy, walter, acme)
    revenue_before = _balance(AccountKind.PLATFORM_REVENUE)
    assert _settle(client_for(ada), review).status_code == 200
    assert not ExpertEarning.objects.exists()
    assert _balance(AccountKind.PLATFORM_REVENUE) == revenue_before
    assert not LedgerAccount.objects.filter(kind=AccountKind.WORKER_PENDING, worker=ada).exists()


def test_review_pay_is_released_after_the_hold_and_paid_out_through_a_payout_batch(
    ada: User, acme: Organization, wendy: User, walter: User, erin: User, client_for: Any, settings: Any
) -> None:
    settings.QUORUM_MIN_PAYOUT = "0.10"
    fund(ada, acme, "10.00")
    _settle(client_for(erin), _quorum_queued_review(wendy, walter, acme))
    erin_api, admin_api = client_for(erin), client_for(ada)
    assert erin_api.post("/api/v1/me/payouts/", {"amount": "0.25"}, format="json").status_code == 402  # on hold

    later = timezone.now() + timedelta(days=settings.QUORUM_EARNINGS_HOLD_DAYS, hours=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        released = payouts.earnings_release()
        assert released.amount >= PAY
        assert payouts.earnings_release().amount == 0  # released once
    assert _earnings(erin_api) == {"pending": 0, "available": PAY, "in_flight": 0, "paid": 0}

    requested = erin_api.post("/api/v1/me/payouts/", {"amount": "0.25"}, format="json", HTTP_IDEMPOTENCY_KEY="p1")
    assert requested.status_code == 201, requested.content
    batch = admin_api.post("/api/v1/admin/payout-batches/").json()
    assert [(p["handle"], D(p["amount"])) for p in batch["payouts"]] == [("erin", PAY)]
    base = f"/api/v1/admin/payout-batches/{batch['id']}"
    assert admin_api.post(f"{base}/approve/").json()["status"] == "approved"
    assert admin_api.post(f"{base}/export/").status_code == 200  # the provider's file, then its payment
    assert admin_api.post(f"{base}/paid/").json()["status"] == "paid"
    assert _earnings(erin_api) == {"pending": 0, "available": 0, "in_flight": 0, "paid": PAY}
    assert ledger_audit().violations == []


# --- reviews the client asks for: held in the escrow, charged when settled


def test_the_quote_says_what_the_reviews_would_hold_and_moves_nothing(
    ada: User, acme: Organization, alice: User, client_for: Any
) -> None:
    fund(ada, acme, "10.00")
    job = _job(acme, items=4)
    ids = list(job.items.order_by("pk").values_list("pk", flat=True))[:3]
    answer = _ask(client_for(alice), job, ids, key=None, quote=True)
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"queued": 3, "price": "0.40", "hold": "1.20", "quote": True, "replayed": False}
    assert not ExpertReview.objects.exists()
    assert _balance(AccountKind.CLIENT_BALANCE, organization=acme) == D("10.00") - 4 * ITEM


def test_asking_holds_items_times_the_price_in_the_escrow_once_per_idempotency_key(
    ada: User, acme: Organization, alice: User, client_for: Any
) -> None:
    fund(ada, acme, "10.00")
    job = _job(acme, items=4)
    ids = list(job.items.order_by("pk").values_list("pk", flat=True))[:3]
    api = client_for(alice)
    assert _ask(api, job, ids, key=None).status_code == 400  # no key, no hold
    first = _ask(api, job, ids)
    assert first.json() == {"queued": 3, "price": "0.40", "hold": "1.20", "quote": False, "replayed": False}
    again = _ask(api, job, ids)  # a retry: nothing more, and the first answer again
    assert again.json() == {"queued": 3, "price": "0.40", "hold": "1.20", "quote": False, "replayed": True}
    other = list(job.items.order_by("pk").values_list("pk", flat=True))[3:]
    clash = _ask(api, job, other)  # the same key for other items: refused, not quietly ignored
    assert clash.status_code == 409 and clash.json()["error"]["details"]["differs"] == ["items"]
    assert _balance(AccountKind.CLIENT_BALANCE, organization=acme) == D("10.00") - 4 * ITEM - 3 * PRICE
    assert _balance(AccountKind.CLIENT_ESCROW, job=job) == 4 * ITEM + 3 * PRICE
    assert ExpertReview.objects.filter(job=job).count() == 3
    assert ledger_audit().violations == []


def test_a_short_balance_is_a_402_naming_what_is_missing_and_no_item_is_queued(
    ada: User, acme: Organization, alice: User, client_for: Any
) -> None:
    fund(ada, acme, str(4 * ITEM + PRICE))  # the job's escrow and one review
    job = _job(acme, items=4)
    answer = _ask(client_for(alice), job, list(job.items.values_list("pk", flat=True)))
    assert answer.status_code == 402
    error = answer.json()["error"]
    assert error["code"] == "insufficient_funds" and D(error["details"]["missing"]) == 3 * PRICE
    assert not ExpertReview.objects.exists()
    assert _balance(AccountKind.CLIENT_BALANCE, organization=acme) == PRICE
    assert ledger_audit().violations == []


def test_the_client_pays_for_the_reviews_settled_before_settlement_and_gets_the_rest_of_the_hold_back(
    ada: User, acme: Organization, alice: User, erin: User, client_for: Any
) -> None:
    fund(ada, acme, "10.00")
    job = _job(acme, items=4)
    ids = list(job.items.order_by("pk").values_list("pk", flat=True))[:3]
    _ask(client_for(alice), job, ids)
    by_erin, by_ada, never = ExpertReview.objects.filter(job=job).order_by("pk")
    revenue_before = _balance(AccountKind.PLATFORM_REVENUE)
    assert _settle(client_for(erin), by_erin).status_code == 200
    assert _settle(client_for(ada), by_ada).status_code == 200
    assert _balance(AccountKind.CLIENT_ESCROW, job=job) == 4 * ITEM + 3 * PRICE - PAY  # the expert's pay
    assert _balance(AccountKind.PLATFORM_REVENUE) == revenue_before  # Quorum paid nothing

    flows.job_cancel(job=job, user=alice)  # settles: no item completed, two reviews settled
    charged = 0 * ITEM + 2 * PRICE
    assert _balance(AccountKind.CLIENT_BALANCE, organization=acme) == D("10.00") - charged
    assert _balance(AccountKind.CLIENT_ESCROW, job=job) == 0
    assert _balance(AccountKind.PLATFORM_REVENUE) == revenue_before + charged - PAY  # Quorum's margin
    assert _earnings(client_for(erin))["pending"] == PAY
    budget = JobBudget.objects.get(job=job)
    assert (budget.charged, budget.reviews_charged, budget.spent) == (charged, charged, PAY)
    invoice = client_for(alice).get(f"/api/v1/jobs/{job.pk}/invoice/").json()
    assert invoice["total"] == f"{charged:.2f}"
    assert invoice["expert_reviews"] == [
        {"job": job.pk, "title": job.title, "reviews": 2, "price": "0.40", "amount": "0.80"}
    ]
    assert never.status == ExpertReview.Status.OPEN
    assert ledger_audit().violations == []


def test_a_review_the_client_asked_for_settled_after_the_job_settled_is_paid_by_quorum_and_never_charged(
    ada: User, acme: Organization, alice: User, wendy: User, erin: User, client_for: Any
) -> None:
    fund(ada, acme, "10.00")
    job = _job(acme, items=2)
    _ask(client_for(alice), job, list(job.items.values_list("pk", flat=True)))
    work_through_flow(wendy, job)
    work_through_flow(wendy, job)  # completes the job: it settles
    job.refresh_from_db()
    assert job.status == "completed" and JobBudget.objects.get(job=job).settled_at is not None
    charged = 2 * ITEM + 0 * PRICE
    assert _balance(AccountKind.CLIENT_BALANCE, organization=acme) == D("10.00") - charged
    revenue_before = _balance(AccountKind.PLATFORM_REVENUE)

    review = ExpertReview.objects.filter(job=job).first()
    assert _settle(client_for(erin), review).status_code == 200
    assert _earnings(client_for(erin))["pending"] == PAY
    assert _balance(AccountKind.PLATFORM_REVENUE) == revenue_before - PAY
    assert _balance(AccountKind.CLIENT_BALANCE, organization=acme) == D("10.00") - charged  # unchanged
    assert client_for(alice).get(f"/api/v1/jobs/{job.pk}/invoice/").json()["expert_reviews"] == []
    assert ledger_audit().violations == []


def test_a_settled_job_takes_no_expert_review_request(
    ada: User, acme: Organization, alice: User, wendy: User, client_for: Any
) -> None:
    fund(ada, acme, "10.00")
    job = _job(acme, items=1)
    work_through_flow(wendy, job)  # completes and settles the job
    answer = _ask(client_for(alice), job, list(job.items.values_list("pk", flat=True)))
    assert answer.status_code == 409 and "settled" in answer.json()["error"]["message"]
    assert not ExpertReview.objects.exists()


def test_the_flow_refuses_another_organizations_job(
    ada: User, acme: Organization, carol: User
) -> None:
    fund(ada, acme, "10.00")
    job = _job(acme, items=1)
    with pytest.raises(NotFound):
        flows_experts.expert_reviews_ask(job=job, user=carol, item_ids=[job.items.get().pk], key="k")
    assert not ExpertReview.objects.exists()


# --- the audit


def test_the_audit_notices_an_expert_earning_that_does_not_match_the_money_it_moved(
    ada: User, acme: Organization, wendy: User, walter: User, erin: User, client_for: Any
) -> None:
    fund(ada, acme, "10.00")
    _settle(client_for(erin), _quorum_queued_review(wendy, walter, acme))
    ExpertEarning.objects.update(amount=D("0.30"))
    violations = ledger_audit().violations
    assert any("expert pay" in v and "0.30" in v for v in violations), violations


def test_the_audit_notices_a_settlement_that_did_not_charge_the_reviews_it_should(
    ada: User, acme: Organization, alice: User, erin: User, client_for: Any
) -> None:
    fund(ada, acme, "10.00")
    job = _job(acme, items=2)
    _ask(client_for(alice), job, list(job.items.values_list("pk", flat=True)))
    _settle(client_for(erin), ExpertReview.objects.filter(job=job).first())
    flows.job_cancel(job=job, user=alice)
    JobBudget.objects.filter(job=job).update(reviews_charged=D("0.00"))
    violations = ledger_audit().violations
    assert any("expert reviews" in v for v in violations), violations


def test_the_experts_earnings_page_lists_the_review_pay_by_job_and_day(
    ada: User, acme: Organization, wendy: User, walter: User, erin: User, client_for: Any, client: Any
) -> None:
    fund(ada, acme, "10.00")
    review = _quorum_queued_review(wendy, walter, acme)
    _settle(client_for(erin), review)
    client.force_login(erin)
    page = client.get("/work/earnings/")
    rows = page.context["earnings"]
    assert [(row["title"], row["answers"], row["pending"]) for row in rows] == [
        (f"{review.job.title} (expert reviews)", 1, "$0.25")
    ]
    assert "$0.25" in page.content.decode()


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_settle_racing_the_jobs_settlement_is_either_charged_and_paid_from_the_escrow_or_neither(
    ada: User, acme: Organization, alice: User, erin: User, client_for: Any
) -> None:
    """Threads with their own connections: the expert settles while Alice cancels the job. The
    budget lock orders them, so the review is charged (its expert paid from the escrow) exactly
    when its settle came first; otherwise the hold comes back and Quorum pays the expert (or,
    when the cancellation committed before the settle began, the review is gone from the queue)."""
    fund(ada, acme, "10.00")
    job = _job(acme, items=2)
    _ask(client_for(alice), job, list(job.items.values_list("pk", flat=True))[:1])
    review = ExpertReview.objects.get(job=job)
    start, failures = threading.Barrier(2), []

    def run(action: Any) -> None:
        try:
            start.wait()
            action()
        except NotFound:
            pass  # the job was cancelled first: its reviews are no one's to settle
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(lambda: flows_experts.expert_review_settle(
            expert=erin, review_id=review.pk, label="cat"),)),
        threading.Thread(target=run, args=(lambda: flows.job_cancel(job=Job.objects.get(pk=job.pk), user=alice),)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    earning = ExpertEarning.objects.filter(review=review).first()
    charged = PRICE if earning and earning.paid_by == ExpertEarning.Payer.CLIENT else D("0.00")
    assert earning is None or earning.amount == PAY
    assert JobBudget.objects.get(job=job).reviews_charged == charged
    assert _balance(AccountKind.CLIENT_BALANCE, organization=acme) == D("10.00") - charged
    assert ledger_audit().violations == []


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_two_copies_of_one_review_request_at_once_both_say_what_the_first_did(
    ada: User, acme: Organization, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alice's client retries with the same Idempotency-Key while the first request still runs:
    the copy waits for it and answers `replayed` (before, it answered "0 queued, nothing held",
    as if the items had been sent to review by someone else)."""
    fund(ada, acme, "10.00")
    job = _job(acme, items=3)
    ids = list(job.items.values_list("pk", flat=True))
    held, go = hold_thread_in(monkeypatch, expert_pay, "expert_reviews_hold", thread="first")

    def ask() -> flows_experts.ExpertReviewsAsked:
        return flows_experts.expert_reviews_ask(job=job, user=alice, item_ids=ids, key="ask-retried")

    outcomes: dict[str, Any] = {}
    first, copy = thread_recording(outcomes, "first", ask), thread_recording(outcomes, "copy", ask)
    first.start()
    assert held.wait(WAIT), "the first request never reached its hold"
    copy.start()
    until(lambda: sessions_waiting_for_a_lock() == 1, "the copy queuing behind the first request")
    go.set()
    for thread in (first, copy):
        thread.join(WAIT)
    assert thread_failures(outcomes) == {}
    assert (outcomes["first"].items, outcomes["first"].hold, outcomes["first"].replayed) == (3, 3 * PRICE, False)
    assert outcomes["copy"].replayed is True
    assert _balance(AccountKind.CLIENT_BALANCE, organization=acme) == D("10.00") - 3 * ITEM - 3 * PRICE
    assert ledger_audit().violations == []
