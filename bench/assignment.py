"""python -m bench assignment: next-item + submit cycles per second under concurrent workers.

Loops run against the same throwaway PostgreSQL database, on the same tables and indexes, each on
a job of its own, interleaved (every loop once per round) so that all see the same noise:

- Quorum labeling, 1 transaction: N threads (each its own connection), each a distinct worker
  calling labeling's submit (`judgment_submit_outcome`) and then the claim of its next lease
  (`lease_claim_last`) in one transaction: one COMMIT per judgment.
- Quorum labeling, 2 transactions (the loop of earlier figures): `lease_claim`, then
  `judgment_submit`, each its own transaction.
- Quorum flow, 1 and 2 transactions: the same with the whole submit flow (pay, quality, events):
  `flows.work_submit(then=NextClaim())`, what the HTTP submit with `"next": true` runs, and the
  flow without `then` beside `lease_claim` (the HTTP submit before issue 12's merge).
- Bare SQL: N threads (raw psycopg connections) doing the least a SKIP LOCKED queue can do per
  cycle: `UPDATE … WHERE id = (SELECT id … FOR UPDATE SKIP LOCKED LIMIT 1)` plus one judgment
  INSERT, in one transaction.

The ratios say what leases, slot counting, idempotency, gold mixing, counters, pay and quality
cost on top. Options: --items=20000 (per round: each loop's job holds items x rounds, the bare
loop's three times that) --overlap=1 --workers=16 --seconds=10 --rounds=1. A loop whose job runs
out before --seconds is reported as such (its rate is then over the time it ran). Needs PostgreSQL.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import psycopg
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext, override_settings

from bench._cpu import process_cpu
from bench._db import analyze_filled, bench_database
from bench._options import int_options
from marketplace import flows
from marketplace.accounts.models import Organization, Role, User
from marketplace.billing.audit import ledger_audit
from marketplace.billing.services import topup_record
from marketplace.errors import Busy, NothingLeft
from marketplace.jobs.models import Job
from marketplace.jobs.services import ItemRow, item_bulk_create, job_create
from marketplace.labeling.services import (
    NextClaim, NextLease, judgment_submit, judgment_submit_outcome, lease_claim, lease_claim_last,
)

DEFAULTS = {"items": 20_000, "overlap": 1, "workers": 16, "seconds": 10, "rounds": 1}
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
    server_cpu: float = 0.0  # CPU seconds of the loop's PostgreSQL backends, read as each thread ends

    @property
    def rate(self) -> float:
        return self.cycles / self.seconds if self.seconds else 0.0


def _options(argv: list[str]) -> dict[str, int]:
    return int_options(argv, DEFAULTS)


def _job(*, client: User, admin: User, items: int, overlap: int, title: str) -> Job:
    """A published job with its escrow funded (the flow pays every judgment from it)."""
    job = job_create(user=client, fields={
        "title": title, "labels": LABELS, "overlap": overlap, "gold_rate": "0",
        "reward_per_judgment": "0.02", "tier": "standard",
    })
    rows = [ItemRow(data={"text": f"item {n}"}, external_id=f"{title}-{n}") for n in range(items)]
    item_bulk_create(job=job, rows=rows, gold=False)
    topup_record(admin=admin, organization=client.organization, amount=Decimal(items) * Decimal("0.20"),
                 payment_reference=f"bench-{title}")
    return flows.job_publish(job=job, user=client)


def _threads(count: int, target: Callable[[int, list[int]], None]) -> Result:
    done = [0] * count
    threads = [threading.Thread(target=target, args=(n, done)) for n in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Result(cycles=sum(done), seconds=time.perf_counter() - started)


# One worker's cycle, from the lease in hand (None: ask next-item) to the next lease in hand, or
# DRY: this submit was counted and nothing is left. (A lease still in hand when a loop stops is
# live: next-item gives it back to the same worker in the next round.)
Cycle = Callable[[User, Job, "int | None"], "int | None"]
DRY = 0


def _in_hand(following: NextLease | None) -> int | None:
    if following is not None and following.lease is not None:
        return following.lease.pk
    return DRY if isinstance(following and following.refused, NothingLeft) else None


def _labeling_one(worker: User, job: Job, lease: int | None) -> int | None:
    """Labeling's submit, then the next claim, in one transaction: the flow's, less pay and quality."""
    if lease is None:
        lease = lease_claim(worker=worker, job=job.pk).pk
    with transaction.atomic():
        judgment_submit_outcome(worker=worker, lease_id=lease, label="cat", savepoint=False)
        return _in_hand(lease_claim_last(worker=worker, job_id=job.pk, then=NextClaim()))


def _labeling_two(worker: User, job: Job, lease: int | None) -> int | None:
    """The loop of earlier figures: labeling's claim, then its submit, two transactions."""
    lease = lease_claim(worker=worker, job=job.pk).pk
    judgment_submit(worker=worker, lease_id=lease, label="cat")
    return None


