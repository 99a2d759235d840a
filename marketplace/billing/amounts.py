"""Money a person types (an escrow addition, a top-up, a payout request), read strictly: the API
and the portal's forms all parse amounts here, so they refuse the same inputs the same way."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marketplace.errors import ApplicationError
from marketplace.limits import MAX_MONEY_INPUT
from marketplace.money import CENT_PLACES
from marketplace.parsing import decimal_plain, decimal_text

MAX_AMOUNT = MAX_MONEY_INPUT  # one amount typed or sent; an account holds more (pricing.MAX_BALANCE)


def money_in(data: Any, name: str) -> Decimal:
    """Money in: a JSON string ("125.50") or an integer, or a form field's text; positive, in plain
    digits with at most 2 places, at most MAX_AMOUNT (parsing.decimal_plain). Floats are refused:
    0.1 has no exact binary value, and money is never a float here."""
    raw = data.get(name) if isinstance(data, dict) else None
    if raw is None or raw == "":
        raise ApplicationError(
            f"{name} is required, as a string like \"125.50\".", details={name: "required"}
        )
    amount = decimal_plain(decimal_text(raw, name), name, places=CENT_PLACES, most=MAX_AMOUNT, example="125.50")
    if amount <= 0:
        raise ApplicationError(f"{name} must be positive.", details={name: "not_positive"})
    return amount
