"""Asking for more judgments from the data browser (flows_more.items_more_judgments), over the API.

Alice (Acme) has an open job whose items i2, i3 and i4 the crowd disagreed on; she sends them
back for two more judgments each. The worst-case pay of those judgments moves from Acme's balance
into the job's escrow, the items reopen, and new workers get them through the normal work API.
Carol (Globex) must not be able to touch the job. Every test ends with the ledger audit clean.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import Any

import pytest
from django.db.models import Count
from django.urls import reverse

from marketplace import flows, flows_more
from marketplace.accounts.models import User
from marketplace.billing import escrow
from marketplace.billing.audit import ledger_audit
from marketplace.billing.invoices import invoice_for_job
from marketplace.billing.models import JobBudget
from marketplace.billing.selectors import organization_balance
from marketplace.jobs.models import Item, Job, JobStatus
from marketplace.jobs.services import job_transition
from marketplace.labeling.models import Judgment, Lease
from marketplace.billing.selectors import job_escrow
from tests.billing.helpers import work_through_flow
from tests.conftest import needs_postgres
from tests.factories import WorkerFactory, fund, open_job_with_items
from tests.portal import browser
from tests.quality.worker_helpers import answer_regular
from tests.quality.browse_helpers import browsed_job
from tests.threads import WAIT, failures, hold_thread_in, sessions_waiting_for_a_lock, thread_recording, until

pytestmark = pytest.mark.django_db

DISAGREED = {"agreement_below": "0.9"}  # i2, i3, i4


@pytest.fixture
def job(alice: User) -> Job:
    return browsed_job(organization=alice.organization)


def more(api: Any, job: Job, body: dict[str, Any], key: str | None = "k-1") -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post(f"/api/v1/jobs/{job.pk}/browse/more-judgments/", body, format="json", **headers)


def expected_hold(job: Job, judgments: int) -> Decimal:
    """The worst case, recomputed here: each judgment's pay rounded up to the cent, gold mixed in
    at the job's rate, the total rounded up to the cent."""
    pay = JobBudget.objects.get(job=job).pay_per_judgment.quantize(Decimal("0.01"), ROUND_CEILING)
    return (judgments * pay / (1 - job.gold_rate)).quantize(Decimal("0.01"), ROUND_CEILING)


def state(job: Job) -> tuple[Any, ...]:
    """Everything an action could change: balance, budget, items' targets and completion."""
    items = tuple(Item.objects.filter(job=job).order_by("pk").values_list("is_complete", "extra_judgments"))
    budget = JobBudget.objects.get(job=job)
    return organization_balance(organization=job.organization), budget.budget, budget.added, items


def test_the_quote_says_what_the_judgments_hold_before_anything_moves(
    job: Job, alice: User, client_for: Any
) -> None:
    before = state(job)
    answer = more(client_for(alice), job, {"more": 2, "filter": DISAGREED, "quote": True}, key=None)
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"items": 3, "judgments": 6, "hold": str(expected_hold(job, 6)),
                             "quote": True, "replayed": False}
    assert state(job) == before


def test_more_judgments_reopen_the_items_escrow_their_cost_and_reach_new_workers(
    job: Job, alice: User, client_for: Any
) -> None:
    hold = expected_hold(job, 6)
    fund(job.organization, hold)
    balance = organization_balance(organization=job.organization)
    budget = JobBudget.objects.get(job=job)
    api = client_for(alice)

    answer = more(api, job, {"more": 2, "filter": DISAGREED})
    assert answer.status_code == 200, answer.content
    assert answer.json()["hold"] == str(hold) and answer.json()["items"] == 3
    assert organization_balance(organization=job.organization) == balance - hold
    after = JobBudget.objects.get(job=job)
    assert (after.budget, after.added) == (budget.budget + hold, budget.added + hold)
    reopened = Item.objects.filter(job=job, external_id__in=["i2", "i3", "i4"])
    assert {(i.is_complete, i.extra_judgments) for i in reopened} == {(False, 2)}
    assert ledger_audit().violations == []

    # Two new workers label through the work API: the reopened items come first.
    for name in ("newcomer1", "newcomer2"):
        worker = client_for(WorkerFactory(username=name))
        for _ in range(3):
            lease = worker.post("/api/v1/work/next/", {"job": job.pk}, format="json").json()
            assert Lease.objects.get(pk=lease["lease"]).item_id in {i.pk for i in reopened}
            submitted = worker.post(f"/api/v1/work/leases/{lease['lease']}/submit/", {"label": "cat"}, format="json")
            assert submitted.status_code in (200, 201), submitted.content
    for item in reopened.all():
        assert (item.judgment_count, item.is_complete) == (5, True)
    listed = api.get(f"/api/v1/jobs/{job.pk}/browse/", {"external_id": "i3"}).json()["results"][0]
    assert listed["judgment_count"] == 5
    assert ledger_audit().violations == []


