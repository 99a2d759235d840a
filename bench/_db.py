"""A throwaway database for benchmarks: Django's test-database machinery, created and dropped."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
