"""Which pages may open a socket: the Origin check in front of every WebSocket (asgi.py).

A browser sends the user's cookies with a WebSocket to any page's script, and cookies are not
scoped by port; the Origin header is what tells the site's own pages from the others. Channels'
AllowedHostsOriginValidator compared only its host name with ALLOWED_HOSTS, so a page served by
any other program on the site's host (another port) could open a signed-in user's socket and
read their organization's live feed. Here the Origin must match in scheme, host and port (a
default port written or not):
- QUORUM_SITE_URL's origin, always (where people reach the deployment: set it in production);
- in development (DEBUG), also the socket's own address, its Host header's host and port with
  the matching scheme (http for ws, https for wss), when that host is in ALLOWED_HOSTS: `make
  demo` on any port, the browser tests' server; a name that merely resolves here (DNS
  rebinding) stays out.
A missing, "null" or malformed Origin is refused, as before.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

Origin = tuple[str, str, int]  # scheme, host (lowercase, IPv6 without brackets), port

_DEFAULT_PORTS = {"http": 80, "https": 443}
_PAGE_SCHEME = {"ws": "http", "wss": "https"}
_DEBUG_HOSTS = [".localhost", "127.0.0.1", "[::1]"]  # what Django allows when DEBUG and ALLOWED_HOSTS is empty


def origin_parse(value: str) -> Origin | None:
    """(scheme, host, port) of an http(s) origin such as "https://quorum.example.com:8443", or
    None for anything else (a path, user info or a malformed port included)."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    return scheme, parts.hostname.lower(), _DEFAULT_PORTS[scheme] if port is None else port


def _site_origin() -> Origin | None:
    site = urlsplit(settings.QUORUM_SITE_URL)
    return origin_parse(f"{site.scheme}://{site.netloc}")


def _own_origin(scope: dict[str, Any], host: str) -> Origin | None:
    """The origin of a page served from the address this socket was opened on, if ALLOWED_HOSTS
    lets that host in."""
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS or _DEBUG_HOSTS):
        return None
    return origin_parse(f"{_PAGE_SCHEME.get(scope.get('scheme', 'ws'), 'http')}://{host}")


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Whether the socket in `scope` comes from one of the site's pages (module docstring)."""
    headers = dict(scope.get("headers", []))
    try:
        origin = origin_parse(headers[b"origin"].decode("latin-1"))
    except KeyError:
        return False
    if origin is None:
        return False
    if origin == _site_origin():
        return True
    host = headers.get(b"host", b"").decode("latin-1")
    return bool(settings.DEBUG and host and origin == _own_origin(scope, host))


class SiteOriginValidator:
    """ASGI middleware: the socket goes on to `application` only from the site's own pages;
    any other is refused before the handshake (an HTTP 403)."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            raise ValueError("SiteOriginValidator guards WebSockets only")
        if origin_allowed(scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
