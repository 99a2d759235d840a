"""Client money: top-ups, a job's escrow, paying judgments, withdrawing dropped pay, settling.

The money model is in billing/models.py; rounding and the remainder rule in billing/pricing.py.
Worker payouts are in billing/payouts.py.

Lock order (one for all of Quorum): lease → item → the worker's job tally → job (a submit: KEY
SHARE only) → the job's budget row → earnings rows (id order) → ledger accounts (pk order,
inside ledger). A transaction may skip any step but
never takes an earlier one after a later one, so two never wait on each other in a cycle.
A submit holds lease → item → its worker's job tally → job (KEY SHARE: it never waits for
another submit) and then only this worker's pay in this job (judgment_pay): it writes an Earning
and no shared row. The money moves in batches (billing/posting.py: budget → earnings, skipping
rows others hold → accounts). Every other service that touches a job's money locks its budget
first, before earnings or accounts (the escrow services, reversals, quality credit, settlement,
posting), so the escrow balance changes only under the budget lock. Services with no job
(top-ups, earnings release, payouts) start at the earnings or the accounts.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from marketplace.accounts.models import Organization, User
from marketplace.billing import ledger, paying, posting
from marketplace.billing.ledger import Leg, account_get
from marketplace.billing.models import (
    AccountKind,
    Earning,
    JobBudget,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    QualityCredit,
    Tier,
    TransactionKind,
)
from marketplace.billing.pricing import (
    MAX_BALANCE,
    escrow_per_item,
    hold,
    is_money,
    job_price_per_item,
    money,
    promise_credit_rate,
    rate,
)
from marketplace.billing.selectors import job_charge, tier_terms
from marketplace.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from marketplace.jobs.models import Job, JobStatus
from marketplace.limits import MIN_PAY_PER_JUDGMENT
from marketplace.labeling.models import Judgment
from marketplace.wording import a_or_an

# Shown to workers (API and portal) wherever dropped judgments or earnings are explained.
DROPPED_JUDGMENT_PAY_POLICY = (
    "When a worker is blocked from a job for poor quality, the judgments they gave in it are "
    "dropped and not paid: earnings for them that are still pending are withdrawn. Earnings "
    "that have already become available, or were paid out, are never clawed back: Quorum "
    "absorbs that cost, and the client is never charged for dropped work. Where an automatic "
    "block would withdraw more than the review cap, an admin reviews it first, and that pay waits "
    "for the decision (held for review), then is withdrawn or left with you."
)


# Transactions that pay workers out of a job's escrow (or give pay back into it): its spend.
ESCROW_SPENDS = (
    TransactionKind.JUDGMENT_PAY, TransactionKind.JUDGMENT_PAY_REVERSE, TransactionKind.EXPERT_PAY,
)


class InsufficientFunds(ApplicationError):
    """The client's balance (or the worker's available earnings) is short; says by how much."""

    code = "insufficient_funds"
    status = 402


class FundsExhausted(Conflict):
    """The job has no open budget to pay this judgment from (published before billing existed,
    or already settled): the flow pauses the job and refuses the submit. Publishing holds every
    item's worst-case pay, so an open budget never runs out (billing/posting.py)."""

    code = "funds_exhausted"


def require_admin(user: User) -> None:
    if not user.is_admin:
        raise PermissionDenied("Only an admin can do this.")


@transaction.atomic
def topup_record(
    *,
    admin: User,
    organization: Organization,
    amount: Decimal,
    payment_reference: str,
    memo: str = "",
) -> LedgerTransaction:
    """An admin records a payment received outside Quorum into the organization's balance.
    Idempotent per (organization, payment_reference): recording the same payment twice is a no-op;
    the same reference with another amount is a Conflict (two payments cannot share a reference).
    Raises ApplicationError when an account could not hold the result (MAX_BALANCE)."""
    require_admin(admin)
    payment_reference = payment_reference.strip()
    if not payment_reference or len(payment_reference) > 80:
        raise ApplicationError("A top-up needs the payment's reference (1 to 80 characters).")
    if not is_money(amount) or amount <= 0:
        raise ApplicationError("A top-up amount is positive, with at most 2 decimal places.")
    reference = f"topup:{organization.pk}:{payment_reference}"
    world = ledger.world()
    balance = account_get(kind=AccountKind.CLIENT_BALANCE, organization_id=organization.pk)
    # Lock both: the replay check and the room check must see the balances the posting changes.
    locked = ledger.accounts_lock([world, balance])
    if (earlier := posted_amount(reference=reference, account=balance)) is not None:
        if earlier != amount:
            raise Conflict(
                f"Payment {payment_reference} was already recorded for {earlier}; a payment "
                f"reference names one payment. Use the payment's own reference.",
                details={"recorded": str(earlier), "amount": str(amount)},
            )
    elif (locked[balance.pk].balance + amount > MAX_BALANCE
          or locked[world.pk].balance - amount < -MAX_BALANCE):
        raise ApplicationError(
            f"This top-up would take a balance past {MAX_BALANCE}, the most an account holds; "
            f"record the payment in parts or check the amount.",
            details={"amount": str(amount), "balance": str(locked[balance.pk].balance)},
        )
    tx, _ = ledger.transfer(
        kind=TransactionKind.TOPUP,
        reference=reference,
        source=world,
        target=balance,
        amount=amount,
        memo=memo or f"Payment {payment_reference}",
        organization_id=organization.pk,
        actor_id=admin.pk,
    )
    return tx


