"""python -m bench import [--items=N] [--format=csv,jsonl,json]: how fast a bulk import and a
results export run.

Imports N items (100,000 by default) into a fresh job through `items_import`, once per format:
an in-memory CSV, JSONL, and a JSON array on one line (what json.dumps writes; a quadratic
line count once made 20,000 such records take 92 s), timing the parse and the insert apart;
then streams the last job's results as CSV. Runs in a throwaway database (bench._db). The
target: 100k items well under 10 s on PostgreSQL, in every format.
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable
from typing import TypeVar

from bench._options import int_options
from bench._db import bench_database
from marketplace.accounts.models import Organization
from marketplace.jobs.exporting import results_export
from marketplace.jobs.importing import items_import, rows_parse
from marketplace.jobs.models import Job

T = TypeVar("T")
LABELS = [{"key": key, "name": key.title()} for key in ("cat", "dog", "bird")]


def _timed(action: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def _csv_payload(count: int) -> bytes:
    lines = ["external_id,text,image_url,priority\n"]
    lines += [f"item-{n},Picture {n},https://img.example.com/{n}.jpg,{n % 3}\n"
              for n in range(count)]
    return "".join(lines).encode()


def _jsonl_payload(count: int) -> bytes:
    records = (
        {"external_id": f"item-{n}", "data": {"text": f"Picture {n}", "tags": ["a", "b"]}}
        for n in range(count)
    )
    return "".join(json.dumps(record) + "\n" for record in records).encode()


def _json_payload(count: int) -> bytes:
    """The JSONL records as one array on one line, as json.dumps, JSON.stringify and pandas write."""
    return b"[" + _jsonl_payload(count).rstrip(b"\n").replace(b"\n", b", ") + b"]"


PAYLOADS: dict[str, Callable[[int], bytes]] = {"csv": _csv_payload, "jsonl": _jsonl_payload, "json": _json_payload}


def _items(argv: list[str]) -> int:
    return int_options(argv, {"items": 100_000}, parsed_elsewhere=("format",))["items"]


def _formats(argv: list[str]) -> list[str]:
    given = [arg.partition("=")[2] for arg in argv if arg.startswith("--format=")]
    formats = (given[-1] if given else ",".join(PAYLOADS)).split(",")
    unknown = [f for f in formats if f not in PAYLOADS]
    if unknown:
        raise SystemExit(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(PAYLOADS)}")
    return formats


def run(argv: list[str]) -> None:
    count = _items(argv)
    with bench_database() as vendor:
        org = Organization.objects.create(name="Bench", slug="bench")
        print(f"importing {count:,} items into a fresh job on {vendor}")
        job = None
        for fmt in _formats(argv):
            payload = PAYLOADS[fmt](count)
            job = Job.objects.create(organization=org, title=f"Bench {fmt}", labels=LABELS)
            keys = job.label_keys
            _, parse_s = _timed(
                lambda: rows_parse(payload=payload, fmt=fmt, gold=False, label_keys=keys)
            )
            imported, total_s = _timed(
                lambda: items_import(job=job, payload=payload, fmt=fmt, gold=False)
            )
            job.refresh_from_db()
            assert imported == count == job.item_count, (imported, job.item_count)
            print(
                f"  {fmt:<5} {len(payload) / 1e6:6.1f} MB: {total_s:6.2f} s"
                f"  ({count / total_s:,.0f} items/s; parse alone {parse_s:.2f} s)"
            )
        assert job is not None
        exported = 0

        def export() -> None:
            nonlocal exported
            for chunk in results_export(job=job, fmt="csv"):
                exported += len(chunk)

        _, export_s = _timed(export)
        print(
            f"  results export (csv, streamed) {exported / 1e6:.1f} MB: {export_s:.2f} s"
            f"  ({count / export_s:,.0f} items/s)"
        )
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  peak resident memory of this process: {peak_mb:,.0f} MB")
