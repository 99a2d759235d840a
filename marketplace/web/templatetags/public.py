"""Filters for the public pages: tier rates
(4 places, per item) as amounts people compare (2 places, per thousand), and shares as
percentages. Pure Decimal, never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

from marketplace.money import CURRENCY_SIGN

register = template.Library()

CENTS = Decimal("0.01")
CURRENCY = CURRENCY_SIGN


def _decimal(value: object) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


@register.filter
def money(value: object) -> str:
    """12.5 → "$12.50"; anything not a number renders as an empty string."""
    amount = _decimal(value)
    if amount is None:
        return ""
    return f"{CURRENCY}{amount.quantize(CENTS, rounding=ROUND_HALF_UP):,}"


@register.filter
def money_rate(value: object) -> str:
    """A per-item rate with its 4 places: 0.07 → "$0.0700"."""
    rate = _decimal(value)
    return "" if rate is None else f"{CURRENCY}{rate.quantize(Decimal('0.0001'), rounding=ROUND_HALF_UP)}"


@register.filter
def per_thousand(value: object) -> str:
    """A per-item rate as the amount for 1,000 items: 0.0700 → "$70.00"."""
    rate = _decimal(value)
    return money(rate * 1000) if rate is not None else ""


@register.filter
def percent(value: object) -> str:
    """A share in [0, 1] as a percentage, one decimal at most: 0.9000 → "90%", 0.875 → "87.5%"."""
    share = _decimal(value)
    if share is None:
        return ""
    shown = (share * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{shown.normalize():f}%"
