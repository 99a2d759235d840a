"""The database pool (settings: QUORUM_DB_POOL_MAX) seen from a request: busy, or unable to connect.

With the pool on, requests beyond the pool's size queue for a connection; one still waiting after
QUORUM_DB_POOL_TIMEOUT seconds gets psycopg_pool's PoolTimeout (Django wraps it in its
OperationalError): `pool_exhausted`. The same wait happens when PostgreSQL is down: the pool
keeps trying to connect in the background (backing off from 1 s to about 2 minutes) and every
request waited out the timeout, then was told the pool was busy. `pool_down` tells the two apart
from the pool's counters: while every connection attempt since the last one that worked has
failed, the pool is down and dbdown.DatabaseUnavailableMiddleware answers at once.

Also here: the pool's check of a connection it hands out, made cheap (see `check_idle`).
"""

from __future__ import annotations

import logging
import select
import threading
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from django.db import OperationalError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from psycopg_pool import ConnectionPool, PoolTimeout

logger = logging.getLogger(__name__)

# While down, at most this often a request asks the pool to try again (`ConnectionPool.check`):
# the pool gives up an attempt after its reconnect_timeout (5 minutes) and, with every request
# answered before it reaches the pool, nothing else would make it try again.
NUDGE_SECONDS = 2.0


def pool_exhausted(exc: BaseException) -> bool:
    return isinstance(exc, PoolTimeout) or (
        isinstance(exc, OperationalError) and isinstance(exc.__cause__, PoolTimeout)
    )


@dataclass
class _Watch:
    """What a process last read of one pool's counters, and since when it has been down."""

    pool: ConnectionPool
    attempts: int = 0
    failures: int = 0
    down_since: float | None = None  # time.time()
    nudged_at: float = 0.0  # time.monotonic()


_watches: dict[str, _Watch] = {}
_lock = threading.Lock()


def pool_down(alias: str = "default") -> float | None:
    """Since when (a Unix time) every connection attempt of this process's pool for `alias` has
    failed, or None: no pool, not opened yet, or an attempt worked since (or a connection is idle
    in it). Each call reads the counters of psycopg_pool's get_stats(); a change of state is
    logged once (WARNING when it goes down, INFO when it connects again)."""
    wrapper = connections[alias]
    if not wrapper.settings_dict.get("OPTIONS", {}).get("pool"):
        return None
    pool: ConnectionPool | None = getattr(wrapper, "pool", None)
    if pool is None or pool.closed:  # opened by the first query: nothing tried yet
        return None
    stats = pool.get_stats()
    attempts, failures = stats.get("connections_num", 0), stats.get("connections_errors", 0)
    with _lock:
        watch = _watches.get(alias)
        if watch is None or watch.pool is not pool:
            watch = _watches[alias] = _Watch(pool)
        new_attempts, new_failures = attempts - watch.attempts, failures - watch.failures
        watch.attempts, watch.failures = attempts, failures
        worked = new_attempts > new_failures or new_attempts < 0 or stats.get("pool_available", 0) > 0
        if worked and watch.down_since is not None:
            logger.info("database pool: connecting again after %.0f s down", time.time() - watch.down_since)
            watch.down_since = None
        elif not worked and new_failures > 0 and watch.down_since is None:
            watch.down_since = time.time()
            logger.warning("database pool: every connection attempt fails; requests are answered 503 "
                           "at once until one works (pool_size=%s of min %s)",
                           stats.get("pool_size"), stats.get("pool_min"))
        down_since = watch.down_since
        nudge = down_since is not None and time.monotonic() - watch.nudged_at >= NUDGE_SECONDS
        if nudge:
            watch.nudged_at = time.monotonic()
    if nudge:
        pool.check()  # no idle connection while down: it only starts an attempt if none is under way
    return down_since


def check_idle(conn: psycopg.Connection[Any]) -> None:
    """The pool's check of an idle connection before handing it out, without a round trip.

    With CONN_HEALTH_CHECKS Django has the pool run psycopg's check, an empty query: one round
    trip at the first query of every request (two per judgment), only to learn what the socket
    already tells. An idle connection has nothing to read; when PostgreSQL restarts, or a backend
    is terminated, the server closes the socket and it turns readable (the goodbye, then EOF).
    Only then is the real check run, and a dead connection raises: the pool drops it and hands
    out another. Trade-off: a connection cut without the server closing it (a network
    partition, a host gone) looks alive here; its request fails once, and Django then discards
    it (errors_occurred, then is_usable fails at the request's end, and the pool replaces it)."""
    if conn.closed:
        raise psycopg.OperationalError("the connection is closed")
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    if poller.poll(0):
        ConnectionPool.check_connection(conn)


def _cheap_pool_checks(sender: type[BaseDatabaseWrapper], connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """Swap psycopg's check for check_idle in the pool Django built (its check is not a setting:
    Django passes psycopg's own whenever CONN_HEALTH_CHECKS is on)."""
    pool = getattr(connection, "pool", None)
    # A private attribute: if a psycopg_pool release renames it, nothing is swapped and the pool
    # keeps its own check (a round trip per request), rather than failing every connection.
    if pool is not None and getattr(pool, "_check", None) is ConnectionPool.check_connection:
        pool._check = check_idle


connection_created.connect(_cheap_pool_checks, dispatch_uid="quorum-cheap-pool-checks")