def _flow_one(worker: User, job: Job, lease: int | None) -> int | None:
    """Submit, pay, quality and the next claim in one transaction (the HTTP submit with next)."""
    if lease is None:
        lease = lease_claim(worker=worker, job=job.pk).pk
    return _in_hand(flows.work_submit(worker=worker, lease_id=lease, label="cat", then=NextClaim()).next)


def _flow_two(worker: User, job: Job, lease: int | None) -> int | None:
    """The same flow, the claim in a transaction of its own (the HTTP submit before the merge)."""
    lease = lease_claim(worker=worker, job=job.pk).pk
    flows.work_submit(worker=worker, lease_id=lease, label="cat")
    return None


def _quorum(*, cycle: Cycle, job: Job, workers: list[User], seconds: float, cycles: int = 10**9) -> Result:
    deadline = time.monotonic() + seconds

    def work(n: int, done: list[int]) -> None:
        worker, lease = workers[n], None
        try:
            while time.monotonic() < deadline and done[n] < cycles:
                try:
                    lease = cycle(worker, job, lease)
                except NothingLeft:
                    break
                except Busy:  # what is left for it is held by others' submits a moment: ask again
                    lease = None
                    continue
                done[n] += 1
                if lease == DRY:
                    break
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                server_cpu.append(process_cpu(cursor.fetchone()[0]) or 0.0)
            connection.close()  # each thread opened its own connection

    server_cpu: list[float] = []
    result = _threads(len(workers), work)
    result.server_cpu = sum(server_cpu)
    return result


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
            server_cpu.append(process_cpu(conn.info.backend_pid) or 0.0)

    server_cpu: list[float] = []
    result = _threads(len(workers), work)
    result.server_cpu = sum(server_cpu)
    return result


def _statements_per_cycle(*, cycle: Cycle, job: Job, worker: User, cycles: int = 20) -> tuple[float, float]:
    """(statements, COMMITs) per cycle, in a steady state (the first cycle, which asks next-item, apart)."""
    lease = cycle(worker, job, None)
    with CaptureQueriesContext(connection) as captured:
        for _ in range(cycles):
            lease = cycle(worker, job, lease)
    commits = sum(1 for q in captured.captured_queries if q["sql"].strip().upper() == "COMMIT")
    return len(captured.captured_queries) / cycles, commits / cycles


LOOPS: dict[str, Cycle] = {
    "labeling, 1 transaction": _labeling_one,
    "labeling, 2 transactions": _labeling_two,
    "flow, 1 transaction": _flow_one,
    "flow, 2 transactions": _flow_two,
}