def posted_amount(*, reference: str, account: LedgerAccount) -> Decimal | None:
    """What the transaction with this idempotency reference moved into `account` (None: no such
    transaction). Callers compare it with a replayed request's amount: same key, other amount, 409."""
    entry = LedgerEntry.objects.filter(transaction__reference=reference, account=account).first()
    return None if entry is None else entry.amount


@transaction.atomic
def job_escrow_open(*, job: Job) -> JobBudget:
    """Move the job's maximum cost, regular items × its price per item, from the organization's
    balance into the job's escrow. Called at publish (the caller holds the job's lock) and again
    after items are imported into an open job: each call escrows only items not yet covered.
    Raises InsufficientFunds saying how much is missing; nothing moves then."""
    job = Job.objects.get(pk=job.pk)  # fresh item count
    budget = JobBudget.objects.select_for_update().filter(job_id=job.pk).first()
    if budget is None:
        budget = _budget_create(job=job)
    elif budget.settled_at is not None:
        raise Conflict("This job's budget is settled; it cannot take more money.")
    if job.item_count <= budget.items:
        return budget
    # Escrow the whole job rounded once (up), minus what items already hold: budget − added ==
    # pricing.hold(items, per item), the hold per item being the price or dynamic overlap's
    # worst-case pay (pricing.escrow_per_item). Money added by hand (billing/escrow.py) sits on
    # top and never counts towards items.
    per_item = budget.escrow_per_item or budget.price_per_item
    amount = hold(job.item_count, per_item) - (budget.budget - budget.added)
    balance = account_get(kind=AccountKind.CLIENT_BALANCE, organization_id=job.organization_id)
    escrow = account_get(kind=AccountKind.CLIENT_ESCROW, job=job)
    locked = ledger.accounts_lock([balance, escrow])
    available = locked[balance.pk].balance
    if amount > available:
        missing = amount - available
        raise InsufficientFunds(
            f"Publishing needs {amount} ({job.item_count - budget.items} items × {per_item}); "
            f"the balance holds {available}, so {missing} is missing. Top up at least {missing}.",
            details={"needed": str(amount), "balance": str(available), "missing": str(missing)},
        )
    if amount > 0:
        ledger.transfer(
            kind=TransactionKind.ESCROW_OPEN,
            reference=f"job:{job.pk}:escrow:{job.item_count}",
            source=balance,
            target=escrow,
            amount=amount,
            memo=_escrow_memo(job=job, new_items=job.item_count - budget.items, at_publish=budget.items == 0),
            organization_id=job.organization_id,
            job_id=job.pk,
        )
    budget.items = job.item_count
    budget.budget += amount
    budget.save(update_fields=["items", "budget"])
    return budget


def _escrow_memo(*, job: Job, new_items: int, at_publish: bool) -> str:
    """What the client's ledger says about an escrow for items: at publish, or for items imported
    into the job once it was running (the same transaction kind, so the memo tells them apart)."""
    items = f"{new_items} item{'' if new_items == 1 else 's'}"
    if at_publish:
        return f"Escrow at publish for {items} of job {job.pk}"
    return f"Escrow for {items} imported into job {job.pk} while it ran"


def budget_lock(*, job_id: int) -> JobBudget | None:
    """The job's budget, row-locked (with its job read along, not locked); None if unpublished.
    Locking it again later in the same transaction is free."""
    return (
        JobBudget.objects.select_for_update(of=("self",)).select_related("job")
        .filter(job_id=job_id).first()
    )


