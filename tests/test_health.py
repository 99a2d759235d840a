"""/healthz while Redis is down: every probe answers 503 naming it, but the log says so once, and
once more when it is back (a load balancer probes every few seconds; a warning per probe buried
the rest of the log). Redis is down the real way: REDIS_URL names a port where nothing listens."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from marketplace.health import health_states_forget

pytestmark = pytest.mark.django_db

UNREACHABLE = "redis://127.0.0.1:6399/13"  # nothing listens there


@pytest.fixture(autouse=True)
def _a_process_that_has_logged_nothing() -> Iterator[None]:
    health_states_forget()
    yield
    health_states_forget()


def health_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(record.levelname, record.getMessage()) for record in caplog.records
            if record.name == "marketplace.health"]


def test_redis_down_is_answered_at_every_probe_and_logged_once(
    client: Client, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.REDIS_URL = UNREACHABLE
    caplog.set_level(logging.INFO, logger="marketplace.health")

    probes = [client.get("/healthz") for _ in range(5)]

    assert [p.status_code for p in probes] == [503] * 5
    assert all(p.json()["down"] == ["redis"] for p in probes)
    lines = health_lines(caplog)
    assert len(lines) == 1
    level, message = lines[0]
    assert level == "WARNING" and message.startswith("health check: redis down: ConnectionError")
    assert "6399" in message  # the log has the details the public answer leaves out


def test_failing_probes_add_no_per_probe_service_unavailable_line_to_the_log(
    client: Client, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Operations review: django.request logged "Service Unavailable: /healthz" at every probe."""
    settings.REDIS_URL = UNREACHABLE
    caplog.set_level(logging.INFO)

    assert [client.get("/healthz").status_code for _ in range(3)] == [503] * 3

    lines = [record.getMessage() for record in caplog.records if record.levelno >= logging.INFO]
    assert len(lines) == 1 and lines[0].startswith("health check: redis down: ConnectionError")


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs a Redis that answers (set REDIS_URL)")
def test_redis_coming_back_is_logged_once_as_back_up(
    client: Client, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    working = settings.REDIS_URL
    caplog.set_level(logging.INFO, logger="marketplace.health")
    settings.REDIS_URL = UNREACHABLE
    assert client.get("/healthz").status_code == 503

    settings.REDIS_URL = working
    back = [client.get("/healthz") for _ in range(3)]

    assert [p.status_code for p in back] == [200] * 3
    lines = health_lines(caplog)
    assert [level for level, _ in lines] == ["WARNING", "INFO"]  # down once, back once
    assert lines[1][1] == "health check: redis back up"


def test_a_healthy_server_logs_nothing(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="marketplace.health")

    assert client.get("/healthz").status_code == 200
    assert health_lines(caplog) == []
