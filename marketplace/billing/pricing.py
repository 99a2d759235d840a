"""Pricing: pure Decimal arithmetic, no Django. Quotes, a job's price per item, pay remainders.

Units: every amount is in the marketplace currency. Rates (price per item, pay per judgment, fee
and credit rates, accuracies) carry 4 decimal places; amounts posted to the ledger carry 2.

Rounding: `rounded()` (marketplace/money.py) is the only rounding function; it rounds half to even (banker's rounding),
so over many postings the halves go up as often as down. Products are rounded once, at the end
(`rounded(items * price)`), never per unit. Holds are the exception that rounds up (`hold()`):
an escrow a fraction of a cent short would refuse a worker's last judgment, so what is held
never falls below what the items can cost; the extra cent returns at settlement.

Remainder rule: a worker's pay per judgment may have 4 places (0.0125) but a ledger entry has 2.
The k-th paid judgment of a worker in a job pays `rounded(k * pay) - rounded((k - 1) * pay)`, so
after n judgments the worker holds exactly `rounded(n * pay)`: the fraction of a cent that one
judgment could not pay is carried to the next one, never dropped and never created. With a pay
of whole cents (the seeded tiers) every judgment pays exactly `pay`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from math import comb

from marketplace.money import CENT_PLACES, RATE_PLACES, money, rate, rounded

ZERO = Decimal("0.00")
MAX_BALANCE = Decimal("999999999999.99")  # the most a MONEY field (14 digits, 2 places) holds
ONE = Decimal(1)

# Quality credit: this share of the charge per accuracy point (0.01) under the promise, capped
# at the whole charge. A job promised 0.95 that delivered 0.93 gets 20% of its charge back.
CREDIT_PER_POINT = Decimal("0.10")

ACCURACY_FROM_TIER = "tier_default"  # the tier's assumed worker accuracy (no history)
ACCURACY_FROM_POOL = "measured_pool"  # the measured gold accuracy of the qualified worker pool


def hold(items: int, per_item: Decimal) -> Decimal:
    """What `items` items hold in escrow at `per_item` each: the product rounded once, up."""
    return rounded(items * per_item, CENT_PLACES, up=True)


def is_money(value: Decimal) -> bool:
    """True when `value` is finite and already has at most 2 places (nothing to round away)."""
    return value.is_finite() and value == money(value)


def judgment_pay_amount(*, pay_per_judgment: Decimal, rank: int) -> Decimal:
    """What the `rank`-th (1-based) paid judgment of one worker in one job pays (remainder rule)."""
    if rank < 1:
        raise ValueError("rank starts at 1")
    return money(rank * pay_per_judgment) - money((rank - 1) * pay_per_judgment)


@dataclass(frozen=True)
class TierTerms:
    """A tier's numbers, copied out of the Tier model so pricing stays pure."""

    slug: str
    name: str
    overlap: int  # fixed overlap, or the minimum when max_overlap is set
    max_overlap: int | None
    gold_rate: Decimal  # share of assignments that are gold items
    price_per_item: Decimal  # charged to the client per completed regular item
    pay_per_judgment: Decimal  # paid to the worker per accepted judgment, gold included
    promised_accuracy: Decimal
    assumed_worker_accuracy: Decimal  # the accuracy quotes assume when there is no history
    seconds_per_judgment: Decimal


def expected_overlap(*, overlap: int, max_overlap: int | None) -> Decimal:
    """Judgments per regular item: the fixed overlap, or for dynamic overlap the midpoint of
    minimum and maximum (an assumption: items stop anywhere between the two)."""
    if max_overlap is None or max_overlap <= overlap:
        return Decimal(overlap)
    return Decimal(overlap + max_overlap) / 2


def judgments_per_item(*, overlap: Decimal, gold_rate: Decimal) -> Decimal:
    """Regular judgments plus the gold judgments mixed in (gold is `gold_rate` of assignments)."""
    return overlap / (ONE - gold_rate)


