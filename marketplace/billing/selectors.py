"""Reads for billing: tiers and quotes, balances, earnings, payout batches under review."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal

from django.db.models import Count, F, IntegerField, Q, Sum, Value
from django.db.models.functions import Greatest, Least, TruncMonth

from marketplace.accounts.models import Organization, User
from marketplace.billing import posting
from marketplace.billing.models import (
    AccountKind,
    Earning,
    JobBudget,
    LedgerAccount,
    Payout,
    PayoutBatch,
    QualityCredit,
    ReviewCharge,
    Tier,
)
from marketplace.billing.pricing import TierQuote, TierTerms, money, quote, rate
from marketplace.errors import ApplicationError
from marketplace.jobs.models import Item, Job
from marketplace.quality.models import WorkerJobStats

# A worker counts in a tier's measured pool after this many gold answers (all jobs together).
POOL_MIN_GOLD_ANSWERS = 20
ZERO = Decimal("0.00")


def tier_terms(tier: Tier) -> TierTerms:
    return TierTerms(
        slug=tier.slug,
        name=tier.name,
        overlap=tier.overlap,
        max_overlap=tier.max_overlap,
        gold_rate=tier.gold_rate,
        price_per_item=tier.price_per_item,
        pay_per_judgment=tier.pay_per_judgment,
        promised_accuracy=tier.promised_accuracy,
        assumed_worker_accuracy=tier.assumed_worker_accuracy,
        seconds_per_judgment=tier.seconds_per_judgment,
    )


def tier_list() -> list[Tier]:
    return list(Tier.objects.filter(is_active=True).order_by("position", "slug"))


def pool_accuracy(*, min_accuracy: Decimal) -> Decimal | None:
    """Measured gold accuracy (Σ right / Σ seen) of the workers with enough gold answers whose
    own accuracy meets `min_accuracy`; None when no worker has that history yet."""
    rows = (
        WorkerJobStats.objects.values("worker_id")
        .annotate(seen=Sum("gold_seen"), right=Sum("gold_correct"))
        .filter(seen__gte=POOL_MIN_GOLD_ANSWERS)
    )
    seen = right = 0
    for row in rows:
        if Decimal(row["right"]) / row["seen"] >= min_accuracy:
            seen, right = seen + row["seen"], right + row["right"]
    return rate(Decimal(right) / seen) if seen else None


def job_quote(
    *, items: int, workers: int = 10, tier: str | None = None, overlap: int | None = None
) -> list[TierQuote]:
    """A side-by-side quote over the active tiers (or the one named `tier`, ApplicationError
    when it is none of them), with a job's own fixed `overlap` if given (pricing.tier_quote):
    measured pool accuracy where there is history."""
    tiers = tier_list()
    if tier is not None:
        chosen = [t for t in tiers if t.slug == tier]
        if not chosen:
            raise ApplicationError(
                f"tier must be one of the offered tiers: {', '.join(t.slug for t in tiers)}.",
                details={"tier": "unknown", "allowed": [t.slug for t in tiers]},
            )
        tiers = chosen
    measured = {
        t.slug: acc for t in tiers if (acc := pool_accuracy(min_accuracy=t.worker_min_accuracy))
    }
    return quote(
        tiers=[tier_terms(t) for t in tiers], items=items, workers=workers, pool_accuracy=measured,
        overlap=overlap,
    )


def _balance(query: Q) -> Decimal:
    account = LedgerAccount.objects.filter(query).only("balance").first()
    return account.balance if account else ZERO


def organization_balance(*, organization: Organization) -> Decimal:
    return _balance(Q(kind=AccountKind.CLIENT_BALANCE, organization=organization))


def job_escrow(*, job_id: int) -> Decimal:
    """What the job's escrow has left for work: its balance less pay owed and not yet posted
    (never below zero: pay the escrow cannot make is Quorum's to cover, billing/posting.py)."""
    left = _balance(Q(kind=AccountKind.CLIENT_ESCROW, job_id=job_id)) - posting.unposted(job_id=job_id)
    return max(left, Decimal("0.00"))


@dataclass(frozen=True)
class WorkerMoney:
    pending: Decimal
    available: Decimal
    in_flight: Decimal  # requested, not yet paid
    paid: Decimal


def worker_money(*, worker: User) -> WorkerMoney:
    in_flight = Payout.objects.filter(
        worker=worker,
        status__in=(Payout.Status.REQUESTED, Payout.Status.BATCHED, Payout.Status.APPROVED),
    ).aggregate(s=Sum("amount"))["s"]
    paid = Payout.objects.filter(worker=worker, status=Payout.Status.PAID).aggregate(
        s=Sum("amount")
    )["s"]
    return WorkerMoney(
        # Pay earned and not yet posted from an escrow (billing/posting.py) is pending all the same.
        pending=_balance(Q(kind=AccountKind.WORKER_PENDING, worker=worker))
        + posting.unposted(worker_id=worker.pk),
        available=_balance(Q(kind=AccountKind.WORKER_AVAILABLE, worker=worker)),
        in_flight=in_flight or ZERO,
        paid=paid or ZERO,
    )


@dataclass(frozen=True)
class PayoutRow:
    payout_id: int
    worker_id: int
    handle: str
    amount: Decimal
    gold_seen: int
    gold_accuracy: Decimal | None  # over all jobs; None without gold answers
    kept_after_drop: int  # judgments dropped after release that the worker kept


def payout_batch_rows(*, batch: PayoutBatch) -> list[PayoutRow]:
    """A batch under review: each payout with its worker's quality beside the amount."""
    return payout_batches_rows(batches=[batch])[batch.pk]


def payout_batches_rows(*, batches: list[PayoutBatch]) -> dict[int, list[PayoutRow]]:
    """Each batch's payouts with their workers' quality, in three queries for any number of batches."""
    payouts = list(
        Payout.objects.filter(batch__in=batches).select_related("worker").order_by("batch_id", "id")
    )
    workers = {p.worker_id for p in payouts}
    stats = {
        row["worker_id"]: row
        for row in WorkerJobStats.objects.filter(worker_id__in=workers)
        .values("worker_id")
        .annotate(seen=Sum("gold_seen"), right=Sum("gold_correct"))
    }
    kept = {
        row["worker_id"]: row["n"]
        for row in Earning.objects.filter(worker_id__in=workers, kept_after_drop=True)
        .values("worker_id")
        .annotate(n=Count("id"))
    }
    rows: dict[int, list[PayoutRow]] = {b.pk: [] for b in batches}
    for p in payouts:
        stat = stats.get(p.worker_id) or {"seen": 0, "right": 0}
        seen = stat["seen"] or 0
        rows[p.batch_id].append(  # type: ignore[index]
            PayoutRow(
                payout_id=p.pk,
                worker_id=p.worker_id,
                handle=p.worker.username,
                amount=p.amount,
                gold_seen=seen,
                gold_accuracy=rate(Decimal(stat["right"] or 0) / seen) if seen else None,
                kept_after_drop=kept.get(p.worker_id, 0),
            )
        )
    return rows


def job_budget_open(*, job_id: int) -> bool:
    """True while the job holds an escrow not yet settled (published, not yet completed or cancelled)."""
    return JobBudget.objects.filter(job_id=job_id, settled_at__isnull=True).exists()


def organization_job_budgets(*, organization: Organization, limit: int = 100) -> list[JobBudget]:
    """The organization's published jobs' budgets, newest first, with job and tier (one query)."""
    return list(
        JobBudget.objects.filter(job__organization=organization)
        .select_related("job", "tier")
        .order_by("-opened_at", "-job_id")[:limit]
    )


def organization_invoice_months(*, organization: Organization, limit: int = 12) -> list[tuple[int, int]]:
    """(year, month) of the UTC months in which the organization's jobs settled, newest first:
    the months that have a monthly invoice with lines."""
    rows = (
        JobBudget.objects.filter(job__organization=organization, settled_at__isnull=False)
        .annotate(month=TruncMonth("settled_at", tzinfo=UTC))
        .values_list("month", flat=True)
        .distinct()
        .order_by("-month")[:limit]
    )
    return [(month.year, month.month) for month in rows]


@dataclass(frozen=True)
class OrganizationMoney:
    organization: Organization
    balance: Decimal  # prepaid, not yet held by a job
    escrow: Decimal  # held by its published, unsettled jobs
    jobs_running: int


def organizations_money() -> list[OrganizationMoney]:
    """Every client organization with its balance and escrow (the staff's view of client money):
    three grouped queries, whatever the number of organizations."""
    balances = dict(
        LedgerAccount.objects.filter(kind=AccountKind.CLIENT_BALANCE).values_list("organization_id", "balance")
    )
    escrows = {
        row["job__organization_id"]: row["s"] or ZERO
        for row in LedgerAccount.objects.filter(kind=AccountKind.CLIENT_ESCROW)
        .values("job__organization_id").annotate(s=Sum("balance"))
    }
    running = dict(
        JobBudget.objects.filter(settled_at__isnull=True).values("job__organization_id")
        .annotate(n=Count("id")).values_list("job__organization_id", "n")
    )
    return [
        OrganizationMoney(org, balances.get(org.pk, ZERO), money(escrows.get(org.pk, ZERO)), running.get(org.pk, 0))
        for org in Organization.objects.order_by("name")
    ]


def items_reopened_delivered(*, job_id: int) -> int:
    """Regular items the client reopened for more judgments after they completed and that are not
    complete again yet: delivered, so charged (items_chargeable), though not complete now (the
    job's progress and `completed_items` leave them out until their judgments arrive)."""
    return Item.objects.filter(job_id=job_id, is_gold=False, is_complete=False, reopened_complete=True).count()


def items_chargeable(*, job: Job, budget_items: int, reopened: int | None = None) -> int:
    """The items a settlement charges (job_settle, and an open job's invoice line meanwhile): those
    complete now, and those the client reopened for more judgments after they completed (they
    were delivered: asking for more and then cancelling does not make them free); at most the
    items escrowed (items imported unescrowed are free). `reopened`: items_reopened_delivered,
    when the caller has it."""
    if reopened is None:
        reopened = items_reopened_delivered(job_id=job.pk)
    return min(job.completed_item_count + reopened, budget_items)


@dataclass(frozen=True)
class JobCharge:
    """What settling a job charges: job_settle charges exactly this (under its budget lock), and
    an open job's invoice, job page and cancel page show it meanwhile."""

    items: int  # items_chargeable: the items charged
    gross: Decimal  # money(items × price per item)
    credits: Decimal  # the quality promise's credit (a QualityCredit exists once the job ended)
    reviews: Decimal  # the client's expert reviews settled while the escrow was open
    extra_judgments: int = 0  # more judgments the client asked for and got (items_extra_given)
    extras: Decimal = ZERO  # money(extra_judgments × the job's pay per judgment)
    reopened: int = 0  # of `items`, those reopened for more judgments and not complete now

    @property
    def complete(self) -> int:
        """Of `items`, those complete now (the job's progress counts these)."""
        return self.items - self.reopened

    @property
    def total(self) -> Decimal:
        return self.gross - self.credits + self.reviews + self.extras


def job_charge(*, job: Job, budget: JobBudget) -> JobCharge:
    """What settling `job` now would charge: chargeable items × price − quality credit + charged
    expert reviews (billing/expert_pay.py marks those under the budget lock). One computation for
    the settlement and every page that says what it will be, so they cannot drift apart."""
    reopened = items_reopened_delivered(job_id=job.pk)
    items = items_chargeable(job=job, budget_items=budget.items, reopened=reopened)
    gross = money(items * budget.price_per_item)
    credit = QualityCredit.objects.filter(job_id=job.pk).first()
    prices = ReviewCharge.objects.filter(job_id=job.pk, charged_at__isnull=False).values_list("price", flat=True)
    extra = items_extra_given(job=job)
    return JobCharge(
        items=items,
        gross=gross,
        credits=money(gross * credit.rate) if credit else ZERO,
        reviews=money(sum(prices, ZERO)),  # summed here: SQLite sums decimals as floats
        extra_judgments=extra,
        extras=money(extra * budget.pay_per_judgment),
        reopened=min(reopened, items),
    )


def items_extra_given(*, job: Job) -> int:
    """The more judgments the client asked for (labeling/reopening.py) that workers gave: per item,
    the accepted judgments beyond what it wanted without the requests (overlap + extra_judgments
    − asked_judgments), at most asked_judgments. Their pay is the client's (the README's hold
    sentence: what the judgments do not use returns); the hold covered it at the worst case."""
    base = Value(job.overlap) + F("extra_judgments") - F("asked_judgments")
    given = Greatest(Value(0), Least(F("asked_judgments"), F("judgment_count") - base))
    total = (
        Item.objects.filter(job_id=job.pk, is_gold=False, asked_judgments__gt=0)
        .aggregate(n=Sum(given, output_field=IntegerField()))["n"]
    )
    return int(total or 0)


def block_pay_withdrawn(*, block_event_id: int) -> Decimal:
    """The pay a block withdrew: its worker's earnings that name its BLOCKED event
    (Earning.withdrawn_by): pending pay in a running job, or pay held for a review in an ended one."""
    total = Earning.objects.filter(withdrawn_by_id=block_event_id).values_list("amount", flat=True)
    return money(sum(total, ZERO))  # summed here: SQLite sums decimals as floats
