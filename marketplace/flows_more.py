"""Asking for more judgments on chosen items (the data browser), and what it holds (beside
marketplace/flows.py, in the same layer: a sibling, neither imports the other).

The chosen regular items reopen for more judgments each, and their worst-case pay moves from the
organization's balance into the job's escrow as an addition (billing/escrow.py) under the
request's Idempotency-Key, all or nothing: without the funds (402) no item reopens. Settlement
charges the judgments given at the job's pay and returns the rest.

Locks, in the order of flows.py: the key (claimed first, while nothing else is held) → items →
the tally → job (KEY SHARE) → budget → ledger accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from marketplace.accounts.acting import client_action_check
from marketplace.accounts.models import User
from marketplace.billing import escrow, idempotency
from marketplace.errors import NotFound
from marketplace.jobs.models import Job
from marketplace.labeling import reopening
from marketplace.realtime import events


def _owner_check(*, job: Job, user: User) -> None:
    client_action_check(user=user)  # staff see a client's job, never act on it (accounts/acting.py)
    # The views scope the lookup; a flow called from elsewhere must not cross tenants.
    if user.organization_id != job.organization_id:
        raise NotFound("Job not found.")


@dataclass(frozen=True)
class MoreJudgments:
    """What asking for more judgments costs, or did: the hold is the worst-case pay, escrowed."""

    items: int  # regular items reopened (or that would be)
    judgments: int  # items × more
    hold: Decimal  # moved from the balance into the job's escrow (or that would be)
    replayed: bool = False  # this idempotency key had done it already: its first answer, nothing more happened


def items_more_judgments_quote(*, job: Job, user: User, items: int, more: int) -> MoreJudgments:
    """What asking `more` judgments on `items` regular items would hold, shown before confirming."""
    _owner_check(job=job, user=user)
    reopening.more_judgments_check(more=more)
    hold = escrow.more_judgments_hold(job=job, judgments=items * more)
    return MoreJudgments(items=items, judgments=items * more, hold=hold)


def items_more_judgments(
    *, job: Job, user: User, item_ids: Sequence[int], more: int, key: str, request: dict[str, Any] | None = None
) -> MoreJudgments:
    """Reopen the chosen regular items for `more` judgments each and escrow their worst-case pay
    (pricing.extra_judgments_hold), all or nothing: without the funds (402) no item reopens.

    The hold is an escrow addition under `key` (billing/escrow.py: `added`, never counted towards
    items); settlement charges the judgments given at the job's pay and returns the rest
    (billing.selectors.items_extra_given). `request` is the body the client sent (a filter
    resolves to other items later), by default the items and `more`: the same key and request
    again (even a concurrent copy, which waits for the first) answers the first figures,
    `replayed`, and changes nothing; another request under the key is a Conflict
    (billing/idempotency.py). Locks: the key (first, while nothing else is held:
    ledger.reference_claim) → items → tally → job (KEY SHARE, labeling/reopening.py) → budget →
    accounts, the order every transaction keeps."""
    _owner_check(job=job, user=user)
    body = request if request is not None else {"items": list(item_ids), "more": more}
    operation = idempotency.Operation.MORE_JUDGMENTS
    with transaction.atomic():
        # Claimed first: checked unclaimed, each concurrent copy reopened the items again.
        first = idempotency.request_claim(job=job, key=key, operation=operation, body=body)
        if first is not None:
            return MoreJudgments(items=first["items"], judgments=first["judgments"], hold=Decimal(first["hold"]),
                                 replayed=True)
        if escrow.escrow_add_claim(job=job, key=key) is not None:  # used before answers were kept
            return MoreJudgments(items=0, judgments=0, hold=Decimal("0.00"), replayed=True)
        reopened = reopening.items_reopen(job_id=job.pk, item_ids=item_ids, more=more)
        hold = escrow.more_judgments_hold(job=job, judgments=reopened.judgments)
        if hold > 0:
            escrow.job_escrow_add(job=job, user=user, amount=hold, key=key)
        if reopened.items:
            events.work_available(job_id=job.pk)
            events.job_progress(job_id=job.pk)  # completed items went down
        done = MoreJudgments(items=reopened.items, judgments=reopened.judgments, hold=hold)
        idempotency.request_record(job=job, key=key, operation=operation, body=body,
                                   response={"items": done.items, "judgments": done.judgments, "hold": str(hold)})
    return done
