"""bench._db.AutovacuumStandIn: during a load run it does what production's autovacuum would on
this machine's PostgreSQL, which runs without: ANALYZE a table once enough of it changed, VACUUM
one once enough of it is dead, and leave the others alone."""

from __future__ import annotations

import pytest
from django.db import connection

from bench._db import autovacuum_stand_in
from marketplace.jobs.models import Item
from tests.conftest import needs_postgres
from tests.factories import open_job_with_items

pytestmark = [needs_postgres, pytest.mark.django_db(transaction=True)]


def _last(table: str) -> tuple[object, object]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_analyze, last_vacuum FROM pg_stat_user_tables WHERE relname = %s", [table])
        row = cursor.fetchone()
    return (row[0], row[1]) if row else (None, None)


def test_a_table_that_changed_is_analyzed_one_with_many_dead_rows_vacuumed_and_a_still_one_left() -> None:
    job = open_job_with_items(items=400)
    Item.objects.filter(job=job, id__gt=job.items.order_by("id")[99].id).delete()  # 300 dead, 100 live
    untouched = "accounts_qualification"  # nothing here writes to it
    before = _last(untouched)
    with autovacuum_stand_in(0.2) as stand_in:
        assert stand_in is not None
        # The statistics reach pg_stat_user_tables within seconds; 60 is for a busy machine.
        assert stand_in.wait_for_pass("VACUUM ANALYZE jobs_item", 60), f"jobs_item never vacuumed; ran {stand_in.passes}"

    analyzed, vacuumed = _last("jobs_item")
    assert analyzed is not None and vacuumed is not None
    assert not any(untouched in command for command in stand_in.passes)
    assert _last(untouched) == before


def test_no_stand_in_when_asked_for_none() -> None:
    with autovacuum_stand_in(0) as stand_in:
        assert stand_in is None
