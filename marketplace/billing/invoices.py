"""Invoices, built from settlement data: per organization per month, and per job.

An invoice is read, never stored: its figures come from each job's JobBudget (filled once by
services.job_settle) and its QualityCredit (the evidence of a missed promise). So an invoice
always agrees with the ledger, and `billing_audit` covers it.

- A line per job and tier: the items charged × the job's price per item (4 places), rounded
  once to the amount (2 places), exactly as job_settle charged it. Items charged are the regular
  items complete, and those reopened for more judgments after they completed (delivered: the line
  says how many), so they may be more than the job's progress counts complete now.
- A credit per job that missed its tier's quality promise, with the evidence: promised and
  delivered accuracy, the interval, how it was estimated, and the share credited.
- A line per job and price for the expert reviews the client asked for and an expert settled
  before the job settled (billing/expert_pay.py): reviews × price.
- A line per job for the more judgments the client asked for and got: judgments × the job's pay.
- total = Σ lines + Σ expert review lines + Σ extra judgment lines − Σ credits = Σ charged.

The monthly invoice lists the jobs *settled* in that calendar month (UTC). A job's own invoice
exists once it is published; until it settles it is "provisional": the same arithmetic over
the items completed so far, what settling now would charge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from marketplace.accounts.models import Organization, User
from marketplace.billing.models import InvoicePayment, JobBudget, QualityCredit, ReviewCharge
from marketplace.billing.pricing import money
from marketplace.billing.selectors import items_extra_given, items_reopened_delivered, job_charge
from marketplace.billing.services import require_admin
from marketplace.errors import ApplicationError, Conflict, NotFound
from marketplace.jobs.models import Job
from marketplace.quality.delivery import MIN_GOLD_ITEMS

ZERO = Decimal("0.00")
FINAL = "final"
PROVISIONAL = "provisional"
MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")  # ASCII digits only
JOB_NUMBER = re.compile(r"^(?P<org>.+)-JOB-(?P<job>[0-9]+)$")
MONTH_NUMBER = re.compile(r"^(?P<org>.+)-(?P<year>[0-9]{4})-(?P<month>0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class InvoiceLine:
    job_id: int
    job_title: str
    tier: str
    tier_name: str
    completed_items: int  # the items charged (billing.selectors.items_chargeable); the API's older name
    price_per_item: Decimal  # 4 places
    amount: Decimal  # money(completed_items × price_per_item)
    settled_at: datetime | None
    quality: str  # the promise's verdict with its evidence, or why it was not measured
    # Of the items charged, those the client reopened for more judgments after they completed and
    # that are not complete again: delivered, so charged, though the job's progress leaves them out.
    items_reopened: int = 0

    @property
    def items_charged(self) -> int:
        return self.completed_items


@dataclass(frozen=True)
class InvoiceCredit:
    job_id: int
    job_title: str
    promised_accuracy: Decimal
    delivered_accuracy: Decimal
    interval_low: Decimal
    interval_high: Decimal
    method: str
    rate: Decimal  # share of the line's amount credited
    amount: Decimal  # money(line amount × rate)


@dataclass(frozen=True)
class InvoiceReviews:
    """Expert reviews the client asked for, settled while the job's escrow was open."""

    job_id: int
    job_title: str
    reviews: int
    price: Decimal  # per review, fixed when asked for
    amount: Decimal  # reviews × price


@dataclass(frozen=True)
class InvoiceExtras:
    """More judgments the client asked for on delivered items and got, at the job's pay."""

    job_id: int
    job_title: str
    judgments: int
    pay: Decimal  # per judgment (4 places), fixed at publish
    amount: Decimal  # money(judgments × pay)


@dataclass(frozen=True)
class Invoice:
    number: str  # stable: ACME-2026-11, or ACME-JOB-42
    organization_id: int
    organization_name: str
    period: str  # "2026-11", or "job 42"
    status: str  # FINAL, or PROVISIONAL while it can change: a job not settled, a month not over
    lines: list[InvoiceLine]
    credits: list[InvoiceCredit]
    payment: InvoicePayment | None  # an admin marked it paid
    reviews: list[InvoiceReviews] = field(default_factory=list)
    extras: list[InvoiceExtras] = field(default_factory=list)

    @property
    def subtotal(self) -> Decimal:
        return (sum((line.amount for line in self.lines), ZERO) + sum((r.amount for r in self.reviews), ZERO)
                + sum((e.amount for e in self.extras), ZERO))

    @property
    def credits_total(self) -> Decimal:
        return sum((credit.amount for credit in self.credits), ZERO)

    @property
    def total(self) -> Decimal:
        return self.subtotal - self.credits_total


