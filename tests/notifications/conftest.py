"""Webhook tests' fixtures: a local receiver Quorum may reach because the test allows 127.0.0.1
(QUORUM_WEBHOOK_ALLOW_HOSTS, empty outside tests), and e-mail in Django's locmem outbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.notifications.receiver import Receiver, receiving


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    settings.QUORUM_WEBHOOK_ALLOW_HOSTS = ["127.0.0.1"]
    with receiving() as running:
        yield running
