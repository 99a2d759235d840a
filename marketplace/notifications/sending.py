"""One webhook request: to the checked address only, no redirects, short timeouts, a small read.

The URL's host is resolved and checked (targets.target_check); the connection then goes to that
address, with the original name in the Host header and, over TLS, as the SNI name the
certificate is verified against. So nothing resolves the name a second time and a rebinding DNS
server cannot swap the address between the check and the connection. Proxies from the
environment are ignored (trust_env=False): a proxy would resolve the name itself.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

import httpx

from marketplace.notifications.targets import Target, TargetRefused, target_check

CONNECT_SECONDS = 3.0
READ_SECONDS = 5.0  # each read; the whole request is cut at TOTAL_SECONDS between reads
TOTAL_SECONDS = 10.0
MAX_RESPONSE_BYTES = 4096
USER_AGENT = "Quorum-Webhooks/1"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    response_code: int | None
    error: str  # empty when ok
    duration_ms: int


def _pinned_url(target: Target) -> str:
    host = f"[{target.address}]" if isinstance(target.address, ipaddress.IPv6Address) else str(target.address)
    return f"{target.scheme}://{host}:{target.port}{target.path}"


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def webhook_post(*, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """POST body to url (checked and pinned as the module says); never raises for the network."""
    started = time.monotonic()

    def outcome(code: int | None, error: str = "") -> Outcome:
        elapsed = int((time.monotonic() - started) * 1000)
        return Outcome(ok=not error, response_code=code, error=error[:300], duration_ms=elapsed)

    try:
        target = target_check(url)
    except TargetRefused as refused:
        return outcome(None, f"refused: {refused.message}")
    extensions = {}
    if target.scheme == "https":
        try:
            ipaddress.ip_address(target.host)
        except ValueError:  # a name: the certificate must be for it, whatever address we dial
            extensions["sni_hostname"] = target.host
    timeout = httpx.Timeout(READ_SECONDS, connect=CONNECT_SECONDS, pool=CONNECT_SECONDS)
    request_headers = {
        **headers, "Host": _host_header(target), "User-Agent": USER_AGENT,
        "Content-Type": "application/json", "Accept": "*/*",
    }
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            with client.stream("POST", _pinned_url(target), content=body, headers=request_headers,
                               extensions=extensions) as response:
                received = 0
                # Read a few KB at most (the answer is not used; a huge one must not fill memory),
                # and stop at the deadline: the status line, already here, is the verdict.
                for chunk in response.iter_raw():
                    received += len(chunk)
                    if received >= MAX_RESPONSE_BYTES or time.monotonic() - started > TOTAL_SECONDS:
                        break
                code = response.status_code
                if response.is_redirect:
                    location = response.headers.get("location", "")[:120]
                    return outcome(code, f"redirect ({code} to {location!r}) not followed: "
                                         "give the final URL")
                if not 200 <= code < 300:
                    return outcome(code, f"the receiver answered {code}")
                return outcome(code)
    except httpx.TimeoutException as exc:
        return outcome(None, f"timed out ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        return outcome(None, f"{type(exc).__name__}: {exc}")