def job_pay_check(*, job: Job, tier: Tier) -> None:
    """A job pays at least its tier's pay per judgment, and something in any case (a tier an
    admin set to pay nothing asks jobs.fields' floor instead; a draft saved before that floor
    may pay 0). Checked on create and edit (flows) and again at publish."""
    floor = tier.pay_per_judgment if tier.pay_per_judgment > 0 else MIN_PAY_PER_JUDGMENT
    if job.reward_per_judgment < floor:
        message = (f"The {tier.name} tier pays workers at least {floor} per judgment; "
                   f"this job offers {job.reward_per_judgment}.")
        raise ApplicationError(message, details={"reward_per_judgment": [f"at least {floor}"]})


def _budget_create(*, job: Job) -> JobBudget:
    tier = Tier.objects.filter(slug=job.tier).first()
    if tier is None:
        raise ApplicationError(f"Tier {job.tier!r} does not exist; choose one of the quoted tiers.")
    if not tier.is_active:
        raise ApplicationError(
            f"The {tier.name} tier is no longer offered; choose one of the quoted tiers.",
            details={"tier": tier.slug},
        )
    job_pay_check(job=job, tier=tier)
    price = job_price_per_item(
        terms=tier_terms(tier),
        overlap=job.overlap,
        max_overlap=job.max_overlap,
        gold_rate=job.gold_rate,
        pay=job.reward_per_judgment,
    )
    held = escrow_per_item(price=price, pay=job.reward_per_judgment, overlap=job.overlap,
                           max_overlap=job.max_overlap, gold_rate=job.gold_rate)
    return JobBudget.objects.create(
        job=job, tier=tier, price_per_item=price, pay_per_judgment=job.reward_per_judgment,
        escrow_per_item=held,
    )


@transaction.atomic(savepoint=False)
def judgment_pay(*, judgment: Judgment, fresh: bool = False) -> Earning:
    """Record what an accepted judgment (gold included) earns its worker: an Earning, owed from
    the job's escrow until billing/posting.py moves it (in batches, and at settlement).
    Idempotent per judgment: a retry returns the first Earning. Raises FundsExhausted when the
    job has no open budget; nothing is recorded then.

    No row that another worker's submit writes is touched here: the escrow was reserved at
    publish for every item's worst-case pay (pricing.escrow_per_item), so no per-judgment check
    of a shared balance is needed. In the submit flow, pay before the quality assessment: a block
    it triggers then withdraws this pay too (reversals.worker_job_pay_reverse).

    `fresh`: the judgment was created by the caller's transaction, whose submit holds the
    worker's tally row in this job (labeling.submitting), so it has no earning yet and this
    worker's submits of the job already queue there; otherwise a per-(job, worker) lock makes
    them queue here. Locks: this worker's pay in this job only. One statement when fresh, on
    PostgreSQL (billing/paying.py)."""
    if not fresh:
        existing = Earning.objects.filter(judgment_id=judgment.pk).first()
        if existing is not None:
            return existing
        # The rank must be this worker's next one in this job: two of their submits queue here.
        paying.sql_lock_worker_pay(job_id=judgment.job_id, worker_id=judgment.worker_id)
    # The budget is read, not locked: a settlement first waits for every submit in flight (it
    # locks the job row, which our judgment's insert holds a key-share lock on), then posts what
    # they earned.
    earning = paying.earning_insert(
        judgment_id=judgment.pk, job_id=judgment.job_id, worker_id=judgment.worker_id,
        now=timezone.now(),
    )
    if earning is None:
        raise FundsExhausted(
            "This job has no open budget to pay judgments from.", details={"job": judgment.job_id}
        )
    return earning


@transaction.atomic
def job_quality_credit(
    *, job: Job, delivered_accuracy: Decimal, interval: tuple[Decimal, Decimal], method: str
) -> QualityCredit:
    """Record the delivered accuracy against the tier's promise. The credit is
    `promise_credit_rate` of the charge (pricing.CREDIT_PER_POINT per accuracy point by which the
    interval's upper bound misses the promise, capped at the whole charge), turned into an amount
    by job_settle. Before settlement the latest estimate replaces an
    earlier one; after it, Conflict."""
    # Lock the budget: the credit must land before or after the settlement, not during it.
    budget = (
        JobBudget.objects.select_for_update().select_related("tier").filter(job_id=job.pk).first()
    )
    if budget is None:
        raise NotFound("This job has no budget: it was never published.")
    if budget.settled_at is not None:
        raise Conflict("This job is settled; its charge can no longer change.")
    low, high = interval
    if not (Decimal(0) <= low <= delivered_accuracy <= high <= Decimal(1)):
        raise ApplicationError("delivered_accuracy must lie in its interval, within 0..1.")
    # The promise fixed at publish; a job published before it was recorded falls back to the tier.
    fixed = Job.objects.values_list("promised_accuracy", flat=True).get(pk=job.pk)
    promised = fixed if fixed is not None else budget.tier.promised_accuracy
    delivered = rate(delivered_accuracy)
    credit, _ = QualityCredit.objects.update_or_create(
        job=job,
        defaults={
            "promised_accuracy": promised,
            "delivered_accuracy": delivered,
            "interval_low": rate(low),
            "interval_high": rate(high),
            "method": method,
            "rate": promise_credit_rate(promised=promised, interval_high=rate(high)),
        },
    )
    return credit


