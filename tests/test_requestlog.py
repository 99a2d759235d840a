"""Every answer carries an X-Request-ID, and every log line written for that request names it, so
an operator can tie a user's report, the proxy's log and our lines together (README, "Logs").
With ACCESS_LOG the access log is one such line per request, the production server's included."""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.test import AsyncClient, Client
from rest_framework.test import APIClient

from marketplace.accounts.models import User
from marketplace.api import accounts as accounts_api
from marketplace.health import health_states_forget
from marketplace.settings_logging import ACCESS_LOGGER, logging_config
from tests.live_server import free_port, serving
from tests.live_server import test_database_url as database_url  # (renamed: not a test)

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


@pytest.fixture
def access_log_on() -> Iterator[None]:
    """As ACCESS_LOG=- configures it (the tests' settings leave it unset: off)."""
    access = logging.getLogger(ACCESS_LOGGER)
    before = access.level
    access.setLevel(logging.INFO)
    try:
        yield
    finally:
        access.setLevel(before)


def test_with_the_access_log_on_each_request_is_one_line_carrying_its_request_id(
    client: Client, log: io.StringIO, access_log_on: None
) -> None:
    client.get("/api/v1/jobs/?page=2", HTTP_X_REQUEST_ID="trace-42")

    [line] = [line for line in log.getvalue().splitlines() if ACCESS_LOGGER in line]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO marketplace\.access pid=\d+ req=trace-42 "
                    r'127\.0\.0\.1 "GET /api/v1/jobs/\?page=2 HTTP/1\.1" 401 \d+ ms$', line)


def test_without_access_log_no_access_line_is_written(client: Client, log: io.StringIO) -> None:
    client.get("/healthz")

    assert ACCESS_LOGGER not in log.getvalue()


def test_access_log_names_a_file_for_the_access_lines_alone(tmp_path: Path) -> None:
    config = logging_config("INFO", access_log=str(tmp_path / "access.log"))

    assert config["handlers"]["access"]["filename"] == str(tmp_path / "access.log")
    assert config["loggers"][ACCESS_LOGGER] == {"level": "INFO", "handlers": ["access"], "propagate": False}
    assert logging_config("WARNING", access_log="-")["loggers"][ACCESS_LOGGER] == {"level": "INFO"}


@pytest.mark.django_db(transaction=True)
def test_the_production_servers_access_lines_carry_the_request_id(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUORUM_", "CELERY_"))}
    env.update(DATABASE_URL=database_url(), DEBUG="0", SECRET_KEY=django_settings.SECRET_KEY,
               QUORUM_TASKS="inline", ALLOWED_HOSTS="127.0.0.1", WEB_CONCURRENCY="1", HOST="127.0.0.1",
               PORT=str(port), LOG_LEVEL="WARNING", ACCESS_LOG="-")
    log = tmp_path / "server.log"
    with serving(["-m", "gunicorn", "marketplace.asgi:application"], env=env, log=log, port=port,
                 stop_seconds=30) as url:
        answer = httpx.get(f"{url}/api/v1/jobs/", headers={"X-Request-ID": "lb-trace-7"}, timeout=60)
        assert answer.headers["X-Request-ID"] == "lb-trace-7"

    lines = [line for line in log.read_text().splitlines() if '"GET /api/v1/jobs/ HTTP/1.1"' in line]
    assert len(lines) == 1, lines  # the app's line alone: the server writes none of its own
    assert re.search(r"Z INFO marketplace\.access pid=\d+ req=lb-trace-7 127\.0\.0\.1 "
                     r'"GET /api/v1/jobs/ HTTP/1\.1" 401 \d+ ms$', lines[0])
