"""Every answer carries an X-Request-ID, and every log line written for that request names it, so
an operator can tie a user's report, the proxy's log and our lines together (README, "Logs")."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client
from rest_framework.test import APIClient

from marketplace.accounts.models import User
from marketplace.api import accounts as accounts_api
from marketplace.health import health_states_forget

pytestmark = pytest.mark.django_db

UNREACHABLE = "redis://127.0.0.1:6399/13"  # nothing listens there


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    """What the configured console handler (settings.LOGGING) writes, as text."""
    [console] = [h for h in logging.getLogger().handlers if h.name == "console"]
    text = io.StringIO()
    previous = console.setStream(text)  # type: ignore[attr-defined]
    health_states_forget()
    try:
        yield text
    finally:
        console.setStream(previous)  # type: ignore[attr-defined]
        health_states_forget()


def test_an_answer_carries_a_fresh_request_id_when_none_was_given(client: Client) -> None:
    first, second = client.get("/healthz"), client.get("/healthz")

    assert re.fullmatch(r"[0-9a-f]{32}", first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_a_sane_request_id_from_the_proxy_is_echoed(client: Client) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a:2026-12-07T22.00")

    assert response["X-Request-ID"] == "lb-7f3a:2026-12-07T22.00"


@pytest.mark.parametrize("insane", ["two words", "x" * 101, "id\r\nFAKE LOG LINE", "<script>", "ü"])
def test_an_insane_request_id_is_replaced_by_a_fresh_one(client: Client, insane: str) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID=insane)

    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_a_line_logged_during_a_request_has_the_time_level_logger_process_and_request_id(
    client: Client, settings: Any, log: io.StringIO
) -> None:
    settings.REDIS_URL = UNREACHABLE

    client.get("/healthz", HTTP_X_REQUEST_ID="probe-42")

    [line] = [line for line in log.getvalue().splitlines() if "health check" in line]
    assert re.match(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING marketplace\.health pid=\d+ req=probe-42 "
        r"health check: redis down: ConnectionError", line)


def test_a_server_error_line_names_the_request_and_the_signed_in_user(
    client_for: Any, wendy: User, monkeypatch: pytest.MonkeyPatch, log: io.StringIO
) -> None:
    def broken(user: User) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(accounts_api, "present_user", broken)
    api: APIClient = client_for(wendy)
    api.raise_request_exception = False

    response = api.get("/api/v1/me/", HTTP_X_REQUEST_ID="support-ticket-9")

    assert response.status_code == 500 and response["X-Request-ID"] == "support-ticket-9"
    assert re.search(rf"ERROR django\.request pid=\d+ req=support-ticket-9 user={wendy.pk} "
                     r"Internal Server Error: /api/v1/me/", log.getvalue())


def test_under_asgi_the_line_and_the_answer_carry_the_request_id_too(settings: Any, log: io.StringIO) -> None:
    settings.REDIS_URL = UNREACHABLE

    response = async_to_sync(AsyncClient().get)("/healthz", headers={"X-Request-ID": "asgi-probe-1"})

    assert response["X-Request-ID"] == "asgi-probe-1"
    assert re.search(r"WARNING marketplace\.health pid=\d+ req=asgi-probe-1 health check: redis down", log.getvalue())
