"""The database pool is configuration only: QUORUM_DB_POOL_MAX turns Django's psycopg pool on
for PostgreSQL, SQLite and the embedded default never get one, and a request that waited too
long for a pooled connection is told 503 (try again), not 500 (tests/test_dbpool_outage.py: the
pool unable to connect at all, told apart from a busy one)."""

from __future__ import annotations

import json
import subprocess
import sys
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test import RequestFactory
from psycopg_pool import ConnectionPool, PoolTimeout

from marketplace.dbdown import DatabaseUnavailableMiddleware
from marketplace.dbpool import check_idle
from tests.conftest import needs_postgres
from tests.test_settings import start_with

SHOW_DATABASE = (
    "import json, django; django.setup(); from django.conf import settings; "
    "db = settings.DATABASES['default']; "
    "print(json.dumps({k: db[k] for k in ('OPTIONS', 'CONN_MAX_AGE', 'CONN_HEALTH_CHECKS')}))"
)
POSTGRES = "postgres://quorum@db.example.com:5432/quorum"  # parsed only: nothing connects


def _database(**env: str) -> dict[str, object]:
    done = start_with(sys.executable, "-c", SHOW_DATABASE, DEBUG="1", **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_pool_is_off_unless_configured() -> None:
    assert "pool" not in _database(DATABASE_URL=POSTGRES)["OPTIONS"]  # type: ignore[operator]


def test_quorum_db_pool_max_sizes_each_process_pool_with_no_persistent_connections() -> None:
    db = _database(DATABASE_URL=POSTGRES, QUORUM_DB_POOL_MAX="12", QUORUM_DB_POOL_TIMEOUT="3")
    pool = db["OPTIONS"]["pool"]  # type: ignore[index]
    assert (pool["min_size"], pool["max_size"], pool["timeout"]) == (2, 12, 3.0)
    assert db["CONN_MAX_AGE"] == 0  # Django refuses a pool beside persistent connections
    assert db["CONN_HEALTH_CHECKS"] is True


def test_postgresql_prepares_statements_on_the_server_unless_turned_off() -> None:
    on = _database(DATABASE_URL=POSTGRES)["OPTIONS"]
    off = _database(DATABASE_URL=POSTGRES, QUORUM_DB_PREPARE="0")["OPTIONS"]
    assert (on["server_side_binding"], on["prepare_threshold"]) == (True, 5)  # type: ignore[index]
    assert "server_side_binding" not in off and "prepare_threshold" not in off  # type: ignore[operator]


def test_sqlite_never_gets_a_pool() -> None:
    db = _database(QUORUM_DB_POOL_MAX="12")  # the embedded default: an SQLite file
    assert "pool" not in db["OPTIONS"]  # type: ignore[operator]
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"  # type: ignore[index]


def test_a_bad_pool_size_stops_start_up_naming_the_variable() -> None:
    done: subprocess.CompletedProcess[str] = start_with(DATABASE_URL=POSTGRES, QUORUM_DB_POOL_MAX="-1")
    assert done.returncode != 0 and "QUORUM_DB_POOL_MAX" in done.stderr


def _timed_out() -> OperationalError:
    try:
        try:
            raise PoolTimeout("couldn't get a connection after 10.00 sec")
        except PoolTimeout as cause:
            raise OperationalError(str(cause)) from cause  # as Django's wrap_database_errors does
    except OperationalError as exc:
        return exc


def test_a_pool_timeout_answers_503_with_retry_after() -> None:
    middleware = DatabaseUnavailableMiddleware(lambda request: None)  # type: ignore[arg-type,return-value]
    api = middleware.process_exception(RequestFactory().post("/api/v1/work/next/"), _timed_out())
    page = middleware.process_exception(RequestFactory().get("/portal/"), _timed_out())
    assert api is not None and page is not None
    assert (api.status_code, page.status_code) == (503, 503)
    assert api["Retry-After"] == page["Retry-After"] == "2"
    assert json.loads(api.content)["error"]["code"] == "unavailable"


def test_other_database_errors_are_left_alone() -> None:
    middleware = DatabaseUnavailableMiddleware(lambda request: None)  # type: ignore[arg-type,return-value]
    request = RequestFactory().get("/portal/")
    assert middleware.process_exception(request, OperationalError("server closed the connection")) is None


def _pool() -> ConnectionPool:
    db = connection.settings_dict
    return ConnectionPool(
        kwargs={"dbname": db["NAME"], "user": db["USER"], "host": db["HOST"] or "127.0.0.1",
                "port": db["PORT"] or 5432, "autocommit": True},
        min_size=1, max_size=1, check=check_idle, open=True,
    )


@needs_postgres
@pytest.mark.django_db
def test_a_pooled_connection_whose_server_went_away_is_replaced_before_it_is_handed_out() -> None:
    with _pool() as pool:
        with pool.connection() as conn:
            first = conn.info.backend_pid
        with connection.cursor() as cursor:  # as a PostgreSQL restart would: the backend ends
            # With a timeout, PostgreSQL answers once the backend has exited (its socket closed).
            cursor.execute("SELECT pg_terminate_backend(%s, 10000)", [first])
            assert cursor.fetchone()[0] is True
        with pool.connection() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
            assert conn.info.backend_pid != first


@needs_postgres
@pytest.mark.django_db
def test_a_healthy_idle_connection_is_handed_out_without_a_round_trip() -> None:
    with _pool() as pool:
        with pool.connection() as conn:
            pid = conn.info.backend_pid
            conn.execute("SELECT 1")
        sent = _statements_of(pid)
        for _ in range(5):
            with pool.connection() as conn:
                assert conn.info.backend_pid == pid
        assert _statements_of(pid) == sent


def _statements_of(pid: int) -> str:
    """The backend's last query: psycopg's check (an empty query) would replace it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        return str(cursor.fetchone()[0])


@needs_postgres
@pytest.mark.django_db
def test_the_pool_django_builds_checks_connections_with_check_idle() -> None:
    # A process of its own: the pool is built from settings once per process and alias.
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    done = start_with(sys.executable, "-c", (
        "import django; django.setup(); from django.db import connection; "
        "connection.ensure_connection(); print(connection.pool._check.__qualname__)"),
        DEBUG="1", DATABASE_URL=url, QUORUM_DB_POOL_MAX="2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "check_idle"


def test_a_pool_timeout_while_the_database_answers_is_the_busy_503(client) -> None:  # type: ignore[no-untyped-def]
    # The pool's timeout is an OperationalError too: with the pool connecting, it is "busy".
    busy = OperationalError("couldn't get a connection after 10.00 sec")
    busy.__cause__ = PoolTimeout("couldn't get a connection after 10.00 sec")
    with mock.patch("marketplace.web.public.site.tier_list", side_effect=busy):
        response = client.get("/")

    assert response.status_code == 503 and response["Retry-After"] == "2"
    assert b"every database connection is in use" in response.content
