"""Where a webhook may go: the only client-supplied address Quorum fetches, so SSRF is the risk.

A target is checked twice: when the endpoint is registered (a clear 400 at once) and before
every request (DNS may have changed since). Each request goes to the very address that was
checked (sending.py pins it), so a name that resolves to a public address for the check and to
127.0.0.1 for the connection (DNS rebinding) cannot reach inside.

Refused: any scheme but https (http too while DEBUG is on), user:password in the URL, and a host
any of whose addresses is not public: loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7),
link-local (169.254/16, the cloud metadata address among them, fe80::/10), multicast, reserved,
unspecified, CGNAT 100.64/10, and IPv6 forms that embed an IPv4 address (::ffff:a.b.c.d, 6to4,
NAT64) when the embedded one is not public. Ports: 443, 80, or 1024-65535 but for the ports of
services that commonly listen inside a network without authentication (INTERNAL_SERVICE_PORTS):
a URL is a request Quorum makes, and must not serve to reach a database or probe ports.
QUORUM_WEBHOOK_ALLOW_HOSTS (empty by default) names hosts the operator trusts anyway (tests'
local receiver, an on-premises one): they skip the address and port checks and may use http.

A refused host gets one message whatever the resolver said (no such name, no address, a private
address): the answer must not tell a client what Quorum's resolver knows about a name.
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
# Above 1024 yet refused: Docker (2375-2376), etcd (2379-2380), MySQL, PostgreSQL, RabbitMQ,
# CouchDB, Redis, Kubernetes' API, Vault, Consul, Cassandra, Kafka, Elasticsearch (9200, 9300),
# the kubelet, memcached, MongoDB.
INTERNAL_SERVICE_PORTS = frozenset({
    2375, 2376, 2379, 2380, 3306, 5432, 5672, 5984, 6379, 6443, 8200, 8500, 9042, 9092, 9200, 9300,
    10250, 11211, 27017,
})


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
    default = 443 if scheme == "https" else 80
    return scheme, parts.hostname.lower().rstrip("."), default if port is None else port, path


def port_check(port: int) -> None:
    """TargetRefused unless `port` is 443, 80, or 1024-65535 and not an INTERNAL_SERVICE_PORTS."""
    if port in (80, 443) or (1024 <= port <= 65535 and port not in INTERNAL_SERVICE_PORTS):
        return
    raise TargetRefused(
        f"Quorum does not send webhooks to port {port}: use 443 or 80, or a port from 1024 to 65535 "
        "that well-known internal services (databases, caches, Docker, Kubernetes) do not use."
    )


def _not_public(host: str) -> TargetRefused:
    return TargetRefused(
        f"The host {host[:100]} is not a public internet address, nor a name that resolves to public "
        "addresses only; Quorum only sends webhooks to public addresses."
    )


def _allowed_hosts() -> set[str]:
    return {host.lower().strip("[]") for host in getattr(settings, "QUORUM_WEBHOOK_ALLOW_HOSTS", [])}


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise _not_public(host) from None  # the resolver's own words stay here (module docstring)
    # An IPv6 result may carry a scope id (fe80::1%eth0); the address itself is what is checked.
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise _not_public(host)
    return list(dict.fromkeys(addresses))


def target_check(url: str) -> Target:
    """Parse, resolve and check a webhook URL; the Target to connect to, or TargetRefused.

    Every address the name resolves to must be public, not just one: a name with one public
    and one private address would otherwise reach inside whenever the resolver rotates."""
    scheme, host, port, path = url_parse(url)
    trusted = host in _allowed_hosts()
    if scheme != "https" and not (settings.DEBUG or trusted):
        raise TargetRefused("The URL must use https:// (plain http is refused outside development).")
    if not trusted:
        port_check(port)
    addresses = _resolve(host, port)
    if not trusted and not all(address_is_public(a) for a in addresses):
        raise _not_public(host)
    return Target(scheme=scheme, host=host, port=port, path=path, address=addresses[0], trusted=trusted)
