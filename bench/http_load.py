"""python -m bench http-load: 200 simulated workers without think time against the ASGI server.

In a throwaway PostgreSQL database (bench._db): a funded, published job of --items items
(overlap 3, no gold, so no worker is blocked mid-run) and --workers worker accounts with API
tokens. The production server (gunicorn with uvicorn workers and the database pool, as `make
serve` runs it; --server=daphne for the single daphne process) serves it in a subprocess
(bench._server: DEBUG off, consensus in a background thread of each process). The crowd simulator then runs in this process: each
worker its own asyncio task and token, POST work/next/ then POST work/leases/<id>/submit/ at
once, for --seconds (or until --judgments accepted judgments). Printed: judgments/s, latency
percentiles of next and submit, errors by kind (must be none), consensus accuracy against the
simulated truth, the server process's CPU per judgment, and the database's integrity
afterwards: no (item, worker) pair twice, no item over its overlap.

Options: --workers=200 --items=6000 --seconds=90 --judgments=0 (0: run for --seconds)
--overlap=3 --seed=0 --connections=40 (0: one HTTP connection per worker; DEFAULTS says why
the default caps them) --server=production|uvicorn|daphne --processes=0 (web processes; 0: one
per CPU; daphne runs one)."""

from __future__ import annotations

import asyncio
import os
import time
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db import connection

from bench._db import bench_database
from bench._server import POOL_MAX, SERVERS, cpu_seconds, served
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

# connections: HTTP connections the 200 workers share (0: one each). Each request in flight holds
# a PostgreSQL connection in the server (Django under ASGI runs each request in a thread of its
# own); daphne has no pool, so one connection per worker exceeds max_connections=100 there, and
# 40 leaves headroom. The production server's pools cap connections whatever this is.
DEFAULTS = {"workers": 200, "items": 6000, "judgments": 0, "seconds": 90, "overlap": 3, "seed": 0,
            "connections": 40, "processes": 0}
LABELS = [{"key": "cat"}, {"key": "dog"}, {"key": "bird"}]


def _options(argv: list[str]) -> dict[str, int]:
    options = dict(DEFAULTS)
    for arg in argv:
        name, _, value = arg.lstrip("-").partition("=")
        if name in options and value.isdigit():
            options[name] = int(value)
    return options


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
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
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


def run(argv: list[str]) -> None:
    options = _options(argv)
    server_kind = _server(argv)
    with bench_database() as vendor:
        if vendor != "postgresql":
            print("http-load needs PostgreSQL (the server runs in its own process); set DATABASE_URL")
            return
        started = time.perf_counter()
        job, owner_token, credentials = _setup(
            workers=options["workers"], items=options["items"], overlap=options["overlap"])
        print(f"set-up: {options['items']:,} items x overlap {options['overlap']}, "
              f"{options['workers']} workers with tokens, in {time.perf_counter() - started:.1f} s; "
              f"the workers share {options['connections'] or 'one HTTP connection each, not'} "
              "HTTP connections")
        sim = Options(workers=options["workers"], items=options["judgments"] or None,
                      duration=None if options["judgments"] else float(options["seconds"]),
                      think_ms=0.0, job=job.pk, seed=options["seed"], progress="bar",
                      connections=options["connections"] or None)
        print(f"server: {server_kind}"
              + ("" if server_kind == "daphne" else f", {options['processes'] or os.cpu_count()} "
                 f"processes, database pool of {POOL_MAX} each"))
        with served(tasks="thread", server=server_kind, processes=options["processes"]) as server:
            cpu_before = cpu_seconds(server.pid)
            report = asyncio.run(simulate(
                url=server.url, options=sim, mix=mix_parse(DEFAULT_MIX),
                accounts=Accounts(credentials=credentials, owner_token=owner_token)))
            # Includes the final reads (earnings, one consensus run): a small share of the run.
            server_cpu = cpu_seconds(server.pid) - cpu_before
        print(report_text(report))
        stored, over, twice = _integrity(job)
    accepted = max(report["accepted_judgments"], 1)
    print(f"server processes' CPU: {server_cpu:.1f} s in {report['seconds']:.0f} s of wall time, "
          f"{server_cpu * 1000 / accepted:.0f} ms per judgment (next + submit); "
          f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"integrity: {stored:,} judgments stored for {report['accepted_judgments']:,} accepted; "
          f"{over} items over their overlap; {twice} (item, worker) pairs judged twice; "
          f"{report['errors_total']} errors")
