"""Where a webhook may go: the only client-supplied address Quorum fetches, so SSRF is the risk.

A target is checked twice: when the endpoint is registered (a clear 400 at once) and before
every request (DNS may have changed since). Each request goes to the very address that was
checked (sending.py pins it), so a name that resolves to a public address for the check and to
127.0.0.1 for the connection (DNS rebinding) cannot reach inside.

Refused: any scheme but https (http too while DEBUG is on), user:password in the URL, and a host
any of whose addresses is not public: loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7),
link-local (169.254/16, the cloud metadata address among them, fe80::/10), multicast, reserved,
unspecified, CGNAT 100.64/10, and IPv6 forms that embed an IPv4 address (::ffff:a.b.c.d, 6to4,
NAT64) when the embedded one is not public. QUORUM_WEBHOOK_ALLOW_HOSTS (empty by default) names
hosts the operator trusts anyway (tests' local receiver, an on-premises one): they skip the
address check and may use http.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from marketplace.errors import ApplicationError

MAX_URL_LENGTH = 500
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class TargetRefused(ApplicationError):
    """The URL is not one Quorum will send to; the message says why."""

    code = "webhook_target_refused"


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL (a name, or an address without brackets)
    port: int
    path: str  # path and query, as sent
    address: IPAddress  # the checked address the request must connect to
    trusted: bool  # an operator-allowed host: the address check was skipped


def address_is_public(address: IPAddress) -> bool:
    """True only for an address on the public internet (see the module's list)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is None and address.teredo:
            embedded = address.teredo[1]
        if embedded is not None and not address_is_public(embedded):
            return False
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return False
    return address.is_global and not (
        address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
        or address.is_reserved or address.is_unspecified
    )


def url_parse(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a well-formed http(s) URL, or TargetRefused saying what is wrong."""
    if not isinstance(url, str) or not url.strip():
        raise TargetRefused("Give the webhook's URL, e.g. https://example.com/hooks/quorum.")
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise TargetRefused("The URL must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"That is not a valid URL ({exc}).") from None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"} or not parts.hostname:
        raise TargetRefused("The URL must start with https:// and name a host.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("The URL must not carry a user name or password; the signature authenticates Quorum.")
    if parts.fragment:
        raise TargetRefused("The URL must not have a #fragment.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, parts.hostname.lower().rstrip("."), port or (443 if scheme == "https" else 80), path


def _allowed_hosts() -> set[str]:
    return {host.lower().strip("[]") for host in getattr(settings, "QUORUM_WEBHOOK_ALLOW_HOSTS", [])}


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(f"The host {host[:100]!r} could not be resolved ({exc}).") from None
    # An IPv6 result may carry a scope id (fe80::1%eth0); the address itself is what is checked.
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise TargetRefused(f"The host {host[:100]!r} has no address.")
    return list(dict.fromkeys(addresses))


def target_check(url: str) -> Target:
    """Parse, resolve and check a webhook URL; the Target to connect to, or TargetRefused.

    Every address the name resolves to must be public, not just one: a name with one public
    and one private address would otherwise reach inside whenever the resolver rotates."""
    scheme, host, port, path = url_parse(url)
    trusted = host in _allowed_hosts()
    if scheme != "https" and not (settings.DEBUG or trusted):
        raise TargetRefused("The URL must use https:// (plain http is refused outside development).")
    addresses = _resolve(host, port)
    if not trusted:
        refused = [a for a in addresses if not address_is_public(a)]
        if refused:
            raise TargetRefused(
                f"The host {host[:100]!r} resolves to {refused[0]}, which is not a public internet "
                "address; Quorum only sends webhooks to public addresses.",
                details={"address": str(refused[0])},
            )
    return Target(scheme=scheme, host=host, port=port, path=path, address=addresses[0], trusted=trusted)