def job_price_per_item(
    *, terms: TierTerms, overlap: int, max_overlap: int | None, gold_rate: Decimal, pay: Decimal
) -> Decimal:
    """The client's price per item for a job on this tier: the tier's price, plus the extra
    expected worker cost the job's own settings add (higher pay, more overlap or gold). Never
    below the tier's price: a cheaper job setting does not lower the price."""
    tier_cost = (
        judgments_per_item(
            overlap=expected_overlap(overlap=terms.overlap, max_overlap=terms.max_overlap),
            gold_rate=terms.gold_rate,
        )
        * terms.pay_per_judgment
    )
    job_cost = (
        judgments_per_item(
            overlap=expected_overlap(overlap=overlap, max_overlap=max_overlap), gold_rate=gold_rate
        )
        * pay
    )
    return rate(terms.price_per_item + max(Decimal(0), job_cost - tier_cost))


def escrow_per_item(
    *, price: Decimal, pay: Decimal, overlap: int, max_overlap: int | None, gold_rate: Decimal
) -> Decimal:
    """What publishing holds in escrow per item: the price, or the worst-case pay when that is
    more: every item at its maximum overlap (the fixed overlap without dynamic overlap), gold
    mixed in, each judgment at its pay rounded up to the cent (the remainder rule never pays a
    worker more than that over their judgments). The client is still charged completed items ×
    price; the rest of the hold comes back at settlement.

    So the escrow pays for all the work the job's items can take, and a submit needs no check of
    a shared balance (billing/posting.py): gold stays within `gold_rate` of what serving hands
    out (labeling.claiming), so gold judgments ≤ regular ones × rate / (1 − rate). A job priced
    under its own pay holds its pay and settles at a loss for Quorum, never paused mid-work."""
    most = max_overlap if max_overlap is not None and max_overlap > overlap else overlap
    per_judgment = rounded(pay, CENT_PLACES, up=True)
    worst = judgments_per_item(overlap=Decimal(most), gold_rate=gold_rate) * per_judgment
    return rounded(max(price, worst), RATE_PLACES, up=True)  # a worst case is never rounded down


def extra_judgments_hold(*, judgments: int, pay: Decimal, gold_rate: Decimal) -> Decimal:
    """What `judgments` more regular judgments a client asks for hold in escrow: their worst-case
    pay, as escrow_per_item counts it per judgment (the pay rounded up to the cent, gold mixed
    in at `gold_rate` of assignments), the product rounded once, up. The judgments are paid from
    the job's escrow like any other; what they do not use returns at settlement."""
    per_judgment = rounded(pay, CENT_PLACES, up=True)
    return rounded(judgments_per_item(overlap=Decimal(judgments), gold_rate=gold_rate) * per_judgment,
                   CENT_PLACES, up=True)


def majority_accuracy(*, worker_accuracy: Decimal, overlap: int) -> Decimal:
    """Chance that a majority of `overlap` independent workers, each right with probability p,
    is right, ties broken by a coin. Two-label case: with more labels wrong answers split and
    a plurality does better, so this is a conservative estimate (consensus also beats it)."""
    p, n = worker_accuracy, overlap
    total = Decimal(0)
    for right in range(n + 1):
        chance = comb(n, right) * p**right * (ONE - p) ** (n - right)
        if 2 * right > n:
            total += chance
        elif 2 * right == n:
            total += chance / 2
    return rate(total)


def credit_rate(*, promised: Decimal, delivered: Decimal) -> Decimal:
    """The share of the charge credited for a missed promise (0 when the promise was kept)."""
    shortfall = max(Decimal(0), promised - delivered)
    return rate(min(ONE, shortfall * 100 * CREDIT_PER_POINT))


