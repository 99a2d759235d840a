"""The gold rule on a multi-label job, scored by balanced accuracy over label decisions (what the
rule reads), by the plain share of right label decisions and all-or-nothing: the share of
simulated workers each scoring blocks (a Monte Carlo of the rule as the submit applies it,
scoring.below_floor checked after every gold answer from the job's min_gold_answers on).

Gold sets: each of `--labels` labels applies with `--prevalence`, independently; a worker ticks a
label that applies with their sensitivity and one that does not with 1 − specificity.

    python -m bench.multi_label_gold [--labels 6] [--answers 50] [--runs 2000] [--seed 0]

No Django and no database needed.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from marketplace.quality.scoring import balanced_below_floor, below_floor

WORKERS = [("good, 0.95 per label", 0.95, 0.95), ("good, 0.90 per label", 0.90, 0.90),
           ("fair, 0.80 per label", 0.80, 0.80), ("ticks at random", 0.5, 0.5),
           ("ticks nothing", 0.0, 1.0), ("ticks everything", 1.0, 0.0)]


def blocked_share(rng: np.random.Generator, *, sensitivity: float, specificity: float, scoring: str,
                  labels: int, prevalence: float, answers: int, runs: int, min_seen: int, floor: float) -> float:
    blocked = 0
    for _ in range(runs):
        truth = rng.random((answers, labels)) < prevalence
        ticks = np.where(truth, rng.random(truth.shape) < sensitivity, rng.random(truth.shape) >= specificity)
        right = ticks == truth
        checks = range(min_seen - 1, answers)
        if scoring == "balanced":  # the rule: right decisions on gold's ticked labels and on the rest
            correct, seen = np.cumsum(right.sum(axis=1)), np.arange(1, answers + 1) * labels
            pos_right, pos_seen = np.cumsum((right & truth).sum(axis=1)), np.cumsum(truth.sum(axis=1))
            blocked += any(balanced_below_floor(right=int(correct[i]), seen=int(seen[i]), pos_right=int(pos_right[i]),
                                                pos_seen=int(pos_seen[i]), floor=floor) for i in checks)
            continue
        if scoring == "exact":  # one decision per answer: every label right
            correct, seen = np.cumsum(right.all(axis=1)), np.arange(1, answers + 1)
        else:  # one decision per label, the plain share
            correct, seen = np.cumsum(right.sum(axis=1)), np.arange(1, answers + 1) * labels
        blocked += any(below_floor(correct=int(correct[i]), seen=int(seen[i]), min_seen=0, floor=floor)
                       for i in checks)
    return blocked / runs


def run(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.multi_label_gold")
    parser.add_argument("--labels", type=int, default=6)
    parser.add_argument("--prevalence", type=float, default=0.3)
    parser.add_argument("--answers", type=int, default=50)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--min-gold-answers", type=int, default=18)  # the standard tier's rule
    parser.add_argument("--floor", type=float, default=0.60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    shape = dict(labels=args.labels, prevalence=args.prevalence, answers=args.answers, runs=args.runs,
                 min_seen=args.min_gold_answers, floor=args.floor)
    print(f"{args.labels} labels at {args.prevalence:.0%}, {args.answers} gold answers, blocked when the smoothed "
          f"accuracy is under {args.floor} from answer {args.min_gold_answers} on; {args.runs} workers each")
    print(f"{'worker':24s} {'all-or-nothing':>15s} {'per label':>10s} {'balanced':>10s}")
    for name, sensitivity, specificity in WORKERS:
        shares = [blocked_share(rng, sensitivity=sensitivity, specificity=specificity, scoring=scoring, **shape)
                  for scoring in ("exact", "per_label", "balanced")]
        print(f"{name:24s} {shares[0]:15.3f} {shares[1]:10.3f} {shares[2]:10.3f}")


if __name__ == "__main__":
    run(sys.argv[1:])
