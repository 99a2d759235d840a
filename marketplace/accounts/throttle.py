"""Throttles. Failed log-ins: django-axes counts the failures (per account from one address, per
account and per address, each with its own limit: lockout.py); this module says which address a request comes from (for
every throttle, axes' included: client_ip_address) and whether a log-in is refused for a lockout,
so the token API can answer 429 in the one error format; a wrong current password on the
password-change page counts as a failed log-in. Sign-ups: counted
per address in the cache, so one address cannot mint accounts (and tokens) by the thousand.
Password-reset requests: counted per address and per e-mail in the cache, so nobody can flood an
inbox (or the mail sender's quota) with reset links."""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import logging
import time
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest

from marketplace.cachesafe import cache_count

logger = logging.getLogger(__name__)


def client_ip_address(request: HttpRequest) -> str | None:
    """The address to throttle, the one function every per-address limit keys on (log-ins through
    AXES_CLIENT_IP_CALLABLE, sign-ups, password resets): the client's address (_client_address) as
    throttle_address counts it, an IPv6 client by its /64."""
    return throttle_address(_client_address(request))


def _client_address(request: HttpRequest) -> str | None:
    """With QUORUM_PROXY_COUNT = N reverse proxies in front, each appends the address it saw to
    X-Forwarded-For, so the client is the N-th entry from the right; anything further left was
    written by the client itself and is never trusted."""
    remote = request.META.get("REMOTE_ADDR")
    hops = settings.QUORUM_PROXY_COUNT
    if hops <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < hops:  # fewer hops than configured proxies: not the path we were told of
        return remote
    return forwarded[-hops]


# One IPv6 subscriber (a home, a phone, a server) is handed a whole /64 and picks any address in it.
IPV6_CLIENT_PREFIX = 64


def throttle_address(address: str | None) -> str | None:
    """An address as the throttles count it: IPv4 as it is; IPv6 as the first address of its /64
    (2001:db8:1:2::), or else one client could rotate through 2^64 addresses and never meet a
    per-address limit; an IPv4-mapped IPv6 address as its IPv4. Still an address (axes stores it
    in an address field). Text that is no address (a misconfigured proxy's header) is kept."""
    if not address:
        return address
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])  # a link-local zone names no client
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, IPV6_CLIENT_PREFIX), strict=False).network_address)
    return str(parsed)


def login_locked_out(request: Any, *, username: str) -> bool:
    """Is this username locked out from this request's address or everywhere, or the address? Asked
    after a failed authenticate(), so the attempt that reaches the limit already gets the lockout
    answer."""
    return not AxesProxyHandler.is_allowed(request, {"username": username})


def lockout_seconds(request: Any = None) -> int:
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds()) if cool_off else 0


def lockout_message(request: Any = None) -> str:
    minutes = max(1, lockout_seconds(request) // 60)
    return (f"Too many failed log-ins for this account or from this address. Log-ins are refused for "
            f"{minutes} minutes; an admin can lift the lock sooner.")


# The documentation prefix (RFC 3849): no client ever has one of these addresses. Each account's
# is a /64 of its own (its id in the 32 bits after the prefix), as the throttles count IPv6 by /64.
_ACCOUNT_ADDRESSES = int(ipaddress.IPv6Address("2001:db8::"))


def account_request(request: HttpRequest) -> HttpRequest:
    """`request` as django-axes should count a wrong password typed in a session (the current one on
    the change page): from an address of the account's own instead of the client's. The guesses
    then lock the change page of that account and never the client's address, which an office or a
    carrier shares: one person's typos must not lock out everyone behind it."""
    account = copy.copy(request)
    account.META = {key: value for key, value in request.META.items() if key != "HTTP_X_FORWARDED_FOR"}
    network = (request.user.pk or 0) % 2**32  # accounts 2^32 ids apart would share one: none do yet
    account.META["REMOTE_ADDR"] = str(ipaddress.IPv6Address(_ACCOUNT_ADDRESSES + (network << 64)))
    return account


def password_check_failed(request: Any, *, username: str) -> None:
    """Count a wrong password typed outside a log-in (the current password on the change page) as
    a failed log-in of `username` (django-axes counts it through Django's own failure signal), from
    the account's own address (account_request). Without it a borrowed session could guess the
    password (reused elsewhere, perhaps) without end."""
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=account_request(request))


def password_change_lockout_message(request: Any = None) -> str:
    minutes = max(1, lockout_seconds(request) // 60)
    return (f"Too many wrong passwords for this account. Password changes and "
            f"log-ins are refused for {minutes} minutes; an admin can lift the lock sooner.")


WINDOW_SECONDS = 3600  # the sign-up and password-reset limits are per hour


def _hour_wait(key: str, *, limit: int) -> int:
    """Count one attempt under `key` in this hour's window; 0 when it is within `limit`, else the
    seconds until the window ends. A fixed hourly window, counted with the cache's atomic
    increment (Redis in production; each process's memory in the embedded default)."""
    now = int(time.time())
    window = now // WINDOW_SECONDS
    count = cache_count(f"{key}:{window}", timeout=WINDOW_SECONDS)
    if count is None:
        # Open, not shut, while the cache (Redis) is down: sign-ups and resets go on uncounted
        # rather than every one failing; the log says so (README, "While Redis is down").
        # cachesafe skips the cache for a few seconds after a failure, so only one request in
        # that span waits for the connect timeout.
        logger.warning("cache unreachable; %s not counted", key.split(":")[1])
        return 0
    if count <= limit:
        return 0
    return (window + 1) * WINDOW_SECONDS - now


def signup_wait(request: Any) -> int:
    """Count this sign-up attempt against its address; 0 when it may go on, else the seconds until
    the address may try again. Every attempt counts, refused ones too: probing for taken
    usernames costs the same as creating accounts."""
    limit = settings.QUORUM_SIGNUPS_PER_HOUR
    if limit <= 0:
        return 0
    return _hour_wait(f"quorum:signup:{client_ip_address(request) or 'unknown'}", limit=limit)


def signup_wait_message(wait: int) -> str:
    minutes = max(1, -(-wait // 60))
    return (f"Too many sign-ups from this address. Try again in {minutes} minute"
            f"{'s' if minutes != 1 else ''}.")


def password_reset_wait(request: Any, *, email: str) -> int:
    """Count this reset request against its address and against the e-mail it names; 0 when a
    mail may go out, else the seconds until both allow it again. An e-mail with no account counts
    exactly like one with an account, so the answer never tells whether an account exists. The
    e-mail is hashed (case folded): no address book sits in the cache."""
    waits = []
    per_address = settings.QUORUM_PASSWORD_RESETS_PER_ADDRESS
    if per_address > 0:
        address = client_ip_address(request) or "unknown"
        waits.append(_hour_wait(f"quorum:reset:ip:{address}", limit=per_address))
    per_email = settings.QUORUM_PASSWORD_RESETS_PER_EMAIL
    if per_email > 0:
        digest = hashlib.sha256(email.strip().casefold().encode()).hexdigest()
        waits.append(_hour_wait(f"quorum:reset:email:{digest}", limit=per_email))
    return max(waits, default=0)


def password_reset_wait_message(wait: int) -> str:
    minutes = max(1, -(-wait // 60))
    return (f"Too many password-reset requests for this e-mail or from this address, so no mail was "
            f"sent. Try again in {minutes} minute{'s' if minutes != 1 else ''}; a link already mailed "
            f"still works.")