def month_parse(raw: str | None) -> tuple[int, int]:
    """'YYYY-MM' → (year, month); the current UTC month when absent."""
    if not raw:
        now = timezone.now().astimezone(UTC)
        return now.year, now.month
    match = MONTH.fullmatch(raw.strip())
    # Years 1..9998: both ends of the month must be dates Python can hold.
    if match is None or not 1 <= int(match.group(1)) <= 9998:
        raise ApplicationError("month must look like 2026-11 (YYYY-MM).")
    return int(match.group(1)), int(match.group(2))


def _month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _line_and_credit(
    budget: JobBudget, credit: QualityCredit | None
) -> tuple[InvoiceLine, InvoiceCredit | None]:
    job = budget.job
    if budget.settled_at is not None:
        assert budget.completed_items is not None and budget.gross is not None
        completed, gross, credited = budget.completed_items, budget.gross, budget.credits or ZERO
        # Items reopened for more judgments stay as they were at settlement (an ended job takes no
        # work); only a job with an escrow addition (the request's hold) can have any.
        reopened = min(items_reopened_delivered(job_id=job.pk), completed) if budget.added > 0 else 0
    else:  # what job_settle would charge now (the same function)
        charge = job_charge(job=job, budget=budget)
        completed, gross, credited, reopened = charge.items, charge.gross, charge.credits, charge.reopened
    line = InvoiceLine(
        job_id=job.pk,
        job_title=job.title,
        tier=budget.tier.slug,
        tier_name=budget.tier.name,
        completed_items=completed,
        items_reopened=reopened,
        price_per_item=budget.price_per_item,
        amount=gross,
        settled_at=budget.settled_at,
        quality=quality_note(budget, credit),
    )
    if credit is None or credited == ZERO:
        return line, None
    return line, InvoiceCredit(
        job_id=job.pk,
        job_title=job.title,
        promised_accuracy=credit.promised_accuracy,
        delivered_accuracy=credit.delivered_accuracy,
        interval_low=credit.interval_low,
        interval_high=credit.interval_high,
        method=credit.method,
        rate=credit.rate,
        amount=credited,
    )


def quality_note(budget: JobBudget, credit: QualityCredit | None) -> str:
    """The quality promise's verdict with its evidence (invoice lines and the job page)."""
    if credit is None:
        if budget.settled_at is None:
            return "checked when the job ends"
        return f"not measured: the estimate needs at least {MIN_GOLD_ITEMS} judged gold items"
    # Credited only for a shortfall the interval proves (pricing.promise_credit_rate).
    if credit.delivered_accuracy >= credit.promised_accuracy:
        verdict = "kept"
    elif credit.interval_high < credit.promised_accuracy:
        verdict = "missed"
    else:
        verdict = "not shown to be missed"
    return (
        f"{verdict}: delivered {percent_text(credit.delivered_accuracy)} (95% interval "
        f"{percent_text(credit.interval_low)}–{percent_text(credit.interval_high)}) against "
        f"{percent_text(credit.promised_accuracy)} promised"
    )


def percent_text(rate: Decimal) -> str:
    """A rate as clients read accuracy everywhere else: 0.9807 is "98.1%"."""
    return f"{rate * 100:.1f}%"


def _reviews(budgets: list[JobBudget]) -> list[InvoiceReviews]:
    """The charged expert reviews of these jobs, a line per job and price (one query)."""
    titles = {b.job_id: b.job.title for b in budgets}
    rows = (
        ReviewCharge.objects.filter(job_id__in=list(titles), charged_at__isnull=False)
        .values("job_id", "price").annotate(n=Count("id"), s=Sum("price")).order_by("job_id", "price")
    )
    return [
        InvoiceReviews(job_id=row["job_id"], job_title=titles[row["job_id"]], reviews=row["n"],
                       price=row["price"], amount=money(row["price"] * row["n"]))
        for row in rows
    ]


def _extras(budgets: list[JobBudget]) -> list[InvoiceExtras]:
    """The more judgments given per job: as settled, or what settling now would charge."""
    out = []
    for budget in budgets:
        if budget.settled_at is not None:
            judgments, amount = budget.extra_judgments or 0, budget.extras_charged or ZERO
        else:
            judgments = items_extra_given(job=budget.job)
            amount = money(judgments * budget.pay_per_judgment)
        if judgments:
            out.append(InvoiceExtras(job_id=budget.job_id, job_title=budget.job.title, judgments=judgments,
                                     pay=budget.pay_per_judgment, amount=amount))
    return out


