"""labeling/sql.py's runners: a named statement's row as a model instance, its columns learned once
per statement text (psycopg builds `cursor.description` anew on every access)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from marketplace.errors import Conflict
from marketplace.jobs.models import Job
from marketplace.labeling import sql
from marketplace.labeling.models import JobBlock, Judgment, Lease, LeaseStatus
from marketplace.labeling.services import (
    NextClaim, judgment_submit, judgment_submit_outcome, lease_claim, lease_claim_last,
)
from tests.conftest import needs_postgres
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


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_steady_submit_and_claim_make_no_driver_cursor_of_their_own(monkeypatch: Any) -> None:
    """Django's connection.cursor() built a driver cursor and its wrapper for each of the cycle's
    five statements; inside a transaction the hot path keeps one per connection."""
    job = open_job_with_items(items=10)
    worker = WorkerFactory()
    lease = lease_claim(worker=worker, job=job.pk).pk
    with transaction.atomic():  # the first cycle makes the kept cursor
        judgment_submit_outcome(worker=worker, lease_id=lease, label="cat", savepoint=False)
        lease = lease_claim_last(worker=worker, job_id=job.pk, then=NextClaim()).lease.pk
    made: list[Any] = []
    driver = type(connection.connection)
    real = driver.cursor
    monkeypatch.setattr(driver, "cursor", lambda self, *a, **k: made.append(1) or real(self, *a, **k))
    for _ in range(3):
        with transaction.atomic():
            judgment_submit_outcome(worker=worker, lease_id=lease, label="cat", savepoint=False)
            lease = lease_claim_last(worker=worker, job_id=job.pk, then=NextClaim()).lease.pk
    assert made == []
    assert Judgment.objects.filter(job=job).count() == 4


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_judgment_refused_by_the_database_through_the_kept_cursor_is_a_conflict() -> None:
    """The kept cursor runs inside Django's error translation: the unique (item, worker) judgment
    still arrives as django.db's IntegrityError, which the submit turns into a Conflict."""
    job = open_job_with_items(items=3, overlap=3)
    worker = WorkerFactory()
    with transaction.atomic():
        first = lease_claim(worker=worker, job=job.pk)
        judgment_submit(worker=worker, lease_id=first.pk, label="cat")
    second = Lease.objects.create(
        job=job, item=first.item, worker=worker, status=LeaseStatus.ACTIVE, created_at=timezone.now(),
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    with pytest.raises(Conflict, match="already judged"), transaction.atomic():
        judgment_submit_outcome(worker=worker, lease_id=second.pk, label="cat", savepoint=False)
    assert Judgment.objects.filter(item=first.item, worker=worker).count() == 1
