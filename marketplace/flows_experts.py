"""Flows of expert review money (beside marketplace/flows.py, in the same layer).

- An expert settles a review (quality.experts.expert_review_settle) and, in the same
  transaction, is paid for it (billing.expert_pay.expert_review_pay): a worker expert earns
  QUORUM_EXPERT_REVIEW_PAY, from the job's escrow when the client asked for the review, from
  Quorum's revenue when Quorum queued it; an admin earns nothing. A retried settle pays once.
- A client sends chosen items to expert review: the quote says what it holds (reviews ×
  QUORUM_EXPERT_REVIEW_PRICE); confirming opens the reviews and holds that from the
  organization's balance in the job's escrow under an Idempotency key, all or nothing: without
  the funds (402) no item is queued.

Locks, in the order of flows.py: the review row (settling) or the chosen items (a request),
then billing's budget → ledger accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from marketplace.accounts.acting import client_action_check
from marketplace.accounts.models import User
from marketplace.billing import expert_pay, idempotency
from marketplace.errors import NotFound
from marketplace.jobs.models import Job
from marketplace.quality import experts
from marketplace.quality.models import ExpertReview


def expert_review_settle(*, expert: User, review_id: int, label: str) -> ExpertReview:
    """Settle the review with the expert's label and pay them for it, in one transaction."""
    with transaction.atomic():
        review = experts.expert_review_settle(expert=expert, review_id=review_id, label=label)
        expert_pay.expert_review_pay(review=review, expert=expert)
    return review


@dataclass(frozen=True)
class ExpertReviewsAsked:
    """What sending items to expert review costs, or did."""

    items: int  # reviews opened (or that would be): regular items without a review yet
    price: Decimal  # per review
    hold: Decimal  # items × price, moved from the balance into the job's escrow (or that would be)
    replayed: bool = False  # this idempotency key had done it already: its first answer, nothing more happened


def _owner_check(*, job: Job, user: User) -> None:
    client_action_check(user=user)  # staff see a client's job, never act on it (accounts/acting.py)
    # The views scope the lookup; a flow called from elsewhere must not cross tenants.
    if user.organization_id != job.organization_id:
        raise NotFound("Job not found.")


def expert_reviews_quote(*, job: Job, user: User, item_ids: Sequence[int]) -> ExpertReviewsAsked:
    """What sending these items to expert review would hold, shown before confirming."""
    _owner_check(job=job, user=user)
    items = experts.expert_review_candidates(job=job, item_ids=list(item_ids))
    hold = expert_pay.expert_reviews_quote(job=job, reviews=items)
    return ExpertReviewsAsked(items=items, price=expert_pay.review_price(), hold=hold)


def expert_reviews_ask(
    *, job: Job, user: User, item_ids: Sequence[int], key: str, request: dict[str, Any] | None = None
) -> ExpertReviewsAsked:
    """Open reviews of the chosen items and hold their price in the job's escrow, all or
    nothing (InsufficientFunds, 402: no review opens). `request` is the body the client sent (by
    default the items): the same key and request again answers the first figures, `replayed`,
    and changes nothing; another request under the key is a Conflict (billing/idempotency.py)."""
    _owner_check(job=job, user=user)
    price = expert_pay.review_price()
    body = request if request is not None else {"items": list(item_ids)}
    operation = idempotency.Operation.EXPERT_REVIEW
    with transaction.atomic():
        # Claimed first: a concurrent copy of this request waits, then answers the first's figures.
        first = idempotency.request_claim(job=job, key=key, operation=operation, body=body)
        if first is not None:
            return ExpertReviewsAsked(items=first["items"], price=Decimal(first["price"]),
                                      hold=Decimal(first["hold"]), replayed=True)
        if expert_pay.expert_hold_claim(job=job, key=key) is not None:  # used before answers were kept
            return ExpertReviewsAsked(items=0, price=price, hold=Decimal("0.00"), replayed=True)
        reviews = experts.expert_reviews_open(job=job, item_ids=list(item_ids), actor=user)
        hold = expert_pay.expert_reviews_hold(job=job, user=user, reviews=reviews, key=key)
        done = ExpertReviewsAsked(items=len(reviews), price=price, hold=hold)
        idempotency.request_record(job=job, key=key, operation=operation, body=body,
                                   response={"items": done.items, "price": str(price), "hold": str(hold)})
    return done
