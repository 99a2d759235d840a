"""The claim's plan on PostgreSQL: walk item_serving_order and stop at the first fit, never sort.

A plan, not a timing: a sort of every open item would pass a small test quickly and still take
half a second per claim on a 100k-item job.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.jobs.models import Item
from marketplace.labeling import sql
from marketplace.labeling.models import Judgment
from marketplace.labeling.services import lease_claim
from tests.conftest import needs_postgres
from tests.factories import WorkerFactory, open_job_with_items
from tests.labeling.helpers import judge


def _plan(name: str, *, job_id: int, worker: User, overlap: int) -> str:
    """EXPLAIN of a claim statement, planned as in a claim (after its first statement)."""
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        # The claim's first statement; on PostgreSQL it also forbids sorts for the transaction.
        sql.run("job_for_claim", job=job_id, worker=worker.pk, now=now)
        (statement,) = sql.statements(name)
        params = {"job": job_id, "worker": worker.pk, "now": now, "overlap": overlap, "fraction": 0.5}
        cursor.execute("EXPLAIN " + statement, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@needs_postgres
@pytest.mark.django_db
def test_the_claim_walks_the_serving_order_index_even_before_statistics_know_the_job(
    wendy: User,
) -> None:
    big = open_job_with_items(items=100_000, overlap=3)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE jobs_item")  # statistics taken before the next job existed
    fresh = open_job_with_items(items=20_000, overlap=3)
    # Without the claim's "no sort" setting, the fresh job's plan sorts all 20k open items.
    for job in (big, fresh):
        plan = _plan("candidate", job_id=job.pk, worker=wendy, overlap=job.overlap)
        assert plan.lstrip().startswith("Limit"), plan
        assert "Index Scan using item_serving_order" in plan, plan
        assert "Sort" not in plan, plan


@needs_postgres
@pytest.mark.django_db
def test_picking_a_gold_item_walks_the_gold_index_without_sorting(wendy: User) -> None:
    job = open_job_with_items(items=5000, gold=2000, overlap=3)
    plan = _plan("gold", job_id=job.pk, worker=wendy, overlap=job.overlap)
    assert "item_job_gold" in plan and "Sort" not in plan, plan


@needs_postgres
@pytest.mark.django_db
def test_a_claim_inside_a_callers_transaction_leaves_its_planner_settings_as_they_were(
    wendy: User,
) -> None:
    job = open_job_with_items(items=3, gold=3, gold_rate="0.5")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        jit = cursor.fetchone()[0]
        with transaction.atomic():  # the caller's transaction goes on after the claim
            lease_claim(worker=wendy, job=job)
            cursor.execute("SHOW enable_sort")
            assert cursor.fetchone()[0] == "on"
            cursor.execute("SHOW jit")
            assert cursor.fetchone()[0] == jit
            cursor.execute("SHOW plan_cache_mode")
            assert cursor.fetchone()[0] == "auto"


@needs_postgres
@pytest.mark.django_db
def test_a_prepared_claim_runs_its_generic_plan_from_the_first_time(wendy: User) -> None:
    # psycopg prepares a statement on its 5th run (settings_db.py); PostgreSQL's own choice would
    # then plan it five more times for its parameters before trying the generic plan.
    job = open_job_with_items(items=20, overlap=1)
    for _ in range(12):
        judge(wendy, job)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%AS started_window%"],
        )
        assert cursor.fetchall() == [(7, 0)]


def _probes(node: dict[str, Any]) -> int:
    """How many times the plan ran a subquery (slot and never-met probes): rows examined."""
    own = node["Actual Loops"] if node.get("Parent Relationship") == "SubPlan" else 0
    return own + sum(_probes(child) for child in node.get("Plans", []))


def _candidate_probes(*, job_id: int, worker: User) -> int:
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        sql.run("job_for_claim", job=job_id, worker=worker.pk, now=now)
        (statement,) = sql.statements("candidate")
        params = {"job": job_id, "worker": worker.pk, "now": now, "overlap": 3}
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params)
        (plan,) = cursor.fetchone()[0]
        transaction.set_rollback(True)  # EXPLAIN ANALYZE ran it: let go of the row it locked
    return _probes(plan["Plan"])


@needs_postgres
@pytest.mark.django_db
def test_a_claim_examines_as_many_rows_however_many_started_items_the_worker_judged(
    wendy: User, walter: User,
) -> None:
    # Overlap 3: what a lone worker judges stays started (and first in the serving order) until
    # others judge it too. Wendy judged a window's worth and a little more; Walter four windows.
    window = sql.STARTED_WINDOW
    job = open_job_with_items(items=5 * window, overlap=3)
    items = list(Item.objects.filter(job=job).order_by("id").values_list("id", flat=True))
    for worker, judged in ((wendy, items[: window + 8]), (walter, items[: 4 * window])):
        Item.objects.filter(pk__in=judged).update(started=True, judgment_count=F("judgment_count") + 1)
        Judgment.objects.bulk_create(
            Judgment(job=job, item_id=item_id, worker=worker, label="cat") for item_id in judged
        )
    short, long = (_candidate_probes(job_id=job.pk, worker=worker) for worker in (wendy, walter))
    assert short == long, (short, long)  # the old single walk: about 3 probes per judged item
    assert long <= 3 * (window + 1), long


@needs_postgres
@pytest.mark.django_db
def test_a_claim_steps_over_items_whose_every_slot_is_leased_without_probing_them(wendy: User) -> None:
    # A crowd's window: the first started items each have their three leases out together.
    # Stepping over one cost four index probes; now the row's `full_until` alone turns it away.
    window = sql.STARTED_WINDOW
    job = open_job_with_items(items=window + 4, overlap=3)
    full = list(Item.objects.filter(job=job).order_by("id").values_list("id", flat=True))[:window]
    now = timezone.now()
    for n in range(3):
        crowd = WorkerFactory(username=f"crowd-{n}")
        for item_id in full:
            sql.run("lease_if_free", job=job.pk, item=item_id, worker=crowd.pk, now=now,
                    expires=now + timedelta(minutes=5), overlap=3, page=None)
    assert _candidate_probes(job_id=job.pk, worker=wendy) <= 3  # the first fresh item's own


def _candidate_blocks(*, job_id: int, worker: User) -> tuple[int, int]:
    """(item served, shared blocks the candidate's two started windows read), by EXPLAIN (ANALYZE,
    BUFFERS). Not the fresh walk's: it steps over the index entries that items' starts left dead
    until a vacuum, the same with or without the windows."""
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        sql.run("job_for_claim", job=job_id, worker=worker.pk, now=now)
        (statement,) = sql.statements("candidate")
        params = {"job": job_id, "worker": worker.pk, "now": now, "overlap": 3}
        cursor.execute(statement, params)
        served = cursor.fetchone()[0]
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, params)
        (plan,) = cursor.fetchone()[0]
        transaction.set_rollback(True)  # let go of the row it locked
    (append,) = plan["Plan"]["Plans"]
    windows = [n for n in append["Plans"] if n.get("Alias") in ("started_window", "started_lapsed")]
    assert len(windows) == 2, append
    return served, sum(n["Shared Hit Blocks"] + n["Shared Read Blocks"] for n in windows)


@needs_postgres
@pytest.mark.django_db
@pytest.mark.parametrize("met", [False, True], ids=["open item free", "open item met already"])
def test_a_claim_reads_as_much_behind_ten_times_as_many_fully_leased_items(wendy: User, met: bool) -> None:
    # A thinking crowd: the oldest started items each have their three leases out, waiting for
    # answers, and the item a slot is free on comes after them all (Wendy holds one of its slots
    # in the second case, so the fresh item is hers). The window used to read every full item from
    # the table to turn it away (485 items, 246 blocks a claim at 1,000 workers).
    reads = []
    for full_count in (8, 80):
        job = open_job_with_items(items=full_count + 2, overlap=3)
        *full, open_item, fresh = list(Item.objects.filter(job=job).order_by("id").values_list("id", flat=True))
        now = timezone.now()
        crowd = [WorkerFactory(username=f"crowd-{full_count}-{met}-{n}") for n in range(3)]
        for n, worker in enumerate(crowd):
            for item_id in [*full, open_item][: len(full) + (n == 0)]:
                sql.run("lease_if_free", job=job.pk, item=item_id, worker=worker.pk, now=now,
                        expires=now + timedelta(minutes=5), overlap=3, page=None)
        if met:
            sql.run("lease_if_free", job=job.pk, item=open_item, worker=wendy.pk, now=now,
                    expires=now + timedelta(minutes=5), overlap=3, page=None)
        served, blocks = _candidate_blocks(job_id=job.pk, worker=wendy)
        assert served == (fresh if met else open_item)  # started with a free slot before fresh
        reads.append(blocks)
    few, many = reads
    assert many <= few + 10, reads


@needs_postgres
@pytest.mark.django_db
def test_a_workers_live_lease_is_looked_up_among_their_own_leases_only(wendy: User) -> None:
    """The claim's first statement finds the worker's live lease in the job (idempotent next) by
    walking lease_active_worker, not every active lease of the job (lease_active_job): with a
    crowd that was 180 leases read per claim, none of them the worker's after a submit."""
    job = open_job_with_items(items=50, overlap=3)
    for n in range(20):
        lease_claim(worker=WorkerFactory(username=f"crowd-{n}"), job=job)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE labeling_lease")
    plan = _plan("job_for_claim", job_id=job.pk, worker=wendy, overlap=job.overlap)
    assert "lease_active_worker" in plan and "lease_active_job" not in plan, plan
