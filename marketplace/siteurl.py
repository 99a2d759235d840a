"""QUORUM_SITE_URL, where people reach the deployment: a warning when it plainly is not.

Every e-mailed link (password resets, job mails, webhook payloads) is built on it, and with DEBUG
off it is the only origin whose pages may open a WebSocket (realtime/origins.py). Its default,
http://localhost:8000, suits a laptop; a server started without it sends links to localhost and
refuses its own pages' live updates, without an error anywhere. A warning, not a refusal: a proxy
may pass its own Host (ALLOWED_HOSTS then names that one) while people use another address.

- `manage.py check --deploy` warns (quorum.W002) when its host is a loopback name or address, or
  one ALLOWED_HOSTS does not accept;
- `check --deploy` also warns (quorum.W003) when ALLOWED_HOSTS is '*', which Django accepts silently;
- each web process logs one line at start-up (marketplace/asgi.py) when DEBUG is off and
  ALLOWED_HOSTS does not accept its host: the README's production example once left it out.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.http.request import validate_host

logger = logging.getLogger(__name__)

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in _LOOPBACK_NAMES or host.endswith(".localhost")


def site_url_doubt(*, loopback_too: bool) -> str | None:
    """Why QUORUM_SITE_URL looks like no address people reach this deployment by, or None."""
    site = settings.QUORUM_SITE_URL
    host = (urlsplit(site).hostname or "").lower()
    effect = "links in e-mails point there and live updates work only on pages served from there"
    if not validate_host(host, settings.ALLOWED_HOSTS):
        return (f"QUORUM_SITE_URL is {site}, but ALLOWED_HOSTS ({', '.join(settings.ALLOWED_HOSTS)}) does not "
                f"accept {host}: {effect}; set QUORUM_SITE_URL to the address people reach")
    if loopback_too and _loopback(host):
        return f"QUORUM_SITE_URL is {site}, on this machine only: {effect}; set it to the address people reach"
    return None


@checks.register(checks.Tags.security, deploy=True)
def check_site_url(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    doubt = site_url_doubt(loopback_too=True)
    return [checks.Warning(doubt, id="quorum.W002")] if doubt else []


@checks.register(checks.Tags.security, deploy=True)
def check_any_host(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """ALLOWED_HOSTS '*' accepts any Host header: Django's own check is silent about it. Links are
    built on QUORUM_SITE_URL, not the Host, but redirects and absolute URLs in pages are not."""
    if "*" not in settings.ALLOWED_HOSTS:
        return []
    return [checks.Warning(
        "ALLOWED_HOSTS is '*': any Host header is accepted (a forged Host then shapes redirects and the "
        "absolute addresses in pages); name the hosts people use", id="quorum.W003")]


def site_url_warn_at_start() -> None:
    """One warning line when a production server (DEBUG off) starts with a doubtful QUORUM_SITE_URL."""
    if settings.DEBUG:
        return
    doubt = site_url_doubt(loopback_too=False)
    if doubt:
        logger.warning("%s", doubt)