def test_a_replayed_key_does_nothing_more_and_answers_what_the_first_request_did(
    job: Job, alice: User, client_for: Any
) -> None:
    fund(job.organization, expected_hold(job, 6))
    api = client_for(alice)
    first = more(api, job, {"more": 2, "filter": DISAGREED})
    assert first.status_code == 200, first.content
    before = state(job)
    again = more(api, job, {"more": 2, "filter": DISAGREED})
    assert again.status_code == 200
    assert again.json() == {"items": 3, "judgments": 6, "hold": str(expected_hold(job, 6)),
                            "quote": False, "replayed": True}
    assert state(job) == before


def test_a_key_sent_again_with_another_body_is_a_409_naming_the_clash_and_nothing_changes(
    job: Job, alice: User, client_for: Any
) -> None:
    fund(job.organization, expected_hold(job, 6) + expected_hold(job, 5))
    api = client_for(alice)
    assert more(api, job, {"more": 2, "filter": DISAGREED}).status_code == 200
    before = state(job)
    i5 = Item.objects.get(job=job, external_id="i5").pk

    clash = more(api, job, {"more": 5, "items": [i5]})

    assert clash.status_code == 409, clash.content
    error = clash.json()["error"]
    assert error["details"]["differs"] == ["filter", "items", "more"]
    assert error["details"]["first"]["body"] == {"more": 2, "filter": DISAGREED}
    assert "Idempotency-Key" in error["message"]
    assert state(job) == before