def _build(budgets: list[JobBudget]) -> tuple[list[InvoiceLine], list[InvoiceCredit]]:
    credits = {c.job_id: c for c in QualityCredit.objects.filter(job_id__in=[b.job_id for b in budgets])}
    lines, out = [], []
    for budget in budgets:
        line, credit = _line_and_credit(budget, credits.get(budget.job_id))
        lines.append(line)
        if credit is not None:
            out.append(credit)
    return lines, out


def invoice_for_month(*, organization: Organization, year: int, month: int) -> Invoice:
    """The organization's jobs settled in that UTC month, provisional until the month is over.
    Scoped by the organization given: the caller passes the requester's own."""
    start, end = _month_bounds(year, month)
    budgets = list(
        JobBudget.objects.select_related("job", "tier")
        .filter(job__organization=organization, settled_at__gte=start, settled_at__lt=end)
        .order_by("settled_at", "job_id")
    )
    lines, credits = _build(budgets)
    return Invoice(
        number=f"{organization.slug.upper()}-{year:04d}-{month:02d}",
        organization_id=organization.pk,
        organization_name=organization.name,
        period=f"{year:04d}-{month:02d}",
        # Jobs settling before the month ends join it, so only a past month's total is final.
        status=FINAL if end <= timezone.now() else PROVISIONAL,
        lines=lines,
        credits=credits,
        payment=_payment(organization, f"{organization.slug.upper()}-{year:04d}-{month:02d}"),
        reviews=_reviews(budgets),
        extras=_extras(budgets),
    )


def invoice_for_job(*, job: Job) -> Invoice:
    """One job's invoice. The caller scopes `job` to the requester (jobs.selectors)."""
    budget = JobBudget.objects.select_related("job__organization", "tier").filter(job_id=job.pk).first()
    if budget is None:
        raise NotFound("This job has no invoice: it was never published.")
    lines, credits = _build([budget])
    organization = budget.job.organization
    return Invoice(
        number=f"{organization.slug.upper()}-JOB-{job.pk}",
        organization_id=organization.pk,
        organization_name=organization.name,
        period=f"job {job.pk}",
        status=FINAL if budget.settled_at is not None else PROVISIONAL,
        lines=lines,
        credits=credits,
        payment=_payment(organization, f"{organization.slug.upper()}-JOB-{job.pk}"),
        reviews=_reviews([budget]),
        extras=_extras([budget]),
    )


def _payment(organization: Organization, number: str) -> InvoicePayment | None:
    return InvoicePayment.objects.filter(organization=organization, number=number).first()


def invoice_by_number(*, number: str) -> Invoice:
    """Any organization's invoice by its number (admins only: the caller checks)."""
    if match := JOB_NUMBER.match(number):
        job = Job.objects.filter(
            pk=int(match["job"]), organization__slug__iexact=match["org"]
        ).first()
        if job is not None:
            return invoice_for_job(job=job)
    elif (match := MONTH_NUMBER.match(number)) and 1 <= int(match["year"]) <= 9998:
        organization = Organization.objects.filter(slug__iexact=match["org"]).first()
        if organization is not None:
            return invoice_for_month(
                organization=organization, year=int(match["year"]), month=int(match["month"])
            )
    raise NotFound("Invoice not found: numbers look like ACME-2026-11 or ACME-JOB-42.")


@transaction.atomic
def invoice_mark_paid(*, admin: User, number: str, payment_reference: str = "") -> InvoicePayment:
    """Record that a final invoice was paid, with its total at that moment. Idempotent: marking
    it again returns the first record. A job's invoice is final once settled; a month's once
    the month is over (until then more jobs may settle into it)."""
    require_admin(admin)
    invoice = invoice_by_number(number=number)
    if invoice.status != FINAL and MONTH_NUMBER.match(invoice.number):
        raise Conflict(f"{invoice.period} is not over yet: more jobs may settle into it.")
    if invoice.status != FINAL:
        raise Conflict("This job is not settled yet: its invoice can still change.")
    if len(payment_reference) > 80:
        raise ApplicationError("payment_reference is at most 80 characters.")
    # get_or_create on the unique number: two admins marking it at once record it once.
    payment, _ = InvoicePayment.objects.get_or_create(
        number=invoice.number,
        defaults={
            "organization_id": invoice.organization_id,
            "total": invoice.total,
            "payment_reference": payment_reference,
            "recorded_by": admin,
        },
    )
    return payment
