"""A consensus run end to end on 1M judgments in the database, beside crowd-kit alone.

    python -m bench consensus-run [--judgments N]

In a throwaway database (bench._db) a job gets the synthetic crowd of bench/consensus.py
(1,000,000 judgments, 200,000 items, 10,000 workers, 3 labels), inserted by COPY. Then, in the
same process and on the same data:

- ours: `consensus_run(job=...)`: read (COPY binary -> numpy), fit ("quorum"), write 200k item
  results and 10k worker results (COPY), the run row included;
- crowd-kit: `DawidSkene().fit_predict(frame)` with the DataFrame (database ids, label strings)
  already built; building it is not timed.

Time: wall clock of one run each. Memory: tracemalloc peak of a second, traced run of each
(Python-side allocations, numpy and pandas included; the PostgreSQL server's memory is not).
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from bench._options import int_options
from bench._db import bench_database
from marketplace.accounts.models import Organization
from marketplace.consensus.reference import crowdkit_ds_runner
from marketplace.consensus.synthetic import benchmark_crowd
from marketplace.consensus.types import Votes
from marketplace.jobs.models import Item, Job
from marketplace.jobs.services import ItemRow, item_bulk_create
from marketplace.quality.replaying import judgments_bulk_create, workers_bulk_create
from marketplace.quality.runs import consensus_run

MIB = 1024 * 1024


def _judgments(argv: list[str]) -> int:
    return int_options(argv, {"judgments": 1_000_000})["judgments"]


def _measure(call: Callable[[], Any]) -> tuple[float, float, Any]:
    """(seconds of an untraced run, tracemalloc peak MiB of a second, traced run, the untraced
    run's result)."""
    gc.collect()
    started = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - started
    gc.collect()
    tracemalloc.start()
    try:
        call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return seconds, peak / MIB, result


def _job_with(votes: Votes) -> tuple[Job, Votes]:
    """A job holding the crowd's judgments; returns it and the votes as the database has them."""
    org = Organization.objects.create(name="Bench", slug="bench-consensus")
    labels = [{"key": key, "name": key, "shortcut": ""} for key in votes.label_set]
    job = Job.objects.create(organization=org, title="Bench consensus", labels=labels)
    n_items = int(votes.items.max()) + 1
    started = time.perf_counter()
    item_bulk_create(job=job, rows=[ItemRow(data={"n": n}) for n in range(n_items)], gold=False)
    item_ids = np.fromiter(
        Item.objects.filter(job=job).order_by("id").values_list("id", flat=True), np.int64, n_items
    )
    worker_ids = workers_bulk_create(job=job, count=int(votes.workers.max()) + 1)
    print(f"  items and workers: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    stored = Votes(
        items=item_ids[votes.items],
        workers=worker_ids[votes.workers],
        codes=votes.codes,
        label_set=votes.label_set,
    )
    judgments_bulk_create(
        job=job,
        item_ids=stored.items,
        worker_ids=stored.workers,
        codes=votes.codes,
        gold_codes=np.full(len(votes), -1, dtype=np.int64),
        keys=list(votes.label_set),
    )
    print(f"  judgments (COPY, then per-item counts): {time.perf_counter() - started:.1f} s")
    return job, stored


def run(argv: list[str]) -> None:
    n = _judgments(argv)
    crowd = benchmark_crowd(n_judgments=n, seed=0)
    with bench_database() as vendor:
        started = time.perf_counter()
        job, stored = _job_with(crowd.votes)
        print(
            f"inserted {n:,} judgments ({len(np.unique(stored.items)):,} items, "
            f"{len(np.unique(stored.workers)):,} workers) on {vendor} in {time.perf_counter() - started:.1f} s"
        )
        ours_s, ours_peak, last = _measure(lambda: consensus_run(job=job))
        timings = last.parameters.get("timings", {})
        crowdkit = crowdkit_ds_runner(stored)  # builds the DataFrame now, untimed
        crowdkit()  # warm-up: imports scipy and crowd-kit's lazy pieces outside the timing
        ck_s, ck_peak, ck_rounds = _measure(crowdkit)
    print(f"{'contender':<10} {'what':<44} {'seconds':>8} {'peak MiB':>9}")
    print(
        f"{'ours':<10} {'consensus_run: read + fit + write (quorum)':<44} {ours_s:8.2f} {ours_peak:9.1f}"
    )
    print(f"{'crowd-kit':<10} {'DawidSkene().fit_predict(frame)':<44} {ck_s:8.2f} {ck_peak:9.1f}")
    print(
        f"ours: read {timings.get('read', 0):.2f} s, fit {timings.get('fit', 0):.2f} s "
        f"({last.rounds} rounds, converged {last.converged}), write {timings.get('write', 0):.2f} s "
        f"({last.items:,} item and {last.workers:,} worker results); crowd-kit {ck_rounds} rounds"
    )
    print(
        f"ratio ours/crowd-kit: time {ours_s / ck_s:.2f}x (target <= 1.5x), "
        f"peak memory {ours_peak / ck_peak:.2f}x (target <= 2x); memory = tracemalloc peak of a traced run"
    )
