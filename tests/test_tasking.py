"""A Celery task failing in a database outage says so in one line when its failures start and one
when a run works again, not a traceback every run; any other failure keeps its traceback.

The runs go through Celery's tracer (`apply()`: what a worker runs, logging included); the
outage is real: the connection names a port where nothing listens, as in tests/test_dbdown.py.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection

from marketplace.tasking import db_task
from tests.conftest import needs_postgres

pytestmark = needs_postgres


def _query() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broken() -> None:
    raise KeyError("no such ledger")


probe = db_task("tests.tasking-probe")(_query)
broken = db_task("tests.tasking-broken")(_broken)


@contextmanager
def database_unreachable() -> Iterator[None]:
    saved = dict(connection.settings_dict)
    with socket.socket() as free:  # a port nobody listens on: bound, then let go
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(port))
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


@pytest.fixture
def database(django_db_blocker: Any) -> Iterator[None]:
    if connection.settings_dict["OPTIONS"].get("pool"):
        pytest.skip("with QUORUM_DB_POOL_MAX the process's pool keeps the address it was built with")
    with django_db_blocker.unblock():
        yield
        connection.close()


def test_ten_runs_in_an_outage_are_one_warning_and_the_first_run_after_it_one_line(
    database: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    with database_unreachable():
        for _ in range(10):  # ten ticks of a periodic task
            assert probe.apply().state == "IGNORED"
    probe.apply()  # PostgreSQL is back

    assert "Traceback" not in caplog.text
    said = [(r.levelname, r.name, r.getMessage()) for r in caplog.records]
    assert len(said) == 2, said
    (level, logger, warning), (_, _, recovery) = said
    assert (level, logger) == ("WARNING", "marketplace.tasking")
    assert "task tests.tasking-probe failed: the database is unreachable" in warning
    assert "Connection refused" in warning
    assert recovery == "task tests.tasking-probe works again: the database answers"


def test_a_second_outage_is_said_again(database: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)

    for _ in range(2):
        with database_unreachable():
            probe.apply()
            probe.apply()
        probe.apply()

    assert [r.getMessage().split(";")[0] for r in caplog.records] == [
        "task tests.tasking-probe failed: the database is unreachable"] * 2


def test_any_other_failure_keeps_celerys_traceback(database: None, caplog: pytest.LogCaptureFixture) -> None:
    result = broken.apply()

    assert result.state == "FAILURE"
    assert "raised unexpected: KeyError('no such ledger')" in caplog.text and "Traceback" in caplog.text
