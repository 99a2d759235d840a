"""Rounding money: the one pure function every layer rounds with (billing's pricing, live
progress messages). No Django; the rules are explained in marketplace/billing/pricing.py."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal

CENT_PLACES = 2
RATE_PLACES = 4
# The marketplace's one currency. Billing stores bare amounts; pages and invoices name it.
CURRENCY_CODE = "USD"
CURRENCY_SIGN = "$"


def rounded(value: Decimal | int, places: int = CENT_PLACES, *, up: bool = False) -> Decimal:
    """The one rounding function: `places` decimals, half to even (`up`: towards +infinity)."""
    mode = ROUND_CEILING if up else ROUND_HALF_EVEN
    return Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=mode)


def money(value: Decimal | int) -> Decimal:
    """An amount for the ledger (2 places)."""
    return rounded(value, CENT_PLACES)


def rate(value: Decimal | int | str) -> Decimal:
    """A rate (4 places)."""
    return rounded(Decimal(value), RATE_PLACES)


def money_text(amount: Decimal | int) -> str:
    """An amount as people read it everywhere in the portal: "$1,234.50" (the pages' money filter
    and live.js write it the same way)."""
    return f"{CURRENCY_SIGN}{money(amount):,.2f}"
