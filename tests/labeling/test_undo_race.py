"""An undo racing another worker's answer on the same item, with real threads on PostgreSQL.

Wendy answered an item of Acme's job (overlap 2); Walter holds the item's other slot. Whichever
takes the item's lock first decides: Walter's answer completing the item first leaves Wendy's
answer standing (her undo is refused), and Wendy's undo first leaves the item open with one
answer, Walter's. Either way the item's count matches its accepted answers and the audit is clean.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from marketplace import flows
from marketplace.accounts.models import Organization, User
from marketplace.billing import reversals
from marketplace.billing import services as billing_services
from marketplace.billing.audit import ledger_audit
from marketplace.errors import Conflict
from marketplace.jobs.models import Item
from marketplace.labeling.models import Judgment, JudgmentStatus, Lease, LeaseStatus
from marketplace.labeling.services import lease_claim
from tests.conftest import needs_postgres
from tests.factories import open_job_with_items
from tests.threads import WAIT, queue_behind, thread_recording

pytestmark = [needs_postgres, pytest.mark.django_db(transaction=True)]


def _held(monkeypatch: Any, module: Any, name: str, reached: threading.Event, go: threading.Event) -> None:
    """Make `module.name` stop (its caller holding every lock taken so far) until told to go."""
    original = getattr(module, name)

    def when_told(**kwargs: Any) -> Any:
        reached.set()
        go.wait(WAIT)
        return original(**kwargs)

    monkeypatch.setattr(module, name, when_told)


def _setup(acme: Organization, wendy: User, walter: User) -> tuple[Judgment, Lease]:
    job = open_job_with_items(items=3, organization=acme, overlap=2)
    lease = lease_claim(worker=wendy, job=job)
    mine = flows.work_submit(worker=wendy, lease_id=lease.pk, label="cat").judgment
    theirs = lease_claim(worker=walter, job=job)
    assert theirs.item_id == mine.item_id  # started items are served first
    return mine, theirs


def _consistent(item_id: int) -> None:
    item = Item.objects.get(pk=item_id)
    accepted = Judgment.objects.filter(item_id=item_id, status=JudgmentStatus.ACCEPTED).count()
    assert item.judgment_count == accepted
    report = ledger_audit()
    assert report.ok, report.violations


def test_an_answer_completing_the_item_first_leaves_the_undone_answer_standing(
    acme: Organization, wendy: User, walter: User, monkeypatch: Any
) -> None:
    mine, theirs = _setup(acme, wendy, walter)
    counted, go = threading.Event(), threading.Event()
    outcomes: dict[str, Any] = {}
    # Walter's submit stops holding the item's lock, about to record his pay.
    _held(monkeypatch, billing_services, "judgment_pay", counted, go)
    completing = thread_recording(
        outcomes, "walter", lambda: flows.work_submit(worker=walter, lease_id=theirs.pk, label="dog"))
    undoing = thread_recording(outcomes, "wendy", lambda: flows.work_undo(worker=wendy, judgment_id=mine.pk))
    queue_behind(completing, counted, undoing, go, "undo queuing behind the item's lock")

    assert isinstance(outcomes["walter"], flows.WorkSubmitted), outcomes["walter"]
    refused = outcomes["wendy"]
    assert isinstance(refused, Conflict) and "Another worker's answer completed this item" in refused.message
    assert Judgment.objects.get(pk=mine.pk).status == JudgmentStatus.ACCEPTED
    assert Item.objects.get(pk=mine.item_id).is_complete
    _consistent(mine.item_id)


def test_an_undo_first_leaves_the_item_open_with_the_other_answer(
    acme: Organization, wendy: User, walter: User, monkeypatch: Any
) -> None:
    mine, theirs = _setup(acme, wendy, walter)
    withdrawn, go = threading.Event(), threading.Event()
    outcomes: dict[str, Any] = {}
    # Wendy's undo stops holding the lease, item, tally and job locks, about to take her pay back.
    _held(monkeypatch, reversals, "judgment_pay_withdraw", withdrawn, go)
    undoing = thread_recording(outcomes, "wendy", lambda: flows.work_undo(worker=wendy, judgment_id=mine.pk))
    answering = thread_recording(
        outcomes, "walter", lambda: flows.work_submit(worker=walter, lease_id=theirs.pk, label="dog"))
    queue_behind(undoing, withdrawn, answering, go, "submit queuing behind the undo's item lock")

    assert isinstance(outcomes["wendy"], flows.Withdrawal), outcomes["wendy"]
    assert isinstance(outcomes["walter"], flows.WorkSubmitted), outcomes["walter"]
    item = Item.objects.get(pk=mine.item_id)
    assert (item.judgment_count, item.is_complete) == (1, False)
    assert Lease.objects.get(pk=outcomes["wendy"].lease.pk).status == LeaseStatus.ACTIVE  # her slot again
    _consistent(mine.item_id)
