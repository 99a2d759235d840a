"""python -m bench export [--judgments=N]: stream a job's accepted judgments, 1M by default.

In a throwaway database (bench._db) a job gets the synthetic crowd of bench/consensus.py
(1,000,000 judgments on 200,000 items with external ids, 10,000 workers), inserted by COPY as
bench/consensus_run.py does, then ANALYZE of the filled tables (bench._db; not timed). Then:

- in process: `judgments_export(job=..., fmt=...)` consumed to the end, for CSV and JSONL
  (task,worker,label: external id, per-job worker pseudonym, label), keyset batches of 2,000;
- over HTTP: GET /api/v1/jobs/<id>/judgments/export/ (CSV) from daphne in a subprocess, read
  as a stream by the job owner with a bearer token, bytes counted as they arrive.

Printed: seconds, rows/s and MB for each, and this process's peak resident memory (constant
memory is the point of streaming: it must not grow with the job).
"""

from __future__ import annotations

import logging
import resource
import time

import httpx
import numpy as np

from bench._options import int_options
from bench._db import analyze_filled, bench_database
from bench._server import served
from marketplace.accounts.models import Organization, Role, User
from marketplace.accounts.services import token_create
from marketplace.consensus.synthetic import benchmark_crowd
from marketplace.jobs.exporting import judgments_export
from marketplace.jobs.models import Item, Job
from marketplace.jobs.services import ItemRow, item_bulk_create
from marketplace.quality.replaying import judgments_bulk_create, workers_bulk_create


def _judgments(argv: list[str]) -> int:
    return int_options(argv, {"judgments": 1_000_000})["judgments"]


def _job(n: int) -> tuple[Job, User]:
    votes = benchmark_crowd(n_judgments=n, seed=0).votes
    org = Organization.objects.create(name="Bench", slug="bench-export")
    client = User.objects.create(username="bench-client", role=Role.CLIENT, organization=org)
    labels = [{"key": key, "name": key, "shortcut": ""} for key in votes.label_set]
    job = Job.objects.create(organization=org, title="Bench export", labels=labels)
    n_items = int(votes.items.max()) + 1
    item_bulk_create(job=job, rows=[ItemRow(data={"n": i}, external_id=f"item-{i}") for i in range(n_items)],
                     gold=False)
    item_ids = np.fromiter(Item.objects.filter(job=job).order_by("id").values_list("id", flat=True),
                           np.int64, n_items)
    worker_ids = workers_bulk_create(job=job, count=int(votes.workers.max()) + 1)
    judgments_bulk_create(
        job=job, item_ids=item_ids[votes.items], worker_ids=worker_ids[votes.workers], codes=votes.codes,
        gold_codes=np.full(len(votes), -1, dtype=np.int64), keys=list(votes.label_set),
    )
    # Statistics as autovacuum would leave them. Right after a bulk COPY the planner believes the
    # job has a handful of judgments and sorts all remaining rows for every 2,000-row batch
    # (1.5 s a batch at 500k rows: quadratic); with statistics it walks judgment_job_id in order.
    analyze_filled()
    return job, client


def _in_process(job: Job, fmt: str) -> tuple[float, int, int]:
    started = time.perf_counter()
    size = lines = 0
    for chunk in judgments_export(job=job, fmt=fmt):
        size += len(chunk)
        lines += chunk.count(b"\n")
    return time.perf_counter() - started, size, lines


def _over_http(url: str, job: Job, token: str) -> tuple[float, int, int, float]:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # no INFO line per request
    """(seconds, bytes, lines, seconds to the first byte)."""
    started = time.perf_counter()
    first = 0.0
    size = lines = 0
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.stream("GET", f"{url}/api/v1/jobs/{job.pk}/judgments/export/", params={"format": "csv"},
                      headers=headers, timeout=600) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            if not size:
                first = time.perf_counter() - started
            size += len(chunk)
            lines += chunk.count(b"\n")
    return time.perf_counter() - started, size, lines, first


def run(argv: list[str]) -> None:
    n = _judgments(argv)
    with bench_database() as vendor:
        started = time.perf_counter()
        job, client = _job(n)
        print(f"inserted {n:,} judgments on {vendor} in {time.perf_counter() - started:.1f} s (not timed below)")
        print(f"{'export':<34}{'seconds':>9}{'rows/s':>12}{'MB':>8}")
        for fmt in ("csv", "jsonl"):
            seconds, size, lines = _in_process(job, fmt)
            rows = lines - (1 if fmt == "csv" else 0)  # the CSV header
            assert rows == n, (rows, n)
            print(f"{'in process, ' + fmt:<34}{seconds:9.2f}{rows / seconds:12,.0f}{size / 1e6:8.1f}")
        _, token = token_create(user=client, name="bench")
        with served() as server:
            seconds, size, lines, first = _over_http(server.url, job, token)
        rows = lines - 1
        assert rows == n, (rows, n)
        print(f"{'HTTP (daphne), csv':<34}{seconds:9.2f}{rows / seconds:12,.0f}{size / 1e6:8.1f}"
              f"   first byte after {first * 1000:.0f} ms")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak_mb:,.0f} MB (the data set is built in it too)")
