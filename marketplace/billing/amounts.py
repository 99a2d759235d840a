"""Money a person types (an escrow addition, a top-up, a payout request), read strictly: the API
and the portal's forms both parse amounts here, so both refuse the same inputs the same way."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from marketplace.billing.pricing import MAX_BALANCE, is_money
from marketplace.errors import ApplicationError
from marketplace.parsing import decimal_text

MAX_AMOUNT = MAX_BALANCE  # MONEY: 14 digits, 2 places
# Plain decimal notation in ASCII digits: Decimal() also reads "1e3", "١٢" (Arabic-Indic digits),
# "NaN" and " _1_0", and error messages then showed "1E+3" instead of what the person typed.
_PLAIN = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)


def money_in(data: Any, name: str) -> Decimal:
    """Money in: a JSON string ("125.50") or an integer; positive, at most 2 places. Floats are
    refused: 0.1 has no exact binary value, and money is never a float here."""
    raw = data.get(name) if isinstance(data, dict) else None
    if raw is None or raw == "":
        raise ApplicationError(
            f"{name} is required, as a string like \"125.50\".", details={name: "required"}
        )
    text = decimal_text(raw, name)
    if not _PLAIN.fullmatch(text):
        raise ApplicationError(
            f"{name} must be a number like \"125.50\": positive, in digits 0-9 with at most 2 decimal "
            f"places; not \"{str(raw)[:40]}\".",
            details={name: "not_a_number"},
        )
    amount = Decimal(text)
    if amount <= 0:
        raise ApplicationError(f"{name} must be positive.", details={name: "not_positive"})
    if amount > MAX_AMOUNT:  # first: rounding 1e400 to cents overflows Decimal's precision
        raise ApplicationError(f"{name} is at most {MAX_AMOUNT}.", details={name: "too_large"})
    if not is_money(amount):
        raise ApplicationError(f"{name} has at most 2 decimal places.", details={name: "too_many_places"})
    return amount
