"""Helpers for the notification tests: an endpoint registered the way a client does, and the
README's signature check, run exactly as documented."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from marketplace.accounts.models import User
from marketplace.notifications.models import WebhookEndpoint
from marketplace.notifications.services import webhook_endpoint_create

README = Path(__file__).resolve().parents[2] / "README.md"


def endpoint_for(user: User, url: str, events: list[str]) -> tuple[WebhookEndpoint, str]:
    """Register url for events as `user` (the service the API and the portal call)."""
    return webhook_endpoint_create(user=user, url=url, events=events)


def readme_verifier() -> Callable[..., bool]:
    """The README's `quorum_signature_ok`, executed from the README itself (the block after
    `<!-- webhook-verify -->`), so the documented snippet is the one that is tested."""
    text = README.read_text()
    block = re.search(r"<!-- webhook-verify -->\n```python\n(.*?)```", text, re.S)
    assert block, "README lost its webhook verification snippet"
    namespace: dict[str, Any] = {}
    exec(compile(block.group(1), "README.md (webhook-verify)", "exec"), namespace)  # noqa: S102
    return namespace["quorum_signature_ok"]
