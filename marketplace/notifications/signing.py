"""Webhook signatures: HMAC-SHA256 of "{timestamp}.{body}" with the endpoint's secret.

Sent as `Quorum-Signature: t=<unix seconds>,v1=<hex digest>`. A receiver recomputes the digest
over the raw body it received and refuses an old timestamp, so a captured delivery cannot be
replayed later (README, "Webhooks", has the receiver's side).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

SIGNATURE_HEADER = "Quorum-Signature"
SECRET_PREFIX = "whsec_"


def secret_generate() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def body_encode(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact, keys sorted, so a redelivery is byte-identical."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def signature_header(*, secret: str, timestamp: int, body: bytes, previous: str | None = None) -> str:
    """`t=<timestamp>,v1=<digest>`; while a rotated-out secret is still in its window, a second
    `v1` made with it follows, so a receiver checking either secret accepts the delivery (a
    receiver accepts when any `v1` matches: README, "Webhooks")."""
    signed = [secret] if previous is None else [secret, previous]
    digests = [hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest() for key in signed]
    return f"t={timestamp}," + ",".join(f"v1={digest}" for digest in digests)
