"""The database pool is configuration only: QUORUM_DB_POOL_MAX turns Django's psycopg pool on
for PostgreSQL, SQLite and the embedded default never get one, and a request that waited too
long for a pooled connection is told 503 (try again), not 500."""

from __future__ import annotations

import json
import subprocess
import sys

from django.db import OperationalError
from django.test import RequestFactory
from psycopg_pool import PoolTimeout

from marketplace.dbpool import PoolTimeoutMiddleware
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
    middleware = PoolTimeoutMiddleware(lambda request: None)  # type: ignore[arg-type,return-value]
    api = middleware.process_exception(RequestFactory().post("/api/v1/work/next/"), _timed_out())
    page = middleware.process_exception(RequestFactory().get("/portal/"), _timed_out())
    assert api is not None and page is not None
    assert (api.status_code, page.status_code) == (503, 503)
    assert api["Retry-After"] == page["Retry-After"] == "2"
    assert json.loads(api.content)["error"]["code"] == "unavailable"


def test_other_database_errors_are_left_alone() -> None:
    middleware = PoolTimeoutMiddleware(lambda request: None)  # type: ignore[arg-type,return-value]
    request = RequestFactory().get("/portal/")
    assert middleware.process_exception(request, OperationalError("server closed the connection")) is None