@transaction.atomic
def job_settle(*, job: Job) -> JobBudget | None:
    """At completion or cancellation: charge completed regular items × price − quality credit
    (+ the client's expert reviews settled meanwhile, billing/expert_pay.py, + the pay of the
    more judgments it asked for and got, selectors.items_extra_given),
    keep the difference from worker pay as revenue (a loss when negative), return the rest of
    the escrow to the balance. One transaction, three legs. Idempotent; None without a budget."""
    # Lock the budget first: a second settle waits, then sees settled_at and returns.
    budget = JobBudget.objects.select_for_update().filter(job_id=job.pk).first()
    if budget is None or budget.settled_at is not None:
        return budget
    job = Job.objects.get(pk=job.pk)
    if job.status not in (JobStatus.COMPLETED, JobStatus.CANCELLED):
        raise Conflict(f"{a_or_an(job.status, capital=True)} job is settled only once it is completed or cancelled.")
    # Every submit of the job has committed (the job's transition to completed or cancelled
    # locked its row, which each submit's insert key-share-locks), so what they earned is final:
    # post it all before the charge, then the escrow holds budget + covered − pay.
    posting.job_pay_post_locked(budget=budget)
    budget.refresh_from_db(fields=["covered"])
    escrow = account_get(kind=AccountKind.CLIENT_ESCROW, job=job)
    revenue = account_get(kind=AccountKind.PLATFORM_REVENUE)
    balance = account_get(kind=AccountKind.CLIENT_BALANCE, organization_id=job.organization_id)
    held = ledger.accounts_lock([escrow, revenue, balance])[escrow.pk].balance

    # The client's expert reviews count if settled while the escrow was open (billing/expert_pay.py
    # marks them under this budget lock); the rest of their hold returns with the refund below.
    # The more judgments the client asked for and got are charged at the job's pay; the unused
    # rest of their hold returns with the refund (selectors.items_extra_given).
    charge = job_charge(job=job, budget=budget)
    completed, gross, credits, reviews = charge.items, charge.gross, charge.credits, charge.reviews
    charged = charge.total
    spent = -money(  # money(): SQLite sums decimals as floats
        LedgerEntry.objects.filter(account=escrow, transaction__kind__in=ESCROW_SPENDS)
        .aggregate(s=Sum("amount"))["s"]
        or Decimal("0.00")
    )
    # Only escrow, cover, pay (judgments, experts) and reverse ever touched this escrow.
    if held != budget.budget + budget.covered - spent:
        raise ledger.LedgerError(
            f"job {job.pk}: escrow holds {held}, not {budget.budget} + {budget.covered} − {spent}"
        )
    earned = charged - spent  # the job's revenue (a loss when negative)
    refund = budget.budget - charged  # the client gets back all they held but the charge
    kept = held - refund  # == earned + covered: what Quorum covered comes back to it
    if held or refund or kept:
        ledger.post(
            kind=TransactionKind.JOB_SETTLE,
            reference=f"job:{job.pk}:settle",
            legs=[Leg(escrow, -held), Leg(revenue, kept), Leg(balance, refund)],
            memo=f"{completed} items charged {charged}; workers paid {spent}",
            organization_id=job.organization_id,
            job_id=job.pk,
        )
    budget.settled_at = timezone.now()
    budget.completed_items, budget.gross, budget.credits, budget.charged = (
        completed,
        gross,
        credits,
        charged,
    )
    budget.spent, budget.revenue, budget.refunded = spent, earned, refund
    budget.reviews_charged = reviews
    budget.extra_judgments, budget.extras_charged = charge.extra_judgments, charge.extras
    budget.save()
    return budget
