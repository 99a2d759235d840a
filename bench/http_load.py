"""python -m bench http-load: a simulated crowd over real HTTP against the production server.

For each crowd size (--workers=1,8,200,1000 runs them in turn), in a throwaway PostgreSQL
database (bench._db): a funded, published job of --items items (overlap 3, no gold, so no
worker is blocked mid-run) and that many worker accounts with API tokens. The server runs in a
subprocess (bench._server: the production command by default, DEBUG off, consensus and the
periodic jobs in its own threads). The crowd simulator runs in this process: each worker its own
asyncio task and token, one request per judgment (POST work/next/ once, then submits that carry
the next lease), thinking --think ms on average between answers (0: none), for --seconds (or
until --judgments accepted judgments).

Printed per size: judgments/s, latency percentiles of next and submit, errors by kind (must be
none), the server processes' CPU per judgment, SQL statements per judgment over HTTP (counted
in this process with Django's test client on the same database after the run), PostgreSQL lock
waits seen (pg_stat_activity sampled every 20 ms, by the table of the row waited on), and the
database's integrity afterwards: stored = accepted, no (item, worker) pair twice, no item over
its overlap. Then one summary table of every size.

Options: --workers=200 (or a list: 1,8,200,1000) --items=6000 --seconds=90 --judgments=0
(0: run for --seconds) --think=0 (mean ms) --overlap=3 --seed=0 --connections=40 (0: one HTTP
connection per worker; DEFAULTS says why the default caps them) --server=production|uvicorn|daphne
--processes=0 (web processes; 0: one per CPU; daphne runs one) --sample-ms=20 (how often lock
waits are sampled; 0: never) --autovacuum=10 (seconds between the looks of autovacuum's stand-in,
bench._db.AutovacuumStandIn, as production's PostgreSQL runs autovacuum and this machine's does
not; 0: none, the statistics of the run's start for the whole run, as figures before 2026-12-07
were measured) --herd=0 (1: with think time, every worker starts in the same
instant; by default each starts at its own moment within one mean think time, as a crowd already
at work arrives) --warmup=0 (seconds: also give the next and submit percentiles of the requests
asked that long or longer after the crowd's start, the summary's "after warm-up" column; the
whole-run figures stay as they are).

The machine's CPU per judgment is printed split three ways (bench._cpu): the server's processes,
PostgreSQL's backends for the bench database, and this process (the simulated crowd, its HTTP
client and the lock-wait sampler), since all three share the same cores."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from bench._cpu import CpuSplit, DatabaseMeter
from bench._db import analyze_filled, autovacuum_stand_in, bench_database
from bench._server import POOL_MAX, SERVERS, cpu_seconds, served
from bench._options import int_options
from marketplace import flows
from marketplace.accounts.models import Organization, Role, User
from marketplace.accounts.services import token_create
from marketplace.billing.services import topup_record
from marketplace.demo.simulator.client import Credential, Options
from marketplace.demo.simulator.crowd import DEFAULT_MIX, mix_parse
from marketplace.demo.simulator.report import report_text
from marketplace.demo.simulator.run import Accounts, simulate
from marketplace.jobs.models import Job
from marketplace.jobs.services import ItemRow, item_bulk_create, job_create
from marketplace.quality.rules import rules_for

# connections: HTTP connections the 200 workers share (0: one each). Each request in flight holds
# a PostgreSQL connection in the server (Django under ASGI runs each request in a thread of its
# own); daphne has no pool, so one connection per worker exceeds max_connections=100 there, and
# 40 leaves headroom. The production server's pools cap connections whatever this is.
DEFAULTS = {"workers": 200, "items": 6000, "judgments": 0, "seconds": 90, "overlap": 3, "seed": 0,
            "connections": 40, "processes": 0, "think": 0, "sample-ms": 20, "herd": 0, "autovacuum": 10,
            "warmup": 0}
LABELS = [{"key": "cat"}, {"key": "dog"}, {"key": "bird"}]


def _options(argv: list[str]) -> dict[str, int]:
    return int_options(argv, DEFAULTS, parsed_elsewhere=("server", "workers"))  # _server, _sizes


def _server(argv: list[str]) -> str:
    """--server=NAME (bench._server.SERVERS); production by default: what `make serve` runs."""
    for arg in argv:
        name, _, value = arg.lstrip("-").partition("=")
        if name == "server":
            if value not in SERVERS:
                raise SystemExit(f"--server must be one of {', '.join(SERVERS)}; got {value!r}")
            return value
    return "production"


def _setup(*, workers: int, items: int, overlap: int) -> tuple[Job, str, list[Credential]]:
    """The job (published, funded), the owner's token, and one token per worker."""
    org = Organization.objects.create(name="Bench", slug="bench-http")
    unusable = make_password(None)  # bearer tokens only: no password hashing for 200 accounts
    admin = User.objects.create(username="bench-admin", role=Role.ADMIN, is_staff=True, password=unusable)
    client = User.objects.create(username="bench-client", role=Role.CLIENT, organization=org, password=unusable)
    job = job_create(user=client, fields={
        "title": "HTTP load", "labels": LABELS, "overlap": overlap, "gold_rate": "0",
        "reward_per_judgment": "0.02", "tier": "standard",
    })
    item_bulk_create(job=job, rows=[ItemRow(data={"text": f"photo {n}"}, external_id=f"p{n}")
                                    for n in range(items)], gold=False)
    topup_record(admin=admin, organization=org, amount=Decimal(items) * Decimal("0.20"),
                 payment_reference="bench")
    job = flows.job_publish(job=job, user=client)
    crowd = User.objects.bulk_create(
        [User(username=f"sim-worker-{n + 1}", role=Role.WORKER, password=unusable) for n in range(workers)]
    )
    credentials = [Credential(username=u.username, token=token_create(user=u, name="bench")[1]) for u in crowd]
    analyze_filled()  # not the empty tables the run fills (bench._db says why)
    return job, token_create(user=client, name="bench")[1], credentials


