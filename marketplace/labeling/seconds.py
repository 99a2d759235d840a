"""Seconds spent on a judgment: measured from the lease, or the client's figure when smaller."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marketplace.errors import ApplicationError

_SECONDS_PLACES = Decimal("0.001")
_SECONDS_MAX = Decimal("999999.999")  # Judgment.seconds_spent holds 9 digits, 3 after the point


def seconds_clean(value: Any) -> Decimal:
    """Seconds spent as a Decimal with 3 places, 0 to 999999.999 (a float is read via str)."""
    try:
        seconds = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ApplicationError("seconds_spent must be a number of seconds.") from None
    if not seconds.is_finite() or not (0 <= seconds <= _SECONDS_MAX):
        raise ApplicationError(f"seconds_spent must be between 0 and {_SECONDS_MAX}.")
    return seconds.quantize(_SECONDS_PLACES)


def seconds_since(start: datetime, now: datetime) -> Decimal:
    """Seconds from the lease's start to the submit, capped like a client's figure."""
    elapsed = Decimal(str(max((now - start).total_seconds(), 0.0)))
    return min(elapsed, _SECONDS_MAX).quantize(_SECONDS_PLACES)


def seconds_stored(sent: Decimal | None, *, start: datetime, now: datetime) -> Decimal:
    """The answer time stored: the server's measure from the lease's start to the submit, or the
    client's figure when smaller. The labeling page times from when it showed the item, later
    than the lease began when it fetched the item ahead, so its figure is kept; a larger one is
    cut. Trusted as sent, a bot answering in milliseconds could claim a minute an answer and pass
    the fast-answer rule, the medians and the hourly estimate, which all read this figure."""
    measured = seconds_since(start, now)
    return measured if sent is None else min(sent, measured)
