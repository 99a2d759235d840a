"""Pricing is pure Decimal: one rounding function, the remainder rule, prices and quotes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketplace.billing.models import Tier
from marketplace.billing.pricing import (
    ACCURACY_FROM_POOL,
    ACCURACY_FROM_TIER,
    TierTerms,
    credit_rate,
    extra_judgments_hold,
    promise_credit_rate,
    job_price_per_item,
    judgment_pay_amount,
    judgments_per_item,
    majority_accuracy,
    money,
    quote,
    rounded,
)
from marketplace.billing.selectors import tier_terms

D = Decimal
STANDARD = TierTerms(
    slug="standard",
    name="Standard",
    overlap=3,
    max_overlap=None,
    gold_rate=D("0.1"),
    price_per_item=D("0.1000"),
    pay_per_judgment=D("0.0200"),
    promised_accuracy=D("0.90"),
    assumed_worker_accuracy=D("0.82"),
    seconds_per_judgment=D("10"),
)
PREMIUM = TierTerms(
    slug="premium",
    name="Premium",
    overlap=5,
    max_overlap=9,
    gold_rate=D("0.15"),
    price_per_item=D("0.4500"),
    pay_per_judgment=D("0.0400"),
    promised_accuracy=D("0.95"),
    assumed_worker_accuracy=D("0.85"),
    seconds_per_judgment=D("15"),
)


def test_rounding_sends_halves_to_the_even_cent() -> None:
    assert money(D("0.125")) == D("0.12")
    assert money(D("0.135")) == D("0.14")
    assert money(D("-0.125")) == D("-0.12")
    assert rounded(D("0.00005"), 4) == D("0.0000") and rounded(D("0.00015"), 4) == D("0.0002")


def test_sub_cent_pay_carries_its_remainder_so_n_judgments_pay_exactly_n_times_the_rate() -> None:
    pays = [judgment_pay_amount(pay_per_judgment=D("0.0125"), rank=k) for k in range(1, 101)]
    assert set(pays) <= {D("0.01"), D("0.02")}
    for n in (1, 7, 8, 33, 100):
        assert sum(pays[:n]) == money(n * D("0.0125"))
    assert sum(pays) == D("1.25")


def test_whole_cent_pay_pays_the_same_for_every_judgment() -> None:
    assert {judgment_pay_amount(pay_per_judgment=D("0.0200"), rank=k) for k in range(1, 50)} == {
        D("0.02")
    }


def test_a_job_on_its_tiers_settings_pays_the_tiers_price() -> None:
    price = job_price_per_item(
        terms=STANDARD, overlap=3, max_overlap=None, gold_rate=D("0.1"), pay=D("0.02")
    )
    assert price == D("0.1000")


def test_raising_the_pay_raises_the_price_by_the_extra_expected_cost() -> None:
    price = job_price_per_item(
        terms=STANDARD, overlap=3, max_overlap=None, gold_rate=D("0.1"), pay=D("0.03")
    )
    # 3 / 0.9 judgments per item, each 0.01 more: 0.0333 more per item.
    assert price == D("0.1333")


def test_cheaper_job_settings_never_lower_the_tiers_price() -> None:
    price = job_price_per_item(
        terms=STANDARD, overlap=1, max_overlap=None, gold_rate=D("0"), pay=D("0.02")
    )
    assert price == D("0.1000")


def test_majority_accuracy_matches_the_binomial_formula() -> None:
    assert majority_accuracy(worker_accuracy=D("0.8"), overlap=1) == D("0.8000")
    assert majority_accuracy(worker_accuracy=D("0.8"), overlap=3) == D("0.8960")  # 3p² − 2p³
    assert majority_accuracy(worker_accuracy=D("0.8"), overlap=4) == D("0.8960")  # ties by a coin


def test_a_quote_shows_the_trade_between_cost_and_quality_side_by_side() -> None:
    economy_like, premium = quote(tiers=[STANDARD, PREMIUM], items=1000, workers=10)
    assert economy_like.price == D("100.00") and premium.price == D("450.00")
    assert economy_like.expected_judgments == 3333  # 1000 × 3 / 0.9
    assert premium.expected_judgments == 8235  # 1000 × 7 (midpoint of 5..9) / 0.85
    assert economy_like.expected_accuracy < premium.expected_accuracy
    assert economy_like.expected_accuracy >= STANDARD.promised_accuracy
    assert economy_like.accuracy_source == ACCURACY_FROM_TIER
    assert economy_like.expected_hours == D("0.93")  # 3333 × 10 s / 10 workers


def test_a_quote_uses_the_measured_pool_accuracy_when_given_and_says_so() -> None:
    (measured,) = quote(tiers=[STANDARD], items=10, workers=1, pool_accuracy={"standard": D("0.7")})
    assert measured.accuracy_source == ACCURACY_FROM_POOL
    assert measured.expected_accuracy == majority_accuracy(worker_accuracy=D("0.7"), overlap=3)


def test_a_quote_at_a_jobs_own_overlap_is_that_jobs_price_and_a_fixed_overlap() -> None:
    (more,) = quote(tiers=[PREMIUM], items=100, workers=1, overlap=12)
    price = job_price_per_item(terms=PREMIUM, overlap=12, max_overlap=None, gold_rate=D("0.15"), pay=D("0.04"))
    assert more.price_per_item == price > PREMIUM.price_per_item and more.price == money(100 * price)
    assert more.expected_judgments == 1412  # 100 × 12 / 0.85: fixed, no longer the 5..9 midpoint
    assert more.expected_accuracy == majority_accuracy(worker_accuracy=D("0.85"), overlap=12)
    (same,) = quote(tiers=[STANDARD], items=100, workers=1, overlap=3)
    assert same == quote(tiers=[STANDARD], items=100, workers=1)[0]


def test_a_kept_promise_earns_no_credit_and_a_miss_earns_ten_percent_per_point() -> None:
    assert credit_rate(promised=D("0.95"), delivered=D("0.97")) == D("0")
    assert credit_rate(promised=D("0.95"), delivered=D("0.93")) == D("0.2000")
    assert credit_rate(promised=D("0.95"), delivered=D("0.50")) == D("1.0000")


def test_the_credit_is_owed_only_for_the_shortfall_the_interval_proves() -> None:
    # A point estimate of 0.85 whose interval reaches 0.96 proves nothing against 0.95 promised.
    assert promise_credit_rate(promised=D("0.95"), interval_high=D("0.96")) == D("0")
    # An interval topping out at 0.93 proves two points missed: 20%, as credit_rate says.
    assert promise_credit_rate(promised=D("0.95"), interval_high=D("0.93")) == D("0.2000")


@pytest.mark.django_db
def test_every_seeded_tier_charges_more_than_its_worst_case_worker_cost() -> None:
    tiers = list(Tier.objects.all())
    assert [t.slug for t in tiers] == ["economy", "standard", "premium"]
    for tier in tiers:
        terms = tier_terms(tier)
        worst = judgments_per_item(
            overlap=D(tier.max_overlap or tier.overlap), gold_rate=tier.gold_rate
        )
        assert tier.price_per_item > worst * tier.pay_per_judgment, tier.slug
        (expected,) = quote(tiers=[terms], items=1, workers=1)
        assert expected.expected_accuracy >= tier.promised_accuracy, tier.slug


def test_more_judgments_hold_their_worst_case_pay_rounded_up_once() -> None:
    # 7 judgments at 0.0125 (0.02 rounded up to the cent) with a tenth of assignments gold:
    # 7 / 0.9 × 0.02 = 0.15555… → 0.16.
    assert extra_judgments_hold(judgments=7, pay=Decimal("0.0125"), gold_rate=Decimal("0.1")) == Decimal("0.16")
    assert extra_judgments_hold(judgments=3, pay=Decimal("0.02"), gold_rate=Decimal("0")) == Decimal("0.06")
    assert extra_judgments_hold(judgments=0, pay=Decimal("0.05"), gold_rate=Decimal("0.2")) == Decimal("0.00")
