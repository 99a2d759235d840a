"""python -m bench versus-label-studio: Quorum's serving rate as a ratio of Label Studio's, measured
side by side in one run (issue 12: at least 10x).

For each round and each worker count, Label Studio's load (bench.label_studio_load, against the
server LABEL_STUDIO_URL names) runs first, then Quorum's (bench.http_load's job and accounts in a
fresh throwaway database, its production server started through bench._server), each worker
asking for the next item then submitting at once, one HTTP connection per worker on both sides.
Interleaving puts both systems through the same noise on a shared machine. Printed: one row per
run (judgments/s, submit p50/p99, server CPU per judgment) and, per worker count, the ratio of
Quorum's rate to Label Studio's over all rounds.

Quorum's final server reads (earnings, a consensus run) are skipped: they are not part of the
serving loop Label Studio is measured on.

Options: --workers=1,8 --seconds=30 --rounds=2 --tasks=2000 (Label Studio tasks per run)
--items=6000 (Quorum items per run) --overlap=3 --server=production|uvicorn|daphne --processes=0.
Label Studio never runs in the test suite; without it this command says how to start it and
exits with status 2."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bench import http_load
from bench._db import bench_database
from bench._server import SERVERS
from bench.label_studio_load import (
    LoadResult,
    label_studio_load,
    result_text,
    target_or_exit,
)
from marketplace.demo.simulator.client import Options

LABEL_STUDIO, QUORUM = "Label Studio", "Quorum"


@dataclass(frozen=True)
class VersusOptions:
    workers: tuple[int, ...] = (1, 8)
    seconds: int = 30
    rounds: int = 2
    tasks: int = 2000
    items: int = 6000
    overlap: int = 3
    server: str = "production"
    processes: int = 0


def versus_options(argv: list[str]) -> VersusOptions:
    """Parse --name=value options; a bad value is an error, not silently the default."""
    values: dict[str, object] = {}
    numbers = {"seconds", "rounds", "tasks", "items", "overlap", "processes"}
    for arg in argv:
        name, _, value = arg.lstrip("-").partition("=")
        if name == "workers":
            counts = tuple(int(v) for v in value.split(",") if v.strip().isdigit())
            if not counts or len(counts) != len(value.split(",")) or min(counts) < 1:
                raise SystemExit(f"--workers wants positive counts like 1,8; got {value!r}")
            values["workers"] = counts
        elif name in numbers:
            if not value.isdigit():
                raise SystemExit(f"--{name} wants a whole number; got {value!r}")
            values[name] = int(value)
        elif name == "server":
            if value not in SERVERS:
                raise SystemExit(f"--server must be one of {', '.join(SERVERS)}; got {value!r}")
            values["server"] = value
        else:
            known = ", ".join(f"--{n}" for n in ["workers", *sorted(numbers), "server"])
            raise SystemExit(f"unknown option {arg!r}; this benchmark takes {known} "
                             "(python -m bench versus --help says what each does)")
    return VersusOptions(**values)  # type: ignore[arg-type]


def quorum_load(*, workers: int, seconds: int, items: int, overlap: int, server: str,
                processes: int) -> LoadResult:
    """http-load's run at `workers` workers, one connection each, returned rather than printed."""
    with bench_database() as vendor:
        if vendor != "postgresql":
            raise SystemExit("versus-label-studio needs PostgreSQL for Quorum too; set DATABASE_URL")
        job, owner_token, credentials = http_load._setup(workers=workers, items=items, overlap=overlap)
        sim = Options(workers=workers, duration=float(seconds), think_ms=0.0, job=job.pk, seed=0,
                      progress="none", connections=workers)
        # No closing reads: Label Studio's loop has nothing like them.
        report, cpu = http_load.crowd_run(sim, owner_token=owner_token, credentials=credentials,
                                          server_kind=server, processes=processes, final_reads=False)
    # The simulator's report keeps percentiles, not samples.
    result = LoadResult(system=QUORUM, workers=workers, judgments=report["accepted_judgments"],
                        seconds=float(report["seconds"]), cpu_seconds=cpu.server,
                        quantiles={name: {q: row[f"p{q}"] for q in (50, 95, 99)}
                                   for name, row in report["latency_ms"].items()})
    result.errors.update(report["errors"])
    return result


def ratios(results: list[LoadResult]) -> dict[int, float | None]:
    """Per worker count: Quorum's judgments/s over Label Studio's, each summed over its rounds
    (total judgments / total seconds), None when a side has no judgments."""
    out: dict[int, float | None] = {}
    for workers in sorted({r.workers for r in results}):
        rate = {}
        for system in (LABEL_STUDIO, QUORUM):
            runs = [r for r in results if r.workers == workers and r.system == system]
            seconds = sum(r.seconds for r in runs)
            rate[system] = sum(r.judgments for r in runs) / seconds if seconds else 0.0
        out[workers] = rate[QUORUM] / rate[LABEL_STUDIO] if rate[LABEL_STUDIO] else None
    return out


def table_text(results: list[LoadResult]) -> str:
    header = (f"{'system':<14}{'workers':>8}{'judgments/s':>13}{'submit p50':>12}{'submit p99':>12}"
              f"{'CPU ms/judgment':>17}{'errors':>8}")
    lines = [header, "-" * len(header)]
    for r in results:
        cpu = r.cpu_ms_per_judgment
        lines.append(f"{r.system:<14}{r.workers:>8}{r.rate:>13.1f}{r.latency_ms('submit', 50):>12.1f}"
                     f"{r.latency_ms('submit', 99):>12.1f}{'n/a' if cpu is None else f'{cpu:.1f}':>17}"
                     f"{sum(r.errors.values()):>8}")
    for workers, ratio in ratios(results).items():
        shown = "n/a (Label Studio made no judgments)" if ratio is None else f"{ratio:.1f}x"
        lines.append(f"ratio Quorum/Label Studio at {workers} workers: {shown}")
    return "\n".join(lines)


def run(argv: list[str]) -> None:
    options = versus_options(argv)
    target = target_or_exit()
    print(f"Label Studio at {target.url} (server pid {target.pid or 'unknown: no CPU figure'}); "
          f"Quorum: {options.server} server; workers {options.workers}, {options.seconds} s a run, "
          f"{options.rounds} round(s)")
    results: list[LoadResult] = []
    for round_number in range(1, options.rounds + 1):
        for workers in options.workers:
            print(f"\n# round {round_number}, {workers} workers "
                  f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
            ls = label_studio_load(target, workers=workers, seconds=options.seconds,
                                   tasks=options.tasks, overlap=options.overlap, seed=round_number)
            print(result_text(ls))
            quorum = quorum_load(workers=workers, seconds=options.seconds, items=options.items,
                                 overlap=options.overlap, server=options.server,
                                 processes=options.processes)
            print(result_text(quorum))
            results += [ls, quorum]
    print("\n" + table_text(results))
    print(f"load average at the end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])} "
          f"on {os.cpu_count()} CPUs (a shared machine's figures are noisy)")
