"""Consensus at scale (`aggregate` against crowd-kit's own DawidSkene on a million judgments),
and consensus accuracy per method, redundancy and gold (the accuracy grid).

    python -m bench.consensus [--judgments N] [--no-timing]
        [--datasets] [--data DIR] [--repeats last|first|drop] [--synthetic [--crowds a,b]]
        [--methods mv,wawa,ds,quorum | all] [--repeat N] [--seed S] [--markdown]

With no flag it only times (as `python -m bench consensus` does). `--datasets` and `--synthetic`
add the accuracy grid after the timing; `--no-timing` skips the timing, so
`python -m bench.consensus --datasets --synthetic --no-timing` prints the grid alone. Flags add
rather than replace, so the plain command keeps meaning what it always meant.

Each contender runs in its own subprocess on the same seeded synthetic crowd (integer item and
worker ids, string labels, as the database hands them over):

- crowd-kit: `DawidSkene().fit_predict(frame)` with the DataFrame already built (not timed);
- ours: `Votes.from_labels(...)` (label encoding) + `aggregate(votes)` (method "quorum").

Time is wall-clock of one run; peak memory is the tracemalloc peak of a second, traced run
(allocations made during the call, numpy and pandas included), and ru_maxrss is the child's
whole-process peak for reference. No Django and no database needed.

The accuracy grid (bench/consensus_accuracy.py says exactly how each cell is computed): for
every data set folder under --data (default ../shared/datasets; repeated judgments resolved by
--repeats) with `--datasets`, and for the named synthetic crowds (consensus.synthetic.CROWDS,
crowd seed --seed; `--crowds` names some of them, default all) with `--synthetic`: accuracy at K = 2, 3, 5 judgments per item (a K at or
above the source's largest overlap is left out) and on the full data, without gold and with 10%
gold, for each method of --methods (default mv, wawa, ds, quorum; "all" adds every other method,
nan where one cannot fit a source),
over --repeat seeds starting at --seed: mean, standard deviation over seeds and standard error.
`--markdown` prints the grid as one Markdown table (for the README).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench import consensus_accuracy as grid
from marketplace.consensus import METHODS, REPEATS, Votes, aggregate, answers_file, load_dataset
from marketplace.consensus.datasets import Repeats
from marketplace.consensus.reference import crowdkit_ds_runner
from marketplace.consensus.synthetic import CROWDS, benchmark_crowd, named_crowd

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = PROJECT.parent / "shared" / "datasets"
CONTENDERS = {"crowd-kit": "DawidSkene().fit_predict(frame)", "ours": "from_labels + aggregate"}
MIB = 1024 * 1024


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.consensus")
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--no-timing", action="store_true", help="skip the 1M-judgment timing")
    parser.add_argument("--datasets", action="store_true", help="accuracy grid on --data")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of data sets")
    parser.add_argument("--synthetic", action="store_true", help="accuracy grid on the crowds")
    parser.add_argument("--crowds", type=_crowds, default=tuple(CROWDS), help="comma-separated (default all)")
    parser.add_argument(
        "--methods",
        type=_methods,
        default=grid.DEFAULT_METHODS,
        help="comma-separated, or all (default mv,wawa,ds,quorum)",
    )
    parser.add_argument("--repeat", type=_positive, default=5, help="seeds per cell (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument(
        "--repeats", choices=REPEATS, default="last", help="repeated judgments (default last)"
    )
    parser.add_argument("--markdown", action="store_true", help="the grid as a Markdown table")
    parser.add_argument("--child", choices=sorted(CONTENDERS), help=argparse.SUPPRESS)
    # parse_known_args: `python -m bench` hands every benchmark the same flags.
    return parser.parse_known_args(argv)[0]


def _measure(call: Callable[[], Any]) -> tuple[float, int, Any]:
    """(seconds of an untraced run, tracemalloc peak bytes of a traced run, last result)."""
    started = time.perf_counter()
    call()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return seconds, peak, result


def _child(name: str, n_judgments: int) -> dict[str, Any]:
    crowd = benchmark_crowd(n_judgments=n_judgments, seed=0)
    raw = crowd.votes
    # What the database gives: big integer ids and the label strings.
    items, workers = raw.items + 1_000_000, raw.workers + 50_000
    labels = np.asarray(raw.label_set, dtype=object)[raw.codes]
    figures: dict[str, Any] = {}
    if name == "crowd-kit":
        run = crowdkit_ds_runner(Votes.from_labels(items, workers, labels))
        seconds, peak, figures["rounds"] = _measure(run)
    else:

        def ours() -> Any:
            return aggregate(Votes.from_labels(items, workers, labels))

        seconds, peak, result = _measure(ours)
        figures["rounds"] = result.rounds
        figures["accuracy"] = float(np.mean(result.label_index == crowd.truth))
    figures.update(seconds=seconds, peak_mib=peak / MIB)
    figures["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def _spawn(name: str, n_judgments: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.consensus", "--child", name, "--judgments", str(n_judgments)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _timing(n_judgments: int) -> None:
    print(f"synthetic crowd: {n_judgments:,} judgments, 5 per item, ~100 per worker, 3 labels")
    figures = {name: _spawn(name, n_judgments) for name in CONTENDERS}
    print(f"{'contender':<11} {'what':<33} {'seconds':>8} {'peak MiB':>9} {'maxrss MiB':>11}")
    for name, what in CONTENDERS.items():
        f = figures[name]
        numbers = f"{f['seconds']:8.2f} {f['peak_mib']:9.1f} {f['maxrss_mib']:11.1f}"
        print(f"{name:<11} {what:<33} {numbers}")
    ck, ours = figures["crowd-kit"], figures["ours"]
    print(
        f"ratio ours/crowd-kit: time {ours['seconds'] / ck['seconds']:.2f}x (target <= 1.5x), "
        f"peak memory {ours['peak_mib'] / ck['peak_mib']:.2f}x (target <= 2x)"
    )
    print(
        f"rounds: crowd-kit {ck['rounds']} (its loss-based stop), quorum {ours['rounds']}; "
        f"quorum accuracy on the synthetic truth {ours['accuracy']:.4f}"
    )


def _positive(raw: str) -> int:
    if int(raw) < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return int(raw)


def _crowds(raw: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    unknown = [n for n in names if n not in CROWDS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown crowd(s) {unknown}; choose from {', '.join(CROWDS)}")
    return names


def _methods(raw: str) -> tuple[str, ...]:
    everything = grid.DEFAULT_METHODS + tuple(m for m in METHODS if m not in grid.DEFAULT_METHODS)
    names = everything if raw == "all" else tuple(n.strip() for n in raw.split(",") if n)
    unknown = [n for n in names if n not in METHODS]
    if unknown or not names:
        choices = ", ".join(METHODS)
        raise argparse.ArgumentTypeError(f"unknown method(s) {unknown}; choose from {choices}")
    return names


class _Table:
    """Prints the grid's header once, then each source's rows as soon as they are computed."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.methods: tuple[str, ...] = args.methods
        self.seeds = tuple(range(args.seed, args.seed + args.repeat))
        self.markdown: bool = args.markdown
        self.rows: list[grid.Row] = []
        print("\n" + grid.legend(self.seeds) + "\n")
        if self.markdown:
            print("\n".join(grid.markdown_header(self.methods)))
        else:
            print(grid.text_header(self.methods))

    def source(self, name: str, votes: Votes, truth: Any, description: str) -> None:
        started = time.perf_counter()
        rows = grid.source_rows(name, votes, truth, methods=self.methods, seeds=self.seeds)
        self.rows += rows
        if self.markdown:
            print("\n".join(grid.markdown_rows(rows, self.methods, description)), flush=True)
            return
        print(f"{name}: {description}; {time.perf_counter() - started:.1f} s")
        print("\n".join(grid.text_rows(rows, self.methods)), flush=True)

    def close(self, started: float) -> None:
        print(f"\n{grid.default_summary(self.rows)}; {time.perf_counter() - started:.1f} s in all")


