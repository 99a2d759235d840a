"""python -m bench assignment: next-item + submit cycles per second under concurrent workers.

Two loops run against the same throwaway PostgreSQL database, on the same tables and indexes:

- Quorum: N threads (each its own connection), each a distinct worker calling the real services
  `lease_claim` then `judgment_submit` until the job runs dry or time is up.
- Bare SQL: N threads (raw psycopg connections) doing the least a SKIP LOCKED queue can do per
  cycle: `UPDATE … WHERE id = (SELECT id … FOR UPDATE SKIP LOCKED LIMIT 1)` plus one judgment
  INSERT, in one transaction.

The ratio says what leases, slot counting, idempotency, gold mixing and counters cost on top.
Options: --items=20000 --overlap=1 --workers=16 --seconds=10. Needs PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench._db import bench_database
from marketplace.accounts.models import Organization, Role, User
from marketplace.errors import NothingLeft
from marketplace.jobs.models import Job, JobStatus
from marketplace.jobs.services import ItemRow, item_bulk_create, job_create, job_transition
from marketplace.labeling.services import judgment_submit, lease_claim

DEFAULTS = {"items": 20_000, "overlap": 1, "workers": 16, "seconds": 10}
LABELS = [{"key": "cat"}, {"key": "dog"}, {"key": "bird"}]

BARE_CLAIM = """
UPDATE jobs_item SET started = true, judgment_count = judgment_count + 1, is_complete = true
WHERE id = (
    SELECT id FROM jobs_item
    WHERE job_id = %s AND NOT is_complete AND NOT is_gold
    ORDER BY started DESC, priority DESC, id
    LIMIT 1 FOR UPDATE SKIP LOCKED
)
RETURNING id, data
"""
BARE_JUDGE = """
INSERT INTO labeling_judgment (job_id, item_id, worker_id, label, is_gold, status, created_at)
VALUES (%s, %s, %s, 'cat', false, 'accepted', now())
"""


@dataclass
class Result:
    cycles: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.cycles / self.seconds if self.seconds else 0.0


def _options(argv: list[str]) -> dict[str, int]:
    options = dict(DEFAULTS)
    for arg in argv:
        name, _, value = arg.lstrip("-").partition("=")
        if name in options and value.isdigit():
            options[name] = int(value)
    return options


def _job(*, client: User, items: int, overlap: int, title: str) -> Job:
    job = job_create(
        user=client, fields={"title": title, "labels": LABELS, "overlap": overlap, "gold_rate": "0"}
    )
    rows = [ItemRow(data={"text": f"item {n}"}, external_id=f"{title}-{n}") for n in range(items)]
    item_bulk_create(job=job, rows=rows, gold=False)
    return job_transition(job=job, to=JobStatus.OPEN)


def _threads(count: int, target: Callable[[int, list[int]], None]) -> Result:
    done = [0] * count
    threads = [threading.Thread(target=target, args=(n, done)) for n in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Result(cycles=sum(done), seconds=time.perf_counter() - started)


def _quorum(*, job: Job, workers: list[User], seconds: float, cycles: int = 10**9) -> Result:
    deadline = time.monotonic() + seconds

    def work(n: int, done: list[int]) -> None:
        worker = workers[n]
        try:
            while time.monotonic() < deadline and done[n] < cycles:
                try:
                    lease = lease_claim(worker=worker, job=job.pk)
                except NothingLeft:
                    break
                judgment_submit(worker=worker, lease_id=lease.pk, label="cat")
                done[n] += 1
        finally:
            connection.close()  # each thread opened its own connection

    return _threads(len(workers), work)


def _bare(*, job: Job, workers: list[User], seconds: float, cycles: int = 10**9) -> Result:
    settings = connection.settings_dict
    conninfo = psycopg.conninfo.make_conninfo(
        dbname=settings["NAME"], user=settings["USER"] or None, password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None, port=settings["PORT"] or None,
    )
    deadline = time.monotonic() + seconds

    def work(n: int, done: list[int]) -> None:
        with psycopg.connect(conninfo) as conn, conn.cursor() as cursor:
            while time.monotonic() < deadline and done[n] < cycles:
                cursor.execute(BARE_CLAIM, (job.pk,))
                row = cursor.fetchone()
                if row is None:
                    conn.commit()
                    break
                cursor.execute(BARE_JUDGE, (job.pk, row[0], workers[n].pk))
                conn.commit()
                done[n] += 1

    return _threads(len(workers), work)


def _statements_per_cycle(*, job: Job, worker: User, cycles: int = 20) -> float:
    with CaptureQueriesContext(connection) as captured:
        for _ in range(cycles):
            lease = lease_claim(worker=worker, job=job.pk)
            judgment_submit(worker=worker, lease_id=lease.pk, label="cat")
    return len(captured.captured_queries) / cycles


def run(argv: list[str]) -> None:
    options = _options(argv)
    with bench_database() as vendor:
        org = Organization.objects.create(name="Bench", slug="bench")
        client = User.objects.create(username="bench-client", role=Role.CLIENT, organization=org)
        workers = [
            User.objects.create(username=f"bench-worker-{n}", role=Role.WORKER)
            for n in range(options["workers"] + 1)
        ]
        sampler, crowd = workers[0], workers[1:]
        size, overlap, seconds = options["items"], options["overlap"], options["seconds"]
        quorum_job = _job(client=client, items=size, overlap=overlap, title="quorum")
        bare_job = _job(client=client, items=size, overlap=1, title="bare")
        if vendor != "postgresql":
            print("the bare SKIP LOCKED loop needs PostgreSQL; set DATABASE_URL=postgres://...")
            return
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # both loops plan with statistics that know the jobs

        per_cycle = _statements_per_cycle(job=quorum_job, worker=sampler)
        quorum_one = _quorum(job=quorum_job, workers=[sampler], seconds=seconds, cycles=300)
        bare_one = _bare(job=bare_job, workers=[sampler], seconds=seconds, cycles=300)
        quorum = _quorum(job=quorum_job, workers=crowd, seconds=seconds)
        bare = _bare(job=bare_job, workers=crowd, seconds=seconds)

        print(f"job: {size} items x overlap {overlap}; {len(crowd)} concurrent workers "
              f"(threads, each its own connection), {seconds} s per loop")
        print(f"{'':24}{'cycles/s':>10}{'1 worker, ms/cycle':>21}   statements per cycle")
        print(f"{'quorum next + submit':24}{quorum.rate:10.0f}{1000 / quorum_one.rate:21.2f}   "
              f"{per_cycle:.0f} (2 transactions + a read after commit, counting BEGIN/COMMIT)")
        print(f"{'bare SQL SKIP LOCKED':24}{bare.rate:10.0f}{1000 / bare_one.rate:21.2f}   "
              "4 (1 transaction, counting BEGIN/COMMIT)")
        print(f"ratio quorum / bare: {quorum.rate / bare.rate:.2f}")
        _integrity(job=quorum_job)


def _integrity(*, job: Job) -> None:
    """The figures mean nothing if the fast path cut corners: check what it wrote."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT item_id FROM labeling_judgment WHERE job_id = %s "
            "GROUP BY item_id HAVING count(*) > %s) AS over",
            (job.pk, job.overlap),
        )
        over = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM labeling_judgment WHERE job_id = %s "
            "GROUP BY item_id, worker_id HAVING count(*) > 1) AS twice",
            (job.pk,),
        )
        twice = cursor.fetchone()[0]
    print(f"integrity: {over} items over their overlap, {twice} (item, worker) pairs judged twice")
