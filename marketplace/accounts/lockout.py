"""The log-in lockout's three counts, each with a limit of its own (README, "Log-in throttling").

django-axes counts failed log-ins per lockout parameter (AXES_LOCKOUT_PARAMETERS) but compares
every count with one limit. Quorum needs three:
- an account from one address: QUORUM_LOGIN_FAILURE_LIMIT, low; the usual guesser;
- an account from any address: QUORUM_LOGIN_ACCOUNT_FAILURE_LIMIT, higher, so a guesser cannot
  pay with addresses (a botnet) for guesses at one account, nor anyone lock its owner out by
  failing a few times on purpose;
- an address whatever the accounts: QUORUM_LOGIN_ADDRESS_FAILURE_LIMIT, far higher, so one
  person's guesses (stopped at the first limit per account) never lock out an office or a
  carrier behind one address, while one address trying a password on account after account does.
Each count is reported to axes on the first limit's scale, so axes' one comparison
(failures >= AXES_FAILURE_LIMIT) is true exactly when some count reached its own limit.
"""

from __future__ import annotations

from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit, get_lockout_parameters
from django.conf import settings
from django.db.models import Sum

# The lockout parameters with limits of their own; the account from one address has axes' own.
ACCOUNT, ADDRESS = "username", "ip_address"


def parameter_limit(parameter: str | list[str] | tuple[str, ...], *, base: int) -> int:
    """The limit of one lockout parameter; 0: that count locks nothing."""
    if parameter == ACCOUNT:
        return int(settings.QUORUM_LOGIN_ACCOUNT_FAILURE_LIMIT)
    if parameter == ADDRESS:
        return int(settings.QUORUM_LOGIN_ADDRESS_FAILURE_LIMIT)
    return base  # the account from one address, and anything else: axes' own limit


def scaled_failures(counts: list[tuple[int, int]], *, base: int) -> int:
    """(failures, limit) pairs as one figure on the `base` limit's scale: >= base exactly when
    some count reached its limit (failures * base // limit >= base iff failures >= limit)."""
    return max((failures * base // limit for failures, limit in counts if limit > 0), default=0)


class LoginLockoutHandler(AxesDatabaseHandler):
    """axes' database handler, with a limit per lockout parameter (module docstring)."""

    def get_failures(self, request: Any, credentials: dict[str, Any] | None = None) -> int:
        base = get_failure_limit(request, credentials)
        parameters = get_lockout_parameters(request, credentials)
        attempts = self.get_user_attempts(request, credentials)  # one queryset per parameter, in order
        counts = [
            (rows.aggregate(total=Sum("failures_since_start"))["total"] or 0, parameter_limit(parameter, base=base))
            for parameter, rows in zip(parameters, attempts, strict=True)
        ]
        return scaled_failures(counts, base=base)
