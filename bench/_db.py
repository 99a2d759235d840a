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
