"""Indexes added to a live table: writes go on while PostgreSQL builds them.

Acme's workers keep submitting while an operator deploys a migration that adds an index to
`jobs_item`. A plain CREATE INDEX would queue every submit behind the build; AddIndexOnline
(marketplace/migration_ops.py) builds CONCURRENTLY, so a submit's write goes through while the
build itself still waits for an older transaction to end.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest
from django.apps import apps
from django.db import connection, migrations, models
from django.db.migrations.state import ProjectState

from marketplace.jobs.models import Item
from marketplace.migration_ops import AddIndexOnline
from tests.conftest import needs_postgres
from tests.factories import open_job_with_items

NAME = "test_online_build"


def _dsn() -> str:
    db = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"] or None,
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432)


def _index_state() -> bool | None:
    """Whether the test index exists and is valid (None: absent)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT x.indisvalid FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
                       "WHERE c.relname = %s", [NAME])
        row = cursor.fetchone()
    return None if row is None else bool(row[0])


def _build(operation: migrations.AddIndex) -> None:
    state = ProjectState.from_apps(apps)
    with connection.schema_editor(atomic=False) as editor:
        operation.database_forwards("jobs", editor, state, state)


@pytest.fixture
def index_cleanup() -> Iterator[None]:
    yield
    with connection.cursor() as cursor:
        cursor.execute(f'DROP INDEX IF EXISTS "{NAME}"')


def _writes_go_on_during(operation: migrations.AddIndex) -> bool:
    """Start the build while an older transaction still holds a write on jobs_item (the build
    waits for it), then try a submit-like write on another item with a 3 s lock timeout."""
    first, second = Item.objects.order_by("pk")[:2]
    older = psycopg.connect(_dsn())
    older.execute("UPDATE jobs_item SET priority = priority WHERE id = %s", [first.pk])  # stays open
    failed: list[BaseException] = []

    def build() -> None:
        try:
            _build(operation)
        except BaseException as exc:  # reported by the test
            failed.append(exc)
        finally:
            connection.close()

    builder = threading.Thread(target=build)
    builder.start()
    with psycopg.connect(_dsn(), autocommit=True) as watcher:  # until the build is waiting
        for _ in range(600):
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'CREATE INDEX%%' "
                "AND wait_event_type IS NOT NULL AND datname = current_database()").fetchone()[0]
            if waiting:
                break
            watcher.execute("SELECT pg_sleep(0.05)")
        assert waiting, "the build never started waiting for the older transaction"
    went_on = True
    with psycopg.connect(_dsn()) as writer:
        writer.execute("SET lock_timeout = '3s'")
        try:
            writer.execute("UPDATE jobs_item SET judgment_count = judgment_count WHERE id = %s", [second.pk])
            writer.commit()
        except psycopg.errors.LockNotAvailable:
            went_on = False
    older.commit()
    older.close()
    builder.join(timeout=60)
    assert not builder.is_alive() and not failed, failed
    return went_on


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_submit_writes_while_the_index_builds_online(index_cleanup: None) -> None:
    open_job_with_items(items=2)
    operation = AddIndexOnline(model_name="item", index=models.Index(fields=["job", "priority"], name=NAME))
    assert _writes_go_on_during(operation)
    assert _index_state() is True


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_plain_add_index_would_have_held_the_submit(index_cleanup: None) -> None:
    """The control: the same wait with Django's AddIndex makes the submit's write time out."""
    open_job_with_items(items=2)
    operation = migrations.AddIndex(model_name="item", index=models.Index(fields=["job", "priority"], name=NAME))
    assert not _writes_go_on_during(operation)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_build_that_failed_halfway_is_built_afresh(index_cleanup: None) -> None:
    """A concurrent build that fails leaves an INVALID index of its name behind (here: a unique
    build over two equal rows); running the migration again replaces it with a valid one."""
    open_job_with_items(items=2)
    with connection.cursor() as cursor:
        with pytest.raises(Exception, match="could not create unique index"):
            cursor.execute(f'CREATE UNIQUE INDEX CONCURRENTLY "{NAME}" ON jobs_item (job_id)')
    assert _index_state() is False
    _build(AddIndexOnline(model_name="item", index=models.Index(fields=["job", "priority"], name=NAME)))
    assert _index_state() is True


@needs_postgres
@pytest.mark.django_db
def test_inside_a_transaction_it_says_the_migration_must_not_be_atomic() -> None:
    with pytest.raises(RuntimeError, match="atomic = False"):
        _build(AddIndexOnline(model_name="item", index=models.Index(fields=["job", "priority"], name=NAME)))
