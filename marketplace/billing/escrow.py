"""Adding to a published job's escrow by hand.

Publishing holds the job's worst-case worker pay (pricing.escrow_per_item), and Quorum covers
what the escrow cannot pay (billing/posting.py), so a job never stops for want of escrow; a
client may still raise the hold, for example before importing more items into a running job.
Adding raises the hold, never the price: the charge stays completed items × price − credit, and
whatever is not spent returns to the balance at settlement (services.job_settle)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.db import transaction

from marketplace.accounts.models import User
from marketplace.billing import idempotency, ledger
from marketplace.billing.ledger import account_get
from marketplace.billing.models import AccountKind, JobBudget, TransactionKind
from marketplace.billing.pricing import extra_judgments_hold, is_money
from marketplace.billing.services import InsufficientFunds, posted_amount
from marketplace.errors import ApplicationError, Conflict, NotFound
from marketplace.jobs.models import Job

KEY = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@transaction.atomic
def job_escrow_add(*, job: Job, user: User, amount: Decimal, key: str) -> JobBudget:
    """Move `amount` from the organization's balance into the job's escrow.

    `key` makes the request idempotent: the same key twice adds once (a retried request, a
    double click); the same key with another amount is a Conflict. Raises InsufficientFunds
    naming what is missing; nothing moves then.
    Locks: budget → accounts (the order every billing write keeps, services' docstring)."""
    if not (user.is_admin or user.organization_id == job.organization_id):
        raise NotFound("Job not found.")  # the caller scoped the lookup; a flow must not cross tenants
    value = _request_check(amount=amount, key=key)
    # Lock the budget (before the accounts, as a submit's pay does): a settlement in flight must
    # not miss money added meanwhile.
    budget = JobBudget.objects.select_for_update().filter(job_id=job.pk).first()
    if budget is None:
        raise Conflict("This job was never published: publishing opens its escrow.")
    if budget.settled_at is not None:
        raise Conflict("This job is settled; its escrow is closed.")
    reference = _add_reference(job, key)
    balance = account_get(kind=AccountKind.CLIENT_BALANCE, organization_id=job.organization_id)
    escrow = account_get(kind=AccountKind.CLIENT_ESCROW, job=job)
    available = ledger.accounts_lock([balance, escrow])[balance.pk].balance
    if (earlier := posted_amount(reference=reference, account=escrow)) is not None:
        if earlier != value:
            raise Conflict(
                f"This Idempotency-Key already added {earlier} to the job's escrow; use a new key "
                f"to add {value}.",
                details={"added": str(earlier), "amount": str(value)},
            )
        return budget  # this key already added its amount
    if value > available:
        missing = value - available
        raise InsufficientFunds(
            f"Adding {value} needs {missing} more than the balance holds ({available}).",
            details={"needed": str(value), "balance": str(available), "missing": str(missing)},
        )
    ledger.transfer(
        kind=TransactionKind.ESCROW_ADD, reference=reference, source=balance, target=escrow,
        amount=value, memo=f"Escrow added to job {job.pk}", organization_id=job.organization_id,
        job_id=job.pk, actor_id=user.pk,
    )
    budget.added += value
    budget.budget += value
    budget.save(update_fields=["added", "budget"])
    return budget


def _request_check(*, amount: Decimal, key: str) -> Decimal:
    """The amount, to the cent, when it and the key are well formed; ApplicationError (400) if not."""
    if not KEY.match(key or ""):
        raise ApplicationError(
            "An escrow top-up needs an idempotency key: 1 to 64 letters, digits or ._:-",
            details={"Idempotency-Key": "missing or invalid"},
        )
    # A Decimal only: the API parses strings (billing/amounts.money_in), and a float is never money.
    if not isinstance(amount, Decimal) or not is_money(amount) or amount <= 0:
        raise ApplicationError("amount is a positive sum with at most 2 decimal places, like \"5.00\".")
    return amount.quantize(Decimal("0.01"))


@dataclass(frozen=True)
class EscrowAdded:
    """What one escrow addition request did (the first request's figures, on a retry)."""

    job: int
    added: Decimal  # what this request moved into the escrow
    added_total: Decimal  # every addition to the job's escrow so far (by hand, more judgments, reviews)
    budget: Decimal  # the job's hold after it
    replayed: bool = False  # a retry under the key: the first answer, nothing moved


def job_escrow_add_request(*, job: Job, user: User, amount: Decimal, key: str) -> EscrowAdded:
    """job_escrow_add as a client's request (POST /jobs/<id>/escrow/), under idempotency.py's one
    rule: the same key and amount answer the first request's figures again; another amount (or a
    key another request of this job used) is a Conflict. Locks: the key → budget → accounts."""
    value = _request_check(amount=amount, key=key)
    body = {"amount": str(value)}
    with transaction.atomic():
        first = idempotency.request_claim(job=job, key=key, operation=idempotency.Operation.ESCROW_ADD, body=body)
        if first is not None:
            return EscrowAdded(job=job.pk, added=Decimal(first["added"]), added_total=Decimal(first["added_total"]),
                               budget=Decimal(first["budget"]), replayed=True)
        budget = job_escrow_add(job=job, user=user, amount=value, key=key)
        done = EscrowAdded(job=job.pk, added=value, added_total=budget.added, budget=budget.budget)
        idempotency.request_record(job=job, key=key, operation=idempotency.Operation.ESCROW_ADD, body=body,
                                   response={k: v for k, v in asdict(done).items() if k != "replayed"})
    return done


def escrow_reference_claim(*, job: Job, reference: str) -> Decimal | None:
    """Claim this idempotency reference until commit (ledger.reference_claim: a concurrent request
    under it waits here), then say what it moved into the job's escrow (None: nothing yet). A flow
    that works before it posts calls this first in its transaction."""
    ledger.reference_claim(reference)
    return posted_amount(reference=reference, account=account_get(kind=AccountKind.CLIENT_ESCROW, job=job))


def escrow_add_claim(*, job: Job, key: str) -> Decimal | None:
    """escrow_reference_claim for the escrow addition under this key (flows_more.items_more_judgments)."""
    return escrow_reference_claim(job=job, reference=_add_reference(job, key))


def more_judgments_hold(*, job: Job, judgments: int) -> Decimal:
    """What `judgments` more judgments a client asks for hold (pricing.extra_judgments_hold) at
    the pay fixed when the job was published. Conflict for a job never published or settled."""
    budget = JobBudget.objects.filter(job_id=job.pk).first()
    if budget is None or budget.settled_at is not None:
        raise Conflict("Only an open or paused job takes more judgments.")
    return extra_judgments_hold(judgments=judgments, pay=budget.pay_per_judgment, gold_rate=job.gold_rate)


def _add_reference(job: Job, key: str) -> str:
    """The ledger reference of the escrow addition under `key` (what makes a replay idempotent)."""
    return f"job:{job.pk}:escrow-add:{key}"
