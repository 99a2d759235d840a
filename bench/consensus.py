"""Consensus at scale: `aggregate` against crowd-kit's own DawidSkene on a million judgments.

    python -m bench.consensus [--judgments N] [--datasets] [--data DIR]

Each contender runs in its own subprocess on the same seeded synthetic crowd (integer item and
worker ids, string labels, as the database hands them over):

- crowd-kit: `DawidSkene().fit_predict(frame)` with the DataFrame already built (not timed);
- ours: `Votes.from_labels(...)` (label encoding) + `aggregate(votes)` (method "quorum").

Time is wall-clock of one run; peak memory is the tracemalloc peak of a second, traced run
(allocations made during the call, numpy and pandas included), and ru_maxrss is the child's
whole-process peak for reference. `--datasets` also prints the accuracy table on the public
data sets beside the project (../shared/datasets). No Django and no database needed.
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

from marketplace.consensus import Votes, accuracy, aggregate, load_dataset, split_gold
from marketplace.consensus.reference import crowdkit_ds_labels, crowdkit_ds_runner
from marketplace.consensus.synthetic import benchmark_crowd

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = PROJECT.parent / "shared" / "datasets"
CONTENDERS = {"crowd-kit": "DawidSkene().fit_predict(frame)", "ours": "from_labels + aggregate"}
MIB = 1024 * 1024


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.consensus")
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--datasets", action="store_true", help="also print the accuracy table")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
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


def _accuracy_table(folder: Path) -> None:
    names = [d.name for d in sorted(folder.iterdir()) if (d / "answers.csv").exists()]
    if not names:
        print(f"no data sets under {folder}; skipping the accuracy table")
        return
    print("\naccuracy on truth (with gold: seeded 10% of truth as gold, scored on the other 90%)")
    print(f"{'data set':<10} {'gold':<5} {'crowd-kit':>9} {'ds':>7} {'mv':>7} {'quorum':>7}")
    for name in names:
        data = load_dataset(folder / name)
        gold, rest = split_gold(data.truth, share=0.1, seed=0)
        for label, given, scored in (("none", None, data.truth), ("10%", gold, rest)):
            direct = crowdkit_ds_labels(data.votes, gold=given)
            hits = [direct[item] == truth for item, truth in scored.items() if item in direct]
            row = [float(np.mean(hits))] + [
                accuracy(aggregate(data.votes, method=m, gold=given), scored)
                for m in ("ds", "mv", "quorum")
            ]
            print(f"{name:<10} {label:<5} " + " ".join(f"{x:>7.4f}" for x in row).rjust(34))


def run(argv: list[str]) -> None:
    args = _parse(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.judgments)))
        return
    _timing(args.judgments)
    if args.datasets:
        _accuracy_table(args.data)


if __name__ == "__main__":
    run(sys.argv[1:])
