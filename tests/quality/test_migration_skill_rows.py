"""Migration 0008: skill rows keep gold answers only, and no worker's global skill moves.

Wendy answered gold elsewhere and judged two jobs whose runs gave her shares; Walt has a share
but never answered gold; Gus answered gold only. Before 0008 each skill row held gold answers
plus the shares; after it, the row holds the gold answers and the sum read is the same figure.
"""

from __future__ import annotations

import importlib

import pytest
from django.db import connection
from django.utils import timezone

from marketplace.quality.models import WorkerRunShare, WorkerSkill
from marketplace.quality.skills import worker_skills
from tests.factories import WorkerFactory, open_job_with_items

MIGRATION = importlib.import_module("marketplace.quality.migrations.0008_skill_rows_hold_gold_only")

pytestmark = pytest.mark.django_db


def run_script(sql: str) -> None:
    """As RunSQL runs it: one statement at a time."""
    with connection.cursor() as cursor:
        for statement in connection.ops.prepare_sql_script(sql):
            cursor.execute(statement)


def skill_rows() -> dict[int, tuple[float, float]]:
    return {row[0]: row[1:] for row in WorkerSkill.objects.values_list("worker_id", "right", "seen")}


def test_the_migration_takes_run_shares_out_of_skill_rows_and_back_and_no_skill_moves() -> None:
    wendy, walt, gus = WorkerFactory(), WorkerFactory(), WorkerFactory()
    first, second = open_job_with_items(items=1), open_job_with_items(items=1)
    now = timezone.now()
    shares = [(first, wendy, 1.5, 2.0), (second, wendy, 0.25, 1.0), (first, walt, 3.0, 4.0),
              (second, walt, 0.0, 0.0)]  # a share an older run zeroed
    for job, worker, right, seen in shares:
        WorkerRunShare.objects.create(job=job, worker=worker, right=right, seen=seen, updated_at=now)
    # Before 0008: gold answers (Wendy 2 of 3, Gus 1 of 1) plus every share, in one row.
    for worker, right, seen in ((wendy, 2 + 1.75, 3 + 3.0), (walt, 3.0, 4.0), (gus, 1.0, 1.0)):
        WorkerSkill.objects.create(worker=worker, right=right, seen=seen, updated_at=now)
    old = skill_rows()

    run_script(MIGRATION.FORWARD)

    assert skill_rows() == {wendy.pk: (2.0, 3.0), walt.pk: (0.0, 0.0), gus.pk: (1.0, 1.0)}
    assert not WorkerRunShare.objects.filter(worker=walt, job=second).exists()
    read = worker_skills(worker_ids=[wendy.pk, walt.pk, gus.pk])
    assert {worker: (s.right, s.seen) for worker, s in read.items()} == old

    run_script(MIGRATION.BACKWARD)

    assert skill_rows() == old
