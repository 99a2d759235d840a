"""Failed log-in throttling. django-axes counts the failures (per account and per address, see
settings "Security"); this module says which address a request comes from and whether a log-in is
refused for a lockout, so the token API can answer 429 in the one error format."""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django.conf import settings
from django.http import HttpRequest


def client_ip_address(request: HttpRequest) -> str | None:
    """The address to throttle. With QUORUM_PROXY_COUNT = N reverse proxies in front, each appends
    the address it saw to X-Forwarded-For, so the client is the N-th entry from the right; anything
    further left was written by the client itself and is never trusted."""
    remote = request.META.get("REMOTE_ADDR")
    hops = settings.QUORUM_PROXY_COUNT
    if hops <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < hops:  # fewer hops than configured proxies: not the path we were told of
        return remote
    return forwarded[-hops]


def login_locked_out(request: Any, *, username: str) -> bool:
    """Is this username or this request's address locked out? Asked after a failed
    authenticate(), so the attempt that reaches the limit already gets the lockout answer."""
    return not AxesProxyHandler.is_allowed(request, {"username": username})


def lockout_seconds(request: Any = None) -> int:
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds()) if cool_off else 0


def lockout_message(request: Any = None) -> str:
    minutes = max(1, lockout_seconds(request) // 60)
    return (f"Too many failed log-ins for this account or from this address. Log-ins are refused for "
            f"{minutes} minutes; an admin can lift the lock sooner.")
