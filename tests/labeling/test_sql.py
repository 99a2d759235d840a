"""labeling/sql.py's runners: a named statement's row as a model instance, its columns learned once
per statement text (psycopg builds `cursor.description` anew on every access)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from marketplace.jobs.models import Job
from marketplace.labeling import sql
from marketplace.labeling.models import JobBlock
from tests.factories import WorkerFactory, open_job_with_items


class CountingCursor:
    """A cursor that counts how often its description is read."""

    def __init__(self, description: list[tuple[str, ...]] | None) -> None:
        self._description = description
        self.reads = 0

    @property
    def description(self) -> Any:
        self.reads += 1
        return self._description


def test_a_statement_reads_the_cursor_description_once_per_text() -> None:
    cursor = CountingCursor([("id",), ("blocked",)])
    text = "SELECT 1 AS id, false AS blocked -- test_a_statement_reads_the_cursor_description_once"
    assert sql._result_names(text, cursor) == ("id", "blocked")
    assert sql._result_names(text, cursor) == ("id", "blocked")
    assert cursor.reads == 1


def test_a_statement_without_rows_is_remembered_as_having_no_columns() -> None:
    cursor = CountingCursor(None)
    text = "UPDATE nothing SET x = 1 -- test_a_statement_without_rows_is_remembered"
    assert sql._result_names(text, cursor) == ()
    assert sql._result_names(text, cursor) == ()
    assert cursor.reads == 1


@pytest.mark.django_db
def test_a_job_read_twice_carries_its_extra_columns_fresh_each_time() -> None:
    job = open_job_with_items(items=3)
    worker = WorkerFactory()
    first = sql.first(Job, "job_for_claim", job=job.pk, worker=worker.pk, now=timezone.now())
    JobBlock.objects.create(job=job, worker=worker, reason="test")
    again = sql.first(Job, "job_for_claim", job=job.pk, worker=worker.pk, now=timezone.now())
    assert first is not None and again is not None
    assert (first.pk, first.title, bool(first.blocked)) == (job.pk, job.title, False)
    assert (again.pk, again.title, bool(again.blocked)) == (job.pk, job.title, True)