# No consensus run in the middle of a loop: the flow's submits would start fits (in threads of
# this process) after 100, 200, 400... judgments, which measure consensus, not assignment.
@override_settings(QUORUM_CONSENSUS_EVERY_JUDGMENTS=0, QUORUM_CONSENSUS_EVERY_MINUTES=0)
def run(argv: list[str]) -> None:
    options = _options(argv)
    with bench_database() as vendor:
        org = Organization.objects.create(name="Bench", slug="bench")
        client = User.objects.create(username="bench-client", role=Role.CLIENT, organization=org)
        admin = User.objects.create(username="bench-admin", role=Role.ADMIN, is_staff=True)
        workers = [
            User.objects.create(username=f"bench-worker-{n}", role=Role.WORKER)
            for n in range(options["workers"] + 1)
        ]
        sampler, crowd = workers[0], workers[1:]
        overlap, seconds = options["overlap"], options["seconds"]
        # Items for every round: on a quiet machine the bare loop takes 4,000 a second.
        size = options["items"] * options["rounds"]
        jobs = {name: _job(client=client, admin=admin, items=size, overlap=overlap, title=name) for name in LOOPS}
        # The bare loop runs three to four times as fast: its job holds three times as many.
        bare_job = _job(client=client, admin=admin, items=3 * size, overlap=1, title="bare")
        if vendor != "postgresql":
            print("the bare SKIP LOCKED loop needs PostgreSQL; set DATABASE_URL=postgres://...")
            return
        analyze_filled()  # statistics that know the jobs, not the empty tables the loops fill (bench._db)

        per_cycle = {name: _statements_per_cycle(cycle=cycle, job=jobs[name], worker=sampler)
                     for name, cycle in LOOPS.items()}
        print(f"job: {size} items x overlap {overlap} per loop; {len(crowd)} concurrent workers "
              f"(threads, each its own connection), {seconds} s per loop, {options['rounds']} round(s) "
              "of every loop in turn")
        rates: dict[str, list[float]] = {name: [] for name in [*LOOPS, "bare"]}
        single: dict[str, list[float]] = {name: [] for name in rates}
        # PostgreSQL's CPU per cycle (its backends' /proc times): steadier than rates on a busy machine.
        server_ms: dict[str, list[float]] = {name: [] for name in rates}
        for round_ in range(options["rounds"]):
            load = os.getloadavg()[0]
            for name, cycle in LOOPS.items():
                one = _quorum(cycle=cycle, job=jobs[name], workers=[sampler], seconds=seconds, cycles=300)
                many = _quorum(cycle=cycle, job=jobs[name], workers=crowd, seconds=seconds)
                server_ms[name].append(many.server_cpu * 1000 / max(many.cycles, 1))
                single[name].append(1000 / one.rate if one.rate else float("nan"))
                rates[name].append(many.rate)
                _ran_out(name, many, seconds)
            one = _bare(job=bare_job, workers=[sampler], seconds=seconds, cycles=300)
            many = _bare(job=bare_job, workers=crowd, seconds=seconds)
            server_ms["bare"].append(many.server_cpu * 1000 / max(many.cycles, 1))
            single["bare"].append(1000 / one.rate if one.rate else float("nan"))
            rates["bare"].append(many.rate)
            _ran_out("bare", many, seconds)
            ratios = ", ".join(f"{name} {rates[name][-1] / rates['bare'][-1]:.2f}" for name in LOOPS)
            print(f"round {round_ + 1} (load average {load:.1f} -> {os.getloadavg()[0]:.1f}): "
                  f"ratio to bare: {ratios}")

        print(f"{'':30}{'cycles/s':>16}{'1 worker, ms/cycle':>22}   statements (COMMITs) per cycle")
        for name in [*LOOPS, "bare"]:
            stated = "4 (1)" if name == "bare" else f"{per_cycle[name][0]:.1f} ({per_cycle[name][1]:.0f})"
            label = "bare SQL SKIP LOCKED" if name == "bare" else f"quorum, {name}"
            figures = ", ".join(f"{rate:.0f}" for rate in rates[name])
            ms = ", ".join(f"{value:.2f}" for value in single[name])
            print(f"{label:30}{figures:>16}{ms:>22}   {stated}")
        for name in [*LOOPS, "bare"]:
            print(f"PostgreSQL CPU per cycle, {name}: "
                  + ", ".join(f"{value:.2f}" for value in server_ms[name]) + " ms")
        for name in LOOPS:
            mean = sum(rates[name]) / sum(rates["bare"])
            print(f"ratio quorum {name} / bare: {mean:.2f}")
        for name in LOOPS:
            _integrity(job=jobs[name], name=name)
        audit = ledger_audit()
        print(f"billing audit: {'clean' if audit.ok else audit.violations}")


def _ran_out(name: str, result: Result, seconds: float) -> None:
    if result.seconds < 0.9 * seconds:
        print(f"  {name}: the job ran out of items after {result.seconds:.1f} s of {seconds} "
              "(its rate is over that time; raise --items)")


def _integrity(*, job: Job, name: str) -> None:
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
    print(f"integrity ({name}): {over} items over their overlap, {twice} (item, worker) pairs judged twice")
