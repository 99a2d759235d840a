"""The http-load bench's CPU split: PostgreSQL's share is read from the backends that did the work."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from django.db import connection

from bench._cpu import CpuSplit, DatabaseMeter
from tests.conftest import needs_postgres


def _other_backend() -> psycopg.Connection:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_backend_that_burns_cpu_in_the_run_is_counted_as_postgresql():
    other = _other_backend()
    try:
        meter, split = DatabaseMeter(), CpuSplit()
        meter.start()
        other.execute("SELECT sum(g) FROM generate_series(1, 4000000) AS g").fetchone()
        meter.stop(split)
    finally:
        other.close()
    assert split.database > 0.1


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_an_idle_backend_and_the_meters_own_connection_count_next_to_nothing():
    other = _other_backend()
    try:
        meter, split = DatabaseMeter(), CpuSplit()
        meter.start()
        connection.cursor().execute("SELECT count(*) FROM generate_series(1, 4000000)")
        meter.stop(split)
    finally:
        other.close()
    assert split.database < 0.05


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_the_meter_reads_postgresql_from_inside_the_crowds_event_loop():
    other = _other_backend()
    meter, split = DatabaseMeter(), CpuSplit()

    async def crowd() -> None:  # http-load marks the crowd's start and end from its loop
        meter.start()
        other.execute("SELECT sum(g) FROM generate_series(1, 4000000) AS g").fetchone()
        meter.stop(split)

    try:
        asyncio.run(crowd())
    finally:
        other.close()
    assert split.database > 0.1
