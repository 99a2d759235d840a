"""While PostgreSQL cannot be reached, pages and the API answer 503 and each request logs one line.

Each test here makes the database unreachable for its own requests (nothing listens on the port
the connection now names) and puts it back afterwards.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg_pool import PoolTimeout
from django.conf import settings
from django.db import OperationalError, connection
from django.test import Client, RequestFactory
from django.utils.functional import SimpleLazyObject

from marketplace.dbdown import database_unreachable
from marketplace.web.public.site import server_error
from tests.conftest import needs_postgres

# Django's session cookie for a session the database would have to look up: a signed-in browser.
SESSION = "abcdefghijklmnopqrstuvwxyz012345"


@pytest.fixture
def database_down(django_db_blocker: Any) -> Iterator[None]:
    if connection.settings_dict["OPTIONS"].get("pool"):
        pytest.skip("with QUORUM_DB_POOL_MAX the process's pool keeps the address it was built with")
    saved = dict(connection.settings_dict)
    with socket.socket() as probe:  # a port nobody listens on: bound, then let go
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with django_db_blocker.unblock():
        connection.close()
        connection.settings_dict.update(HOST="127.0.0.1", PORT=str(port))
        try:
            yield
        finally:
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(saved)


def _log_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return caplog.text.splitlines()  # messages and any traceback, as the console would show them


@needs_postgres
def test_a_signed_in_page_view_during_an_outage_is_a_503_page_and_one_log_line(
    database_down: None, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client(raise_request_exception=False)
    client.cookies[settings.SESSION_COOKIE_NAME] = SESSION
    caplog.set_level(logging.INFO)

    response = client.get("/portal/")

    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert b"cannot reach its database" in response.content and b"Back to Quorum" in response.content
    lines = _log_lines(caplog)
    assert len(lines) == 1, lines
    assert "Service Unavailable: GET /portal/: database unreachable: connection failed" in lines[0]


@needs_postgres
def test_an_unknown_page_during_an_outage_is_the_same_503(
    database_down: None, caplog: pytest.LogCaptureFixture
) -> None:
    # The 404 page shows the signed-in user's top bar: it fails too, and the 500 handler answers.
    client = Client(raise_request_exception=False)
    client.cookies[settings.SESSION_COOKIE_NAME] = SESSION
    caplog.set_level(logging.INFO)

    response = client.get("/no-such-page/")

    assert response.status_code == 503 and b"cannot reach its database" in response.content
    assert len(_log_lines(caplog)) == 1


@needs_postgres
def test_an_api_call_during_an_outage_is_a_503_in_the_error_format(
    database_down: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    response = Client(raise_request_exception=False).get(
        "/api/v1/jobs/", HTTP_AUTHORIZATION="Bearer qrm_not-a-real-token")

    assert response.status_code == 503 and response["Retry-After"] == "30"
    error = json.loads(response.content)["error"]
    assert error["code"] == "unavailable" and "database cannot be reached" in error["message"]
    assert len(_log_lines(caplog)) == 1


def test_only_errors_that_mean_no_connection_count_as_an_outage() -> None:
    refused = psycopg.OperationalError("connection failed: ... Connection refused")
    wrapped = OperationalError("connection failed")
    wrapped.__cause__ = refused

    assert database_unreachable(refused) and database_unreachable(wrapped)
    assert database_unreachable(psycopg.errors.AdminShutdown("terminating connection"))
    assert database_unreachable(psycopg.InterfaceError("the connection is closed"))
    # A statement that failed on a working connection stays a 500 with its traceback.
    assert not database_unreachable(psycopg.errors.DeadlockDetected("deadlock detected"))
    assert not database_unreachable(psycopg.errors.QueryCanceled("canceling statement due to statement timeout"))
    assert not database_unreachable(OperationalError("no cause: not psycopg's"))
    busy = OperationalError("couldn't get a connection after 10.00 sec")
    busy.__cause__ = PoolTimeout("couldn't get a connection after 10.00 sec")
    assert not database_unreachable(busy)  # every pooled connection in use: dbpool.py's 503
    assert not database_unreachable(ValueError("not a database error"))


def test_the_500_page_never_asks_for_the_user() -> None:
    # Any other crash: the error page runs no context processor, so a user (a session) the database
    # would have to load cannot make the error page fail too.
    def load_user() -> Any:
        raise RuntimeError("the 500 page asked for the user")

    request = RequestFactory().get("/portal/")
    request.user = SimpleLazyObject(load_user)

    response = server_error(request)

    assert response.status_code == 500 and b"Something went wrong on our side" in response.content
