"""Withdrawing a blocked worker's pending pay: every reversal moves its own money.

The cast: Ada (admin) blocks Wendy from an Acme job twice. Wendy's first earning there was
released before the first block, so she keeps it each time; what she earns between the blocks
is still pending when the second block comes, and must go back to the escrow.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction

from marketplace import flows
from marketplace.accounts.models import Organization, User
from marketplace.billing.audit import ledger_audit
from marketplace.billing.posting import job_pay_post
from marketplace.billing.models import Earning, LedgerTransaction, TransactionKind
from marketplace.billing.payouts import earnings_release
from marketplace.billing.selectors import job_escrow, worker_money
from marketplace.billing.reversals import worker_job_pay_reverse
from marketplace.labeling.relabeling import judgments_drop
from tests.billing.helpers import D, fund, published, work

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_a_second_block_after_an_unblock_returns_the_new_pending_pay_to_the_escrow(
    ada: User, acme: Organization, wendy: User
) -> None:
    fund(ada, acme, "10.00")
    job = published(acme, items=6, overlap=1)
    held = job_escrow(job_id=job.pk)
    kept = work(wendy, job)
    assert kept is not None
    earnings_release(now=kept.created_at + timedelta(days=8))  # released before any block
    assert work(wendy, job) is not None
    job_pay_post(job_id=job.pk)  # the pay is in the ledger: a block must move it back
    flows.worker_block(job=job, worker=wendy, reason="Copy-pasted answers", actor=ada)
    flows.worker_unblock(job=job, worker=wendy, reason="Appealed", actor=ada)
    later = work(wendy, job)
    job_pay_post(job_id=job.pk)
    assert later is not None and worker_money(worker=wendy).pending == later.amount > 0

    flows.worker_block(job=job, worker=wendy, reason="Copy-pasted again", actor=ada)

    later.refresh_from_db()
    assert later.status == Earning.Status.REVERSED
    assert worker_money(worker=wendy).pending == D("0.00")  # nothing stranded
    assert worker_money(worker=wendy).available == kept.amount  # the released pay is kept
    assert job_escrow(job_id=job.pk) == held - kept.amount  # only the kept pay left it
    reversals = LedgerTransaction.objects.filter(kind=TransactionKind.JUDGMENT_PAY_REVERSE)
    assert reversals.count() == 2
    assert later.settled_transaction_id == reversals.order_by("id").last().pk  # type: ignore[union-attr]
    assert ledger_audit().violations == []


def test_the_reversal_that_runs_after_commit_moves_what_the_first_one_left(
    ada: User, acme: Organization, wendy: User
) -> None:
    """What the submit flow does when a block drops judgments other submits still held: it
    reverses inside the submit and again after commit, with the kept earning first each time."""
    fund(ada, acme, "10.00")
    job = published(acme, items=4, overlap=1)
    kept = work(wendy, job)
    assert kept is not None
    earnings_release(now=kept.created_at + timedelta(days=8))
    work(wendy, job)
    with transaction.atomic():
        judgments_drop(job_id=job.pk, worker_id=wendy.pk)
        worker_job_pay_reverse(job_id=job.pk, worker_id=wendy.pk, block_event_id=None)
    late = work(wendy, job)  # a submit that committed after the block's drop
    assert late is not None
    judgments_drop(job_id=job.pk, worker_id=wendy.pk)

    worker_job_pay_reverse(job_id=job.pk, worker_id=wendy.pk, block_event_id=None)

    late.refresh_from_db()
    assert late.status == Earning.Status.REVERSED
    assert worker_money(worker=wendy).pending == D("0.00")
    assert ledger_audit().violations == []