def promise_credit_rate(*, promised: Decimal, interval_high: Decimal) -> Decimal:
    """The credit policy: the shortfall the evidence proves, i.e. credit_rate at the upper bound
    of the delivered accuracy's 95% interval (0 unless even that bound misses the promise).

    Why the bound and not the point estimate: a kept promise is credited at most 2.5% of the
    time, and the credit never exceeds what the true accuracy earns unless the interval misses
    it. A point estimate would credit by noise (a 9-point 'miss' on a job that missed by 0.7);
    and since credits cannot go negative, noise pays on average, so thin gold would raise a
    client's expected credit. With the bound, better evidence (more gold, more judgments on it)
    narrows the interval and can only move the credit towards what is due.
    """
    return credit_rate(promised=promised, delivered=interval_high)


@dataclass(frozen=True)
class TierQuote:
    tier: str
    name: str
    items: int
    price_per_item: Decimal
    price: Decimal  # what the client is charged if every item completes
    escrow: Decimal  # held at publish (≥ price: dynamic overlap's worst case); the rest returns
    expected_judgments: int  # gold included
    expected_worker_cost: Decimal
    promised_accuracy: Decimal
    expected_accuracy: Decimal
    accuracy_source: str  # ACCURACY_FROM_TIER or ACCURACY_FROM_POOL
    expected_hours: Decimal  # with `workers` labeling at once


def tier_quote(
    *, terms: TierTerms, items: int, workers: int, pool_accuracy: Decimal | None = None,
    overlap: int | None = None,
) -> TierQuote:
    """A quote for `items` regular items on one tier. `pool_accuracy` is the measured gold
    accuracy of the workers qualified for the tier; without it the tier's assumption is used.
    `overlap`: a job's own fixed overlap on the tier (job_create's `overlap`), priced as publish
    prices it (job_price_per_item: more judgments cost more, fewer never less than the tier);
    without it the tier's own overlap, dynamic where the tier's is."""
    if items < 0 or workers < 1 or (overlap is not None and overlap < 1):
        raise ValueError("items must be >= 0, workers >= 1 and overlap >= 1")
    least, most = (terms.overlap, terms.max_overlap) if overlap is None else (overlap, None)
    price_per_item = job_price_per_item(
        terms=terms, overlap=least, max_overlap=most, gold_rate=terms.gold_rate, pay=terms.pay_per_judgment
    )
    expected = expected_overlap(overlap=least, max_overlap=most)
    judgments = int(
        rounded(items * judgments_per_item(overlap=expected, gold_rate=terms.gold_rate), 0)
    )
    worker_accuracy = terms.assumed_worker_accuracy if pool_accuracy is None else pool_accuracy
    return TierQuote(
        tier=terms.slug,
        name=terms.name,
        items=items,
        price_per_item=price_per_item,
        price=money(items * price_per_item),
        escrow=hold(items, escrow_per_item(
            price=price_per_item, pay=terms.pay_per_judgment, overlap=least,
            max_overlap=most, gold_rate=terms.gold_rate)),
        expected_judgments=judgments,
        expected_worker_cost=money(judgments * terms.pay_per_judgment),
        promised_accuracy=terms.promised_accuracy,
        expected_accuracy=majority_accuracy(worker_accuracy=worker_accuracy, overlap=int(expected)),
        accuracy_source=ACCURACY_FROM_TIER if pool_accuracy is None else ACCURACY_FROM_POOL,
        expected_hours=rounded(judgments * terms.seconds_per_judgment / workers / 3600, 2),
    )


def quote(
    *,
    tiers: Sequence[TierTerms],
    items: int,
    workers: int,
    pool_accuracy: Mapping[str, Decimal] | None = None,
    overlap: int | None = None,
) -> list[TierQuote]:
    """Quotes for every tier, side by side; `pool_accuracy` maps a tier slug to its measured
    pool accuracy (tiers missing from it fall back to their defaults); `overlap` as tier_quote."""
    measured = pool_accuracy or {}
    return [
        tier_quote(
            terms=terms, items=items, workers=workers, pool_accuracy=measured.get(terms.slug),
            overlap=overlap,
        )
        for terms in tiers
    ]