def _datasets(table: _Table, folder: Path, repeats: Repeats) -> None:
    names = [d.name for d in sorted(folder.iterdir()) if answers_file(d).exists()]
    if not names:
        print(f"no data sets under {folder}; skipping them")
    for name in names:
        # A folder that cannot be scored is named with the reason; the others still run.
        try:
            data = load_dataset(folder / name, repeats=repeats)
        except (OSError, ValueError, UnicodeDecodeError) as exc:  # pandas' parse errors are ValueErrors
            print(f"{name}: skipped, cannot read it: {exc}", flush=True)
            continue
        judged = np.unique(data.votes.items)
        if not set(judged.tolist()) & set(data.truth):
            print(f"{name}: skipped, no judged item has a truth ({len(data.votes):,} judgments, "
                  f"{data.blank_rows_dropped:,} rows with a blank cell)", flush=True)
            continue
        items, workers = len(judged), len(np.unique(data.votes.workers))
        repeated = (
            f", {data.repeated_rows_dropped:,} repeated rows dropped ({repeats})"
            if data.repeated_rows_dropped
            else ""
        )
        if data.blank_rows_dropped:
            repeated += f", {data.blank_rows_dropped:,} rows with a blank cell dropped"
        description = (
            f"{items:,} items, {workers:,} workers, {len(data.votes):,} judgments{repeated}"
        )
        table.source(name, data.votes, data.truth, description)


def _synthetic(table: _Table, seed: int, names: tuple[str, ...]) -> None:
    for name in names:
        crowd = named_crowd(name, seed=seed)
        votes = crowd.votes
        description = (
            f"synthetic, {len(crowd.truth):,} items, {len(np.unique(votes.workers)):,} workers, "
            f"{len(votes.label_set)} labels, {len(votes):,} judgments"
        )
        table.source(name, votes, crowd.truth_map(), description)


def run(argv: list[str]) -> None:
    args = _parse(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.judgments)))
        return
    if not args.no_timing:
        _timing(args.judgments)
    if not (args.datasets or args.synthetic):
        return
    started = time.perf_counter()
    table = _Table(args)
    if args.datasets:
        _datasets(table, args.data, args.repeats)
    if args.synthetic:
        _synthetic(table, args.seed, args.crowds)
    table.close(started)


if __name__ == "__main__":
    run(sys.argv[1:])
