"""Typed readers for environment variables that fail loudly, naming the variable.

Settings read every knob through these helpers, so a typo in production stops start-up with a
message a person can act on instead of a silent default.
"""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number; got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}; got {value}")
    return value


def env_decimal(name: str, default: str, *, places: int = 2) -> Decimal:
    """A non-negative amount with at most `places` decimals (money: never a float)."""
    raw = os.environ.get(name)
    text = default if raw is None or raw.strip() == "" else raw.strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a decimal amount such as 10.00; got {raw!r}") from None
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal(1).scaleb(-places)):
        raise ImproperlyConfigured(f"{name} must be a non-negative amount with at most {places} decimals; got {raw!r}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    items = [part.strip() for part in raw.split(",") if part.strip()]
    if not items:
        raise ImproperlyConfigured(f"{name} must list at least one value, comma-separated")
    return items
