"""Collusion scans at scale: both scans (consensus/collusion.py) on a million judgments of 200
honest workers (one-coin, accuracy 0.7-0.95, 3 labels, 5 judgments per item; claims spread over
a week, lognormal think times), timed beside the consensus fit they follow. Every pair shares
about 100 items, so all 19,900 pairs are tested: every flag is a false one.

    python -m bench.collusion [--judgments N] [--workers W] [--seed S]

No Django and no database needed.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from marketplace.consensus import aggregate
from marketplace.consensus.collusion import agreement_scan, timing_scan
from marketplace.consensus.synthetic import good_worker, synthetic_crowd


def run(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.collusion")
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    confusions = np.stack([good_worker(a, 3) for a in rng.uniform(0.7, 0.95, args.workers)])
    votes = synthetic_crowd(confusions=confusions, n_items=args.judgments // 5, overlap=5, seed=args.seed).votes
    claimed = rng.uniform(0, 7 * 86400, len(votes))
    submitted = claimed + rng.lognormal(1.2, 0.5, len(votes))
    started = time.perf_counter()
    result = aggregate(votes)
    fit = time.perf_counter() - started
    started = time.perf_counter()
    agreement = agreement_scan(votes, result)
    agreement_s = time.perf_counter() - started
    started = time.perf_counter()
    timing = timing_scan(votes.items, votes.workers, claimed, submitted)
    timing_s = time.perf_counter() - started
    print(f"{len(votes):,} judgments, {args.workers} honest workers: fit {fit:.2f} s; "
          f"agreement scan {agreement_s:.2f} s ({agreement.pairs_tested:,} pairs tested, "
          f"{len(agreement.flagged)} flagged); timing scan {timing_s:.2f} s ({timing.pairs_tested:,} "
          f"tested, {len(timing.flagged)} flagged)")


if __name__ == "__main__":
    run(sys.argv[1:])
