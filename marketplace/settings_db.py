"""The database settings (settings.py's DATABASES), from DATABASE_URL and the QUORUM_DB_*
variables (README, "Configuration"): the pool, server-side binding, SQLite's locking."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from marketplace.env import env_bool, env_int, env_str


def _pool_options() -> dict[str, object]:
    """Django's psycopg pool for this process (README, "Running in production"), or none.

    QUORUM_DB_POOL_MAX is the most connections ONE process holds; every process that serves
    requests (each gunicorn worker, each Celery worker process) has its own pool, so processes
    x max must stay under PostgreSQL's max_connections. A request that finds all of them busy
    waits up to QUORUM_DB_POOL_TIMEOUT seconds, then gets a 503 (marketplace/dbpool.py)."""
    pool_max = env_int("QUORUM_DB_POOL_MAX", 0, minimum=0)
    if not pool_max:
        return {}
    return {"pool": {
        "name": "quorum",
        "min_size": min(env_int("QUORUM_DB_POOL_MIN", 2, minimum=0), pool_max),
        "max_size": pool_max,
        "timeout": float(env_int("QUORUM_DB_POOL_TIMEOUT", 10, minimum=1)),
        "max_idle": 300.0,  # seconds an idle connection above min_size is kept
    }}


def _binding_options() -> dict[str, object]:
    """Server-side binding and psycopg's automatic prepared statements (QUORUM_DB_PREPARE).

    Django binds on the client by default (ClientCursor, prepare_threshold None), so PostgreSQL
    parses and plans every statement every time: 4x the execution on the assignment loop
    (BENCHMARKS.md). Here psycopg prepares what a connection has run 5 times; a pooled
    connection keeps its statements across requests (the pool resets nothing on return). psycopg
    drops them all at a ROLLBACK or DROP/ALTER and prepares again. Off: behind a
    transaction-mode PgBouncer older than 1.21, which cannot keep a session's statements."""
    if not env_bool("QUORUM_DB_PREPARE", True):
        return {}
    return {"server_side_binding": True, "prepare_threshold": 5}  # 5: psycopg's own default


def database_from_env(var_dir: Path) -> dict[str, object]:
    """DATABASES['default'] from DATABASE_URL; an SQLite file under `var_dir` when unset."""
    raw = env_str("DATABASE_URL")
    if not raw:
        var_dir.mkdir(exist_ok=True)
        raw = f"sqlite:///{var_dir / 'quorum.sqlite3'}"
    scheme = urlparse(raw).scheme
    if scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL must start with sqlite:// or postgres://; got scheme {scheme!r}"
        )
    try:
        # CONN_MAX_AGE stays 0 everywhere. Under ASGI Django runs each request in a thread of its
        # own, so a connection kept by its thread would outlive the request and a few dozen
        # requests in flight would exhaust max_connections (measured: 500 "too many clients" under
        # 40 simulated workers). Reuse comes from the pool below instead (Django refuses a pool
        # with CONN_MAX_AGE other than 0): closing a connection hands it back.
        config: dict[str, object] = dict(dj_database_url.parse(raw, conn_max_age=0))
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL could not be parsed: {exc}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # IMMEDIATE makes every transaction take SQLite's single write lock up front, so the
        # read-then-write of claiming an item is serialized instead of racing (no SKIP LOCKED here).
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    else:
        config["OPTIONS"] = {"connect_timeout": 5, **_binding_options(), **_pool_options()}
        # A pooled connection may have died idle (PostgreSQL restarted): check it on checkout.
        # Django's pool check is a round trip per request; dbpool.check_idle replaces it.
        config["CONN_HEALTH_CHECKS"] = bool(config["OPTIONS"].get("pool"))
    return config
