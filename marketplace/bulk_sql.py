"""Bulk SQL the ORM has no verb for, shared by every layer (it imports none of them).

Billing writes a crowd's balances and earnings in a fixed number of statements whatever the
crowd's size (billing/ledger.py, billing/posting.py): one statement per row held a transaction,
and with it PostgreSQL's cleanup horizon, open for seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection


def update_from_values(table: str, assignments: str, rows: Sequence[tuple[Any, Any]], params: Sequence[Any] = ()) -> None:
    """UPDATE `table` AS t SET `assignments` for each (id, value) row, one statement per thousand
    rows joined to their VALUES (PostgreSQL and SQLite both name its columns column1, column2);
    `assignments` reads the row's value as v.column2, its %s placeholders take `params`."""
    for start in range(0, len(rows), 1_000):
        chunk = rows[start:start + 1_000]
        values = ", ".join(["(%s, %s)"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS t SET {assignments} FROM (VALUES {values}) AS v WHERE t.id = v.column1",  # noqa: S608
                [*params, *(value for row in chunk for value in row)],
            )
