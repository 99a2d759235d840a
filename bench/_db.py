"""A throwaway database for benchmarks: Django's test-database machinery, created and dropped."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.conf import settings
from django.db import connection


@contextmanager
def bench_database() -> Iterator[str]:
    """Create `test_<name>` (migrated), yield the vendor name, drop it afterwards."""
    if not settings.IS_POSTGRES:
        print("note: DATABASE_URL is not PostgreSQL; figures are for SQLite and not comparable")
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        yield connection.vendor
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def analyze_filled() -> list[str]:
    """ANALYZE the tables that have rows, as autovacuum would have; returns the ones left alone.

    Not a bare ANALYZE: on an empty table it records zero rows, and the planner then trusts the
    table's current size. Statements prepared in the run's first seconds (psycopg prepares what
    a connection ran 5 times) got plans for a table of a page or two, sequential scans, and kept
    them: with autovacuum off (as on the benchmark machine) nothing analyzes again, and no plan
    is redone. Measured in `http-load --workers=8`: 20,000 sequential scans of labeling_lease
    reading 22.7 million rows in 20 s, ~10,000 rows per judgment. A table never analyzed is
    planned as at least 10 pages, which is what production's tables, large or analyzed by
    autovacuum as they grow, look like to the planner."""
    if not settings.IS_POSTGRES:
        return []
    empty = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {quoted})")  # noqa: S608 (catalog names)
            if cursor.fetchone()[0]:
                cursor.execute(f"ANALYZE {quoted}")
            else:
                empty.append(table)
    return empty


# Autovacuum's default thresholds (postgresql.conf): a table is analyzed once 50 + 10 % of its
# rows changed since its last ANALYZE, vacuumed once 50 + 20 % of them are dead.
_DUE = """
SELECT quote_ident(relname),
    n_dead_tup > 50 + 0.2 * n_live_tup AS vacuum
FROM pg_stat_user_tables
WHERE n_mod_since_analyze > 50 + 0.1 * n_live_tup OR n_dead_tup > 50 + 0.2 * n_live_tup
"""


class AutovacuumStandIn(threading.Thread):
    """Autovacuum's work, for the bench's database while a run goes on.

    This machine's PostgreSQL runs with autovacuum off (tests want tables that stay as they left
    them); production's never does. Without it a run's plans stayed those made in its first
    seconds, from statistics taken before the run (analyze_filled): measured at 200 workers,
    the claim's "your own live lease" lookup walked lease_active_job, every active lease of the
    job (230 buffers a claim, 412 at worst), instead of the worker's two entries of
    lease_active_worker, which the planner takes once labeling_lease has statistics; and every
    update left its dead row and index entries for later claims to step over. This thread does
    what autovacuum would: at autovacuum's thresholds, ANALYZE (which also makes the server's
    prepared statements plan again) or VACUUM ANALYZE. It looks every `every` seconds, not every
    minute as autovacuum's launcher does, so that a 30-second run meets what a longer one would.
    Its connection serves the bench's database, so its CPU counts as PostgreSQL's (bench._cpu)."""

    def __init__(self, every: float = 10.0) -> None:
        super().__init__(name="autovacuum-stand-in", daemon=True)
        self.every = every
        self.done = threading.Event()
        self.passes: list[str] = []  # "VACUUM ANALYZE labeling_lease", ... in the order run
        self._ran = threading.Condition()  # notified after each command: wait_for_pass waits on it
        db = connection.settings_dict
        self.conninfo = psycopg.conninfo.make_conninfo(
            dbname=db["NAME"], user=db["USER"] or None, password=db["PASSWORD"] or None,
            host=db["HOST"] or None, port=db["PORT"] or None,
        )

    def run(self) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:  # VACUUM needs autocommit
            while not self.done.wait(self.every):
                for table, vacuum in conn.execute(_DUE).fetchall():
                    command = f"{'VACUUM ANALYZE' if vacuum else 'ANALYZE'} {table}"
                    conn.execute(command)  # a catalog name, quoted by quote_ident
                    with self._ran:
                        self.passes.append(command)
                        self._ran.notify_all()

    def wait_for_pass(self, command: str, seconds: float) -> bool:
        """Whether `command` ran (or runs within `seconds`): a test waits on it, not on the clock."""
        with self._ran:
            return self._ran.wait_for(lambda: command in self.passes, timeout=seconds)

    def stop(self) -> None:
        self.done.set()
        self.join()


@contextmanager
def autovacuum_stand_in(every: float) -> Iterator[AutovacuumStandIn | None]:
    """An AutovacuumStandIn while the block runs (every <= 0: none, the machine's PostgreSQL as is)."""
    if every <= 0 or not settings.IS_POSTGRES:
        yield None
        return
    worker = AutovacuumStandIn(every)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
