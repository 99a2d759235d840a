"""Property: random sequences of top-ups, publishes, submits, retries, blocks, releases, credits,
completions, cancellations and payouts keep the ledger whole after every step: every transaction
balanced, every cached balance equal to its entries, no protected balance negative, no judgment
paid twice, no job charged twice (the billing audit), and each refusal explained by the numbers.

Submits run through the flow: each records its pay, owed from the escrow, and the schedule posts
it in batches (a step of its own here). The hold covers every item's worst-case pay and Quorum
covers pay a blocked worker kept, so no submit is ever refused for want of escrow.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, event
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from marketplace.billing.posting import pay_post_tick
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import Earning, JobBudget, LedgerTransaction, PayoutBatch, Tier
from marketplace.billing.payouts import (
    earnings_release,
    payout_batch_approve,
    payout_batch_create,
    payout_batch_export_csv,
    payout_batch_mark_paid,
    payout_batch_reject,
    payout_request,
)
from marketplace.billing.pricing import hold, money
from marketplace.billing.selectors import job_escrow, organization_balance, worker_money
from marketplace.billing.services import (
    InsufficientFunds,
    job_escrow_open,
    job_quality_credit,
    job_settle,
    judgment_pay,
)
from marketplace.billing.reversals import worker_job_pay_reverse
from marketplace.errors import ApplicationError, Conflict
from marketplace.jobs.models import Job, JobStatus
from marketplace.jobs.services import job_transition
from marketplace.labeling.models import Judgment
from marketplace.labeling.relabeling import judgments_drop
from tests.billing.helpers import D, fund, work_through_flow
from tests.conftest import needs_postgres
from tests.factories import AdminFactory, OrganizationFactory, WorkerFactory, open_job_with_items

# tier: the job's pay. "penny" pays 0.0125 (the remainder rule); "tight" prices an item at two
# judgments of its three, so it holds its pay instead of its price and settles at a loss.
TIERS = {"economy": "0.0150", "standard": "0.0200", "penny": "0.0125", "tight": "0.0200"}
EXTRA_TIERS = {"penny": ("0.0500", "0.0125"), "tight": ("0.0400", "0.0200")}
PICK = st.integers(min_value=0, max_value=1000)


class MoneyMachine(RuleBasedStateMachine):
    """Each example has its own people and money; preconditions read only the machine's own
    state (the database keeps earlier examples' rows, which hypothesis must not depend on)."""

    def __init__(self) -> None:
        super().__init__()
        self.admin = AdminFactory()
        self.workers = [WorkerFactory() for _ in range(4)]
        self.orgs = [OrganizationFactory() for _ in range(2)]
        self.earnings: list[int] = []
        self.jobs: list[Job] = []
        self.batches: list[PayoutBatch] = []
        self.later = timezone.now()

    @initialize()
    def open_accounts(self) -> None:
        """Each example starts with money and a published job, so work begins at once."""
        for org in (0, 1):
            self.top_up(org=org, cents=1000)
            self.publish(org=org, items=4, gold=1, tier="standard")

    def _job(self, pick: int) -> Job:
        job = self.jobs[pick % len(self.jobs)]
        job.refresh_from_db()
        return job

    @rule(org=st.integers(0, 1), cents=st.integers(1, 2000))
    def top_up(self, org: int, cents: int) -> None:
        fund(self.admin, self.orgs[org], str(D(cents) / 100), ref=uuid.uuid4().hex)

    @rule(
        org=st.integers(0, 1),
        items=st.integers(1, 5),
        gold=st.integers(0, 2),
        tier=st.sampled_from(sorted(TIERS)),
    )
    def publish(self, org: int, items: int, gold: int, tier: str) -> None:
        organization = self.orgs[org]
        before = organization_balance(organization=organization)
        job = open_job_with_items(
            organization=organization,
            items=items,
            gold=gold,
            publish=False,
            tier=tier,
            gold_rate="0.1" if gold else "0",
            reward_per_judgment=TIERS[tier],
        )
        try:
            with transaction.atomic():
                budget = job_escrow_open(job=job)
                job_transition(job=job, to=JobStatus.OPEN)
        except InsufficientFunds as refused:
            assert D(refused.details["needed"]) > before
            assert organization_balance(organization=organization) == before
            return
        assert budget.budget == hold(items, budget.escrow_per_item)  # rounded up
        assert organization_balance(organization=organization) == before - budget.budget
        self.jobs.append(job)

    @precondition(lambda self: self.jobs)
    @rule(job=PICK, worker=st.integers(0, 3), times=st.integers(1, 4))
    def submit(self, job: int, worker: int, times: int) -> None:
        target = self._job(job)
        for _ in range(times):
            if target.status != JobStatus.OPEN:
                return
            escrow = job_escrow(job_id=target.pk)
            earning = work_through_flow(self.workers[worker], target)  # never refused for funds
            target.refresh_from_db()
            if earning is not None:
                self.earnings.append(earning.pk)
                if target.status == JobStatus.COMPLETED:  # this submit completed it: settled at once
                    event("a submit completed and settled its job")
                    assert job_escrow(job_id=target.pk) == D("0.00")
                    assert JobBudget.objects.get(job=target).settled_at is not None
                else:
                    # Never below zero: pay a blocked worker kept is Quorum's to cover.
                    assert job_escrow(job_id=target.pk) == max(escrow - earning.amount, D("0.00"))

    @rule()
    def post_pay(self) -> None:
        """The posting schedule moves owed pay into the ledger: what anyone reads stays the same."""
        escrows = {job.pk: job_escrow(job_id=job.pk) for job in self.jobs}
        pending = [worker_money(worker=w).pending for w in self.workers]
        if pay_post_tick().covered:
            event("posting covered pay the escrow could not")
        assert {job.pk: job_escrow(job_id=job.pk) for job in self.jobs} == escrows
        assert [worker_money(worker=w).pending for w in self.workers] == pending

    @precondition(lambda self: self.earnings)
    @rule(pick=PICK)
    def retry(self, pick: int) -> None:
        earning = Earning.objects.get(pk=self.earnings[pick % len(self.earnings)])
        transactions = LedgerTransaction.objects.count()
        assert judgment_pay(judgment=Judgment.objects.get(pk=earning.judgment_id)).pk == earning.pk
        assert LedgerTransaction.objects.count() == transactions

    @precondition(lambda self: self.jobs)
    @rule(job=PICK, worker=st.integers(0, 3))
    def block(self, job: int, worker: int) -> None:
        target, blocked = self._job(job), self.workers[worker]
        pending = worker_money(worker=blocked).pending
        with transaction.atomic():
            judgments_drop(job_id=target.pk, worker_id=blocked.pk)
            earnings = worker_job_pay_reverse(job_id=target.pk, worker_id=blocked.pk, block_event_id=None)
        if earnings:
            event("a block withdrew or kept pay")
        withdrawn = sum(
            (e.amount for e in earnings if e.status == Earning.Status.REVERSED), D("0.00")
        )
        assert worker_money(worker=blocked).pending == pending - withdrawn

    @rule(days=st.integers(0, 8))  # one step may pass the 7-day hold, so payouts follow
    def release(self, days: int) -> None:
        self.later += timedelta(days=days)
        earnings_release(now=self.later)

    @precondition(lambda self: self.jobs)
    @rule(job=PICK, points=st.integers(0, 20))
    def credit(self, job: int, points: int) -> None:
        target = self._job(job)
        delivered = D("0.95") - D(points) / 100
        try:
            job_quality_credit(
                job=target,
                delivered_accuracy=delivered,
                interval=(delivered - D("0.02"), delivered + D("0.02")),
                method="property test",
            )
        except Conflict:
            assert JobBudget.objects.get(job=target).settled_at is not None

    @precondition(lambda self: self.jobs)
    @rule(job=PICK, cancel=st.booleans())
    def finish(self, job: int, cancel: bool) -> None:
        target = self._job(job)
        if target.status in (JobStatus.OPEN, JobStatus.PAUSED):
            target = job_transition(
                job=target, to=JobStatus.CANCELLED if cancel else JobStatus.COMPLETED
            )
        budget = job_settle(job=target)
        assert budget is not None and budget.charged is not None
        assert job_escrow(job_id=target.pk) == D("0.00")
        assert (
            budget.charged == money(budget.completed_items * budget.price_per_item) - budget.credits
        )
        assert budget.charged <= budget.budget and budget.refunded == budget.budget - budget.charged

    @rule(worker=st.integers(0, 3), cents=st.integers(1, 10))
    def request_payout(self, worker: int, cents: int) -> None:
        amount = D(cents) / 100
        available = worker_money(worker=self.workers[worker]).available
        try:
            payout_request(worker=self.workers[worker], amount=amount)
        except InsufficientFunds:
            assert available < amount

    @rule(worker=st.integers(0, 3))
    def request_everything(self, worker: int) -> None:
        """A worker asks for all they have available (small random requests rarely meet a release)."""
        available = worker_money(worker=self.workers[worker]).available
        if available > 0:
            payout_request(worker=self.workers[worker], amount=available)
            assert worker_money(worker=self.workers[worker]).available == D("0.00")

    @rule()
    def batch(self) -> None:
        try:
            self.batches.append(payout_batch_create(admin=self.admin))
        except ApplicationError as nothing:
            assert "No payout requests" in nothing.message

    @rule(
        pick=PICK,
        action=st.sampled_from(
            [payout_batch_approve, payout_batch_reject, payout_batch_export_csv, payout_batch_mark_paid]
        ),
    )
    def review(self, pick: int, action: Any) -> None:
        if not self.batches:  # not a precondition: whether a batch formed depends on the database
            return
        batch = PayoutBatch.objects.get(pk=self.batches[pick % len(self.batches)].pk)
        try:
            action(admin=self.admin, batch=batch)
        except Conflict:
            # e.g. paying a rejected batch, or one whose file never went to the provider:
            # refused, nothing moved (the audit checks)
            if action is payout_batch_mark_paid and batch.status == PayoutBatch.Status.APPROVED:
                assert batch.exported_at is None
            return
        if action is payout_batch_mark_paid:
            assert batch.exported_at is not None  # only a file the provider had is paid
            event("an exported batch was marked paid")

    @rule(pick=PICK)
    def pay_out(self, pick: int) -> None:
        """The whole admin path on one batch: approve, export the provider's file, mark paid
        (the random reviews above seldom line up all three)."""
        if not self.batches:
            return
        batch = self.batches[pick % len(self.batches)]
        try:
            payout_batch_approve(admin=self.admin, batch=batch)
        except Conflict:
            pass  # already approved (or rejected, or paid: then the steps below refuse too)
        try:
            payout_batch_export_csv(admin=self.admin, batch=batch)
            payout_batch_mark_paid(admin=self.admin, batch=batch)
        except Conflict:
            assert PayoutBatch.objects.get(pk=batch.pk).status in (PayoutBatch.Status.REJECTED, PayoutBatch.Status.PAID)
            return
        event("a batch was approved, exported and paid")

    @invariant()
    def ledger_is_whole(self) -> None:
        report = ledger_audit()
        assert report.ok, report.violations[:5]


def _run(settings: Any, examples: int, steps: int) -> None:
    settings.QUORUM_MIN_PAYOUT = "0.01"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast factories
    for slug, (price, pay) in EXTRA_TIERS.items():
        Tier.objects.get_or_create(
            slug=slug,
            defaults={
                "name": slug,
                "overlap": 3,
                "gold_rate": D("0"),
                "price_per_item": D(price),
                "pay_per_judgment": D(pay),
                "promised_accuracy": D("0.8"),
                "assumed_worker_accuracy": D("0.8"),
            },
        )
    run_state_machine_as_test(
        MoneyMachine,
        settings=hsettings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )


@pytest.mark.django_db
def test_random_money_sequences_keep_the_ledger_whole(settings: Any) -> None:
    _run(settings, examples=30, steps=40)
    kinds = Counter(LedgerTransaction.objects.values_list("kind", flat=True))
    print("transactions by kind:", dict(kinds))
    assert {"escrow_open", "judgment_pay", "job_settle"} <= set(kinds), (
        "the sequences exercised little"
    )


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_random_money_sequences_keep_the_ledger_whole_committing_each_step_on_postgres(
    settings: Any,
) -> None:
    """Every service commits here, so PostgreSQL's deferred balance trigger checks each one."""
    _run(settings, examples=8, steps=25)