def _integrity(job: Job) -> tuple[int, int, int]:
    """(judgments stored, items over their overlap, (item, worker) pairs judged twice)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM labeling_judgment WHERE job_id = %s", [job.pk])
        stored = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM (SELECT item_id FROM labeling_judgment WHERE job_id = %s "
            "GROUP BY item_id HAVING count(*) > %s) AS over", [job.pk, job.overlap])
        over = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM labeling_judgment WHERE job_id = %s "
            "GROUP BY item_id, worker_id HAVING count(*) > 1) AS twice", [job.pk])
        twice = cursor.fetchone()[0]
    return stored, over, twice


@dataclass
class Size:
    """One crowd size's figures, for the summary table."""

    workers: int
    think_ms: int
    rate: float = 0.0
    next_ms: tuple[float, float, float] = (0.0, 0.0, 0.0)  # p50, p95, p99
    submit_ms: tuple[float, float, float] = (0.0, 0.0, 0.0)
    submit_ms_warm: tuple[float, float, float] = (0.0, 0.0, 0.0)  # of submits asked after --warmup
    errors: int = 0
    cpu_ms: float = 0.0
    database_cpu_ms: float = 0.0
    generator_cpu_ms: float = 0.0
    statements: float = 0.0
    lock_waits: dict[str, int] = field(default_factory=dict)
    intact: bool = True


# Sessions waiting for a lock now, by the table of the row they queue on (a waiter holds the
# tuple lock of that row); 'transaction' when only the transaction it waits for is known.
_LOCK_WAITS = """
SELECT COALESCE(t.relation::regclass::text, 'transaction') FROM pg_stat_activity a
LEFT JOIN pg_locks t ON t.pid = a.pid AND t.locktype = 'tuple' AND t.granted
WHERE a.datname = current_database() AND a.wait_event_type = 'Lock' AND a.pid <> pg_backend_pid()
"""


