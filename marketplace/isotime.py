"""Datetimes as clients read them: one form in API bodies, error details and webhook bodies.

DRF's DateTimeField (TIME_ZONE is UTC) writes "2026-12-05T15:04:01.123456Z"; everything Quorum
writes by hand (webhook events, figures in an error's details) goes through `iso_utc`, so a
client parses one form. No Django: the shared modules under every layer import no layer.
"""

from __future__ import annotations

from datetime import UTC, datetime

_UTC_OFFSET = "+00:00"


def iso_utc(value: datetime) -> str:
    """ISO 8601 in UTC with a "Z", microseconds kept when there are any."""
    if value.tzinfo is None:
        # A naive datetime here is a bug (USE_TZ is on): guessing its zone would shift it silently.
        raise ValueError(f"iso_utc needs an aware datetime, got {value!r}")
    return z_form(value.astimezone(UTC).isoformat())


def z_form(text: str) -> str:
    """An ISO 8601 text in UTC written with "+00:00" (what events stored before used) as "Z"."""
    return text[: -len(_UTC_OFFSET)] + "Z" if text.endswith(_UTC_OFFSET) else text