def test_a_key_is_the_jobs_a_key_its_escrow_addition_used_is_a_409_here_and_another_job_may_use_it(
    job: Job, alice: User, client_for: Any
) -> None:
    other = open_job_with_items(items=2, organization=alice.organization)
    fund(job.organization, expected_hold(job, 6) + expected_hold(other, 2) + Decimal("1.00"))
    api = client_for(alice)
    added = api.post(f"/api/v1/jobs/{job.pk}/escrow/", {"amount": "1.00"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert added.status_code == 200, added.content
    before = state(job)

    clash = more(api, job, {"more": 2, "filter": DISAGREED}, key="k-1")
    after_clash = state(job)
    elsewhere = more(api, other, {"more": 1, "items": list(other.items.values_list("pk", flat=True))}, key="k-1")

    assert clash.status_code == 409 and clash.json()["error"]["details"]["differs"] == ["operation"]
    assert after_clash == before
    assert elsewhere.status_code == 200, elsewhere.content
    assert (elsewhere.json()["items"], elsewhere.json()["replayed"]) == (2, False)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_three_copies_of_one_request_at_once_reopen_the_items_once_and_hold_once(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alice's client retries twice with the same Idempotency-Key while the first request is still
    running (a timeout). The first is held just before it moves the hold, items reopened; the
    copies arrive meanwhile, and must wait for it and then change nothing. Before, they checked the
    key unlocked, reopened the items again and again, and the one hold paid for 18 judgments."""
    job = browsed_job(organization=alice.organization)
    hold = expected_hold(job, 6)
    fund(job.organization, hold * 3)  # enough for every copy: only the key may stop the copies
    balance = organization_balance(organization=job.organization)
    chosen = list(Item.objects.filter(job=job, external_id__in=["i2", "i3", "i4"]).values_list("pk", flat=True))
    held, go = hold_thread_in(monkeypatch, escrow, "job_escrow_add", thread="first")

    def ask() -> flows_more.MoreJudgments:
        return flows_more.items_more_judgments(job=job, user=alice, item_ids=chosen, more=2, key="k-retried")

    outcomes: dict[str, Any] = {}
    first = thread_recording(outcomes, "first", ask)
    copies = [thread_recording(outcomes, name, ask) for name in ("copy1", "copy2")]
    first.start()
    assert held.wait(WAIT), "the first request never reached its hold"
    for copy in copies:
        copy.start()
    until(lambda: sessions_waiting_for_a_lock() == 2, "both copies queuing behind the first request")
    go.set()
    for thread in (first, *copies):
        thread.join(WAIT)

    assert failures(outcomes) == {}
    assert (outcomes["first"].items, outcomes["first"].hold, outcomes["first"].replayed) == (3, hold, False)
    assert [outcomes[name].replayed for name in ("copy1", "copy2")] == [True, True]
    # Each item wants its overlap (3, all given) plus the 2 asked for: 5, not 9.
    wants = Item.objects.filter(pk__in=chosen).values_list("extra_judgments", flat=True)
    assert [job.overlap + extra for extra in wants] == [5, 5, 5]
    assert organization_balance(organization=job.organization) == balance - hold
    assert JobBudget.objects.get(job=job).added == hold
    assert ledger_audit().violations == []


def test_without_the_funds_it_is_a_402_and_no_item_reopens(job: Job, alice: User, client_for: Any) -> None:
    before = state(job)
    answer = more(client_for(alice), job, {"more": 2, "filter": DISAGREED})
    assert answer.status_code == 402
    assert answer.json()["error"]["details"]["missing"] == str(expected_hold(job, 6))
    assert state(job) == before


@pytest.mark.parametrize("body, key", [
    ({"more": 0, "filter": DISAGREED}, "k"), ({"more": 11, "filter": DISAGREED}, "k"),
    ({"more": "2", "filter": DISAGREED}, "k"), ({"more": 2.5, "filter": DISAGREED}, "k"),
    ({"more": 2, "items": list(range(1, 1002))}, "k"), ({"more": 2, "filter": {"label": "horse"}}, "k"),
    ({"more": 2, "filter": DISAGREED}, None), ({"more": 2, "filter": DISAGREED}, "bad key!"),
])
def test_bad_input_is_a_400_and_changes_nothing(
    job: Job, alice: User, client_for: Any, body: dict[str, Any], key: str | None
) -> None:
    fund(job.organization, "10.00")
    before = state(job)
    assert more(client_for(alice), job, body, key=key).status_code == 400
    assert state(job) == before


def test_a_misspelled_filter_key_is_a_400_naming_it_and_reopens_nothing(
    job: Job, alice: User, client_for: Any
) -> None:
    # Before, the unknown key was dropped: "no filter", so every item reopened and was paid for.
    fund(job.organization, "10.00")
    before = state(job)
    answer = more(client_for(alice), job, {"more": 2, "filter": {"confidence_maximum": "0.1"}})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert "confidence_maximum" in error["message"] and "confidence_max" in error["details"]["allowed"]
    assert state(job) == before


def test_another_organization_cannot_ask_for_judgments(job: Job, carol: User, client_for: Any) -> None:
    fund(carol.organization, "10.00")
    before = state(job)
    item = Item.objects.get(job=job, external_id="i2")
    assert more(client_for(carol), job, {"more": 2, "items": [item.pk]}).status_code == 404
    assert state(job) == before


def test_a_finished_job_takes_no_more_judgments(job: Job, alice: User, client_for: Any) -> None:
    job_transition(job=job, to=JobStatus.CANCELLED)
    answer = more(client_for(alice), job, {"more": 1, "filter": DISAGREED})
    assert answer.status_code == 409


def test_gold_items_and_other_jobs_ids_are_passed_over(job: Job, alice: User, client_for: Any) -> None:
    from tests.factories import open_job_with_items

    fund(job.organization, "10.00")
    other = open_job_with_items(items=1, organization=job.organization)
    ids = [Item.objects.get(job=job, external_id="g0").pk, other.items.get().pk,
           Item.objects.get(job=job, external_id="i0").pk]
    answer = more(client_for(alice), job, {"more": 1, "items": ids})
    assert answer.json()["items"] == 1 and answer.json()["hold"] == str(expected_hold(job, 1))
    assert other.items.get().extra_judgments == 0
    assert ledger_audit().violations == []


def _cancel_and_settle(api: Any, job: Job) -> JobBudget:
    assert api.post(f"/api/v1/jobs/{job.pk}/cancel/").status_code == 200
    return JobBudget.objects.get(job=job)


def test_items_reopened_after_they_completed_are_still_charged_when_the_job_is_cancelled(
    job: Job, alice: User, client_for: Any
) -> None:
    """Alice got six items complete (results delivered), asks for more judgments on three of them,
    then cancels before anyone answers: the six are charged, as without the request; the hold
    for the judgments nobody gave comes back to her."""
    completed = Item.objects.filter(job=job, is_gold=False, is_complete=True).count()
    assert completed == 6
    hold = expected_hold(job, 3)
    fund(job.organization, hold)
    api = client_for(alice)
    assert more(api, job, {"more": 1, "filter": DISAGREED}).json()["items"] == 3
    job.refresh_from_db()
    assert job.completed_item_count == 3  # the three reopened items are open again
    budget = JobBudget.objects.get(job=job)
    balance = organization_balance(organization=job.organization)

    settled = _cancel_and_settle(api, job)
    price = budget.price_per_item
    charge = (completed * price).quantize(Decimal("0.01"))  # no gold judged: no quality credit
    assert (settled.completed_items, settled.charged) == (completed, charge)
    assert settled.refunded == budget.budget - charge
    assert organization_balance(organization=job.organization) == balance + budget.budget - charge
    assert ledger_audit().violations == []


def test_a_reopened_item_that_completes_again_is_charged_once(job: Job, alice: User, client_for: Any) -> None:
    fund(job.organization, expected_hold(job, 1))
    api = client_for(alice)
    item = Item.objects.get(job=job, external_id="i2")
    assert more(api, job, {"more": 1, "items": [item.pk]}).json()["items"] == 1
    newcomer = client_for(WorkerFactory(username="newcomer"))
    lease = newcomer.post("/api/v1/work/next/", {"job": job.pk}, format="json").json()["lease"]
    assert newcomer.post(f"/api/v1/work/leases/{lease}/submit/", {"label": "cat"}, format="json").status_code == 201
    item.refresh_from_db()
    assert item.is_complete and item.reopened_complete

    settled = _cancel_and_settle(api, job)
    assert settled.completed_items == 6
    assert ledger_audit().violations == []


def _delivered_then_asked_for_two_more(alice: User) -> tuple[Job, list[int], Decimal]:
    """Alice's job: 11 items at overlap 1; one worker delivers 10 of them (the 11th keeps the job
    open), then Alice asks for 2 more judgments on those 10. Returns the job, the 10 items, and all
    of Alice's money (balance and escrow) just before the request, plus the hold she funds."""
    job = open_job_with_items(items=11, overlap=1, organization=alice.organization)
    first = WorkerFactory()
    for _ in range(10):
        work_through_flow(first, job)
    delivered = list(job.items.filter(is_complete=True).values_list("pk", flat=True))
    assert len(delivered) == 10
    hold = expected_hold(job, 20)
    fund(job.organization, hold)
    # Her balance plus what publishing moved into the escrow (workers' pay is owed out of it).
    money_before = organization_balance(organization=job.organization) + JobBudget.objects.get(job=job).budget
    assert flows_more.items_more_judgments(job=job, user=alice, item_ids=delivered, more=2, key="m-1").hold == hold
    return job, delivered, money_before


def _paid_in_all(job: Job, money_before: Decimal) -> Decimal:
    """What Alice paid for the job in all, once it settled: her money then, less her balance now."""
    assert JobBudget.objects.get(job=job).settled_at is not None and job_escrow(job_id=job.pk) == 0
    return money_before - organization_balance(organization=job.organization)


@pytest.mark.parametrize("workers, extra_given", [(2, 20), (1, 10)])
def test_the_client_pays_the_more_judgments_given_at_the_pay_and_gets_the_unused_hold_back(
    alice: User, workers: int, extra_given: int
) -> None:
    """All 20 asked-for judgments given (two new workers), or half of them (one): Alice pays the
    10 delivered items and each judgment given at the job's pay; the rest of the hold comes back.
    Before, every extra judgment was free: the whole hold came back."""
    job, delivered, money_before = _delivered_then_asked_for_two_more(alice)
    for _ in range(workers):
        worker = WorkerFactory()
        for _ in range(10):
            work_through_flow(worker, job)  # reopened items are served first
    assert sum(Item.objects.filter(pk__in=delivered).values_list("judgment_count", flat=True)) == 10 + extra_given
    assert job.items.exclude(pk__in=delivered).get().judgment_count == 0
    flows.job_cancel(job=Job.objects.get(pk=job.pk), user=alice)

    terms = JobBudget.objects.get(job=job)
    price, pay = terms.price_per_item, terms.pay_per_judgment
    expected = (10 * price + extra_given * pay).quantize(Decimal("0.01"))  # no gold: no quality credit
    assert _paid_in_all(job, money_before) == expected
    invoice = invoice_for_job(job=job)
    assert invoice.total == expected and [(e.judgments, e.amount) for e in invoice.extras] == [
        (extra_given, (extra_given * pay).quantize(Decimal("0.01")))]
    page = browser(alice).get(f"{reverse('job-invoice', args=[job.pk])}?format=html").content.decode()
    assert f'data-invoice="extra-judgments"><td>#{job.pk} {job.title}</td><td class="num">{extra_given}<' in page
    assert ledger_audit().violations == []


def test_gold_mixed_into_the_more_judgments_is_paid_by_quorum_and_not_charged(alice: User) -> None:
    """The hold counts gold mixed in (its worst case), but the client pays only the judgments given
    on her items, each at the pay: the gold answers the new workers give are paid to them from the
    escrow and are Quorum's cost, and their share of the hold comes back. Recomputed by hand."""
    job = open_job_with_items(items=11, gold=6, overlap=1, gold_rate=Decimal("0.3"), organization=alice.organization)
    answer_regular(WorkerFactory(), job, count=10)
    delivered = list(job.items.filter(is_complete=True, is_gold=False).values_list("pk", flat=True))
    assert len(delivered) == 10
    hold = expected_hold(job, 20)
    fund(job.organization, hold)
    money_before = organization_balance(organization=job.organization) + JobBudget.objects.get(job=job).budget
    flows_more.items_more_judgments(job=job, user=alice, item_ids=delivered, more=2, key="m-1")
    newcomers = [WorkerFactory(), WorkerFactory()]
    for worker in newcomers:
        answer_regular(worker, job, count=10)  # reopened items first; gold answered right on the way
    flows.job_cancel(job=Job.objects.get(pk=job.pk), user=alice)

    terms = JobBudget.objects.get(job=job)
    price, pay = terms.price_per_item, terms.pay_per_judgment
    gold_given = Judgment.objects.filter(job=job, worker__in=newcomers, is_gold=True).count()
    assert gold_given > 0  # gold was mixed into the more judgments, and its pay is owed
    expected = (10 * price + 20 * pay).quantize(Decimal("0.01"))  # too little gold to measure: no credit
    assert _paid_in_all(job, money_before) == expected
    per_worker = Judgment.objects.filter(job=job).values("worker").annotate(n=Count("id")).values_list("n", flat=True)
    workers_paid = sum(((n * pay).quantize(Decimal("0.01")) for n in per_worker), Decimal("0.00"))
    assert terms.spent == workers_paid and terms.revenue == expected - workers_paid
    assert ledger_audit().violations == []