class LockWaits(threading.Thread):
    """Samples pg_stat_activity every `interval` seconds during the run: lock waits seen, by
    table. It runs in the load generator's process and costs PostgreSQL a pg_locks scan per
    sample: --sample-ms sets how often (0: not at all)."""

    def __init__(self, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.seen: Counter[str] = Counter()
        self.samples = 0
        self.done = threading.Event()

    def run(self) -> None:
        try:
            with connection.cursor() as cursor:
                while not self.done.wait(self.interval):
                    cursor.execute(_LOCK_WAITS)
                    self.seen.update(row[0] for row in cursor.fetchall())
                    self.samples += 1
        finally:
            connection.close()


def statements_per_judgment(job: Job, credentials: list[Credential], judgments: int = 30) -> float:
    """SQL statements one judgment costs over HTTP, counted in this process with Django's test
    client against the same database: POST work/next/ once, then submits that carry the next
    lease (the simulator's loop). Token lookup, transactions' own statements and all included.

    Counted warm, after `_warm_up(job)` submits, as a serving process and a worker at work are:
    what a process reads once and keeps for seconds (the job's terms, the peers' answer pace:
    fast_rule.py) is one statement per job per process every few seconds, not per judgment (cold,
    it showed as 0.2 a judgment); and this worker, answering at a machine's speed, is flagged
    once by the fast-answer rule at their `fast_window`-th judgment (4 statements, once per worker
    and job: it showed as 10.1–10.2 once a crowd had set the peers' pace)."""
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {credentials[0].token}"}
    # Progress events: the first goes out at once (counted, as a server's would be); the rest wait
    # for a trailing send an hour away, which never fires into the database dropped after the run.
    with override_settings(ALLOWED_HOSTS=["testserver"], QUORUM_LIVE_PROGRESS_SECONDS=3600):
        first = client.post("/api/v1/work/next/", {"job": job.pk}, content_type="application/json", **headers)
        if first.status_code not in (200, 201):
            return float("nan")
        lease = first.json()["lease"]
        lease, _ = _submits(client, headers, lease, _warm_up(job))
        with CaptureQueriesContext(connection) as queries:
            lease, done = _submits(client, headers, lease, judgments)
    return len(queries.captured_queries) / max(done, 1)


def _warm_up(job: Job) -> int:
    """Submits before the count: past the fast-answer rule's window, where its one flag falls."""
    return rules_for(job=job).fast_window + 1


def _submits(client: Client, headers: dict[str, str], lease: int | None, judgments: int) -> tuple[int | None, int]:
    """Up to `judgments` submits, each carrying the next lease; the last lease and the count done."""
    done = 0
    while done < judgments and lease is not None:
        answer = client.post(f"/api/v1/work/leases/{lease}/submit/", {"label": "cat", "next": True},
                             content_type="application/json", **headers)
        if answer.status_code != 201:
            break
        done += 1
        lease = (answer.json().get("next") or {}).get("lease")
    return lease, done


def run(argv: list[str]) -> None:
    options = _options(argv)
    server_kind = _server(argv)
    sizes = [Size(workers=n, think_ms=options["think"]) for n in _sizes(argv, options["workers"])]
    for size in sizes:
        _run_size(size, options=options, server_kind=server_kind)
    print()
    print(f"# http-load summary ({server_kind} server, think {options['think']} ms, autovacuum "
          f"{'stand-in every ' + str(options['autovacuum']) + ' s' if options['autovacuum'] else 'off'}, "
          f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    warm = f" submit p50/p95/p99 ms after {options['warmup']} s |" if options["warmup"] else ""
    print(f"| workers | judgments/s | next p50/p95/p99 ms | submit p50/p95/p99 ms |{warm} errors "
          "| CPU ms/judgment: server / PostgreSQL / load generator | SQL statements/judgment "
          "| lock waits seen | intact |")
    print("|---|---|---|---|" + ("---|" if warm else "") + "---|---|---|---|---|")
    for size in sizes:
        waits = ", ".join(f"{table} {n}" for table, n in size.lock_waits.items()) or "none"
        print(f"| {size.workers} | {size.rate:.1f} | {'/'.join(f'{v:.0f}' for v in size.next_ms)} "
              f"| {'/'.join(f'{v:.0f}' for v in size.submit_ms)} |"
              + (f" {'/'.join(f'{v:.0f}' for v in size.submit_ms_warm)} |" if warm else "")
              + f" {size.errors} "
              f"| {size.cpu_ms:.1f} / {size.database_cpu_ms:.1f} / {size.generator_cpu_ms:.1f} "
              f"| {size.statements:.1f} | {waits} | {'yes' if size.intact else 'NO'} |")


def _sizes(argv: list[str], default: int) -> list[int]:
    """--workers=1,8,200 runs each crowd size in turn (a fresh database and server each)."""
    for arg in argv:
        name, _, value = arg.lstrip("-").partition("=")
        if name == "workers" and value:
            try:
                return [int(part) for part in value.split(",") if int(part) > 0]
            except ValueError:
                raise SystemExit(f"--workers takes numbers separated by commas; got {value!r}") from None
    return [default]


def _run_size(size: Size, *, options: dict[str, int], server_kind: str) -> None:
    with bench_database() as vendor:
        if vendor != "postgresql":
            raise SystemExit("http-load needs PostgreSQL (the server runs in its own process); set DATABASE_URL")
        started = time.perf_counter()
        job, owner_token, credentials = _setup(
            workers=size.workers, items=options["items"], overlap=options["overlap"])
        print(f"\n## {size.workers} workers, think {size.think_ms} ms")
        print(f"set-up: {options['items']:,} items x overlap {options['overlap']}, "
              f"{size.workers} workers with tokens, in {time.perf_counter() - started:.1f} s; "
              f"the workers share {options['connections'] or 'one HTTP connection each, not'} "
              "HTTP connections")
        print(f"server: {server_kind}"
              + ("" if server_kind == "daphne" else f", {options['processes'] or os.cpu_count()} "
                 f"processes, database pool of {POOL_MAX} each")
              + (", Redis (channel layer, cache)" if os.environ.get("REDIS_URL") else
                 ", no Redis (in-memory channel layer and cache: set REDIS_URL as production does)"))
        sim = Options(workers=size.workers, items=options["judgments"] or None,
                      duration=None if options["judgments"] else float(options["seconds"]),
                      think_ms=float(size.think_ms), job=job.pk, seed=options["seed"], progress="bar",
                      connections=options["connections"] or None, spread_start=not options["herd"],
                      warmup=float(options["warmup"]))
        waits = LockWaits(options["sample-ms"] / 1000)
        with autovacuum_stand_in(options["autovacuum"]) as maintenance:
            report, cpu = crowd_run(sim, owner_token=owner_token, credentials=credentials,
                                    server_kind=server_kind, processes=options["processes"],
                                    during=waits if options["sample-ms"] else None)
        print(report_text(report))
        print("autovacuum's stand-in: " + (
            "off (the run's starting statistics throughout)" if maintenance is None else
            f"looked every {options['autovacuum']} s; ran {', '.join(maintenance.passes) or 'nothing'}"))
        stored, over, twice = _integrity(job)
        size.statements = statements_per_judgment(job, credentials)
    accepted = max(report["accepted_judgments"], 1)
    size.rate = report["accepted_judgments"] / max(report["seconds"], 1e-9)
    size.next_ms = _percentiles(report, "next")
    size.submit_ms = _percentiles(report, "submit")
    size.submit_ms_warm = _percentiles(report, "submit", table="latency_ms_after_warmup")
    size.errors = report["errors_total"]
    size.cpu_ms = cpu.server * 1000 / accepted
    size.database_cpu_ms = cpu.database * 1000 / accepted
    size.generator_cpu_ms = cpu.load_generator * 1000 / accepted
    size.lock_waits = dict(waits.seen.most_common())
    size.intact = stored == report["accepted_judgments"] and not over and not twice
    print(f"server processes' CPU: {cpu.server:.1f} s in {report['seconds']:.0f} s of wall time, "
          f"{size.cpu_ms:.1f} ms per judgment; load average during the run: "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"the rest of the machine's CPU per judgment: PostgreSQL's backends {size.database_cpu_ms:.1f} ms, "
          f"the load generator (this process) {size.generator_cpu_ms:.1f} ms; all three "
          f"{size.cpu_ms + size.database_cpu_ms + size.generator_cpu_ms:.1f} ms")
    print(f"SQL statements per judgment over HTTP (one request each, counted in-process): {size.statements:.1f}")
    print(f"PostgreSQL lock waits seen in {waits.samples} samples: "
          + (", ".join(f"{t} {n}" for t, n in waits.seen.most_common()) or "none"))
    print(f"integrity: {stored:,} judgments stored for {report['accepted_judgments']:,} accepted; "
          f"{over} items over their overlap; {twice} (item, worker) pairs judged twice; "
          f"{report['errors_total']} errors")


def crowd_run(sim: Options, *, owner_token: str, credentials: list[Credential], server_kind: str,
              processes: int, final_reads: bool = True,
              during: LockWaits | None = None) -> tuple[dict[str, Any], CpuSplit]:
    """The simulated crowd against a server started for it (bench._server) on the bench's
    database: the simulator's report, and the CPU seconds the server's processes, PostgreSQL's
    backends and this process used while the crowd labelled.
    `final_reads`: the simulator's closing reads (earnings, a consensus run); `during`: a sampler
    that runs while the crowd does."""
    with served(tasks="thread", server=server_kind, processes=processes) as server:
        meter, split, server_before = DatabaseMeter(), CpuSplit(), 0.0

        # CPU is counted while the crowd labels, not during the simulator's reads before and
        # after it (every worker's earnings twice, a consensus run): at 1,000 workers those
        # were 2,000 requests beside ~7,000 judgments, and raised every per-judgment figure.
        def on_crowd(phase: str) -> None:
            nonlocal server_before
            if phase == "start":
                server_before = cpu_seconds(server.pid)
                meter.start()
            else:
                split.server = cpu_seconds(server.pid) - server_before
                meter.stop(split)

        if during is not None:
            during.start()
        try:
            report = asyncio.run(simulate(
                url=server.url, options=sim, mix=mix_parse(DEFAULT_MIX), server=final_reads,
                accounts=Accounts(credentials=credentials, owner_token=owner_token), on_crowd=on_crowd))
        finally:
            if during is not None:
                during.done.set()
                during.join()
        return report, split


def _percentiles(report: dict[str, Any], kind: str, *,
                 table: str = "latency_ms") -> tuple[float, float, float]:
    latency = report.get(table, {}).get(kind) or {}
    return (float(latency.get("p50", 0.0)), float(latency.get("p95", 0.0)), float(latency.get("p99", 0.0)))
