"""What a consensus fit costs, known before it runs, so a run that would hold a consensus worker
for hours (or ask for more memory than the machine has) is refused with the reason instead.

Seconds are judgments x labels x rounds x a per-method rate, measured here on 2026-12-06 with
`tol=0` (every round run) and rounded up to the worst of 3 and 30 labels; most fits converge well
before `max_rounds`, so this is an upper bound. crowd-kit's methods are pandas loops and erratic:
OneCoinDawidSkene took 8.6 µs per judgment-label-round with 30 labels and 0.36 with 3, GLAD the
other way round (1.3 and 7.3 µs); Quorum's own EM 5-60 ns (BENCHMARKS.md, "consensus").

crowd-kit's MMSR is bounded by its workers instead: it builds a workers x items matrix and, from the
pairs of workers that agree, a square matrix of up to (workers² / 2)² cells: 500 workers asked
numpy for 39 GiB.
"""

from __future__ import annotations

from dataclasses import dataclass

# ns per judgment x label x round, worst measured (rounded up).
_NS_PER_UNIT: dict[str, float] = {
    "quorum": 60.0,  # it fits several models on held-out folds before the chosen one
    "quorum-ds": 20.0,
    "quorum-onecoin": 15.0,
    "ds": 400.0,
    "ocds": 9_000.0,
    "glad": 7_500.0,
    "zbs": 200.0,
    "kos": 400.0,
    "mace": 150.0,
    "mv": 150.0,
    "wawa": 400.0,
    "gmv": 400.0,
    "mmsr": 400.0,
}
_SINGLE_PASS = {"mv", "wawa", "gmv", "mmsr"}
MACE_RESTARTS, MACE_MAX_ITERATIONS = 10, 50  # methods.py runs MACE with crowd-kit's 10 restarts
MMSR_MAX_WORKERS = 100  # (100² / 2)² cells: ~200 MB at most for its largest matrix
MMSR_MAX_CELLS = 25_000_000  # workers x items of its observation matrix: 200 MB of float64


@dataclass(frozen=True)
class FitCost:
    seconds: float  # an upper bound: every round run
    refused: str = ""  # why the fit cannot run at all, whatever the time allowed ("" if it can)


def fit_cost(method: str, *, judgments: int, labels: int, workers: int, items: int, max_rounds: int) -> FitCost:
    """The upper bound on a fit's seconds, and a reason if its memory rules it out."""
    if method == "mace":
        rounds = MACE_RESTARTS * min(max_rounds, MACE_MAX_ITERATIONS)
    elif method in _SINGLE_PASS:
        rounds = 1
    else:
        rounds = max(max_rounds, 1)
    seconds = _NS_PER_UNIT.get(method, max(_NS_PER_UNIT.values())) * 1e-9 * judgments * max(labels, 1) * rounds
    refused = ""
    if method == "mmsr" and (workers > MMSR_MAX_WORKERS or workers * items > MMSR_MAX_CELLS):
        refused = (
            f"crowd-kit MMSR's memory grows with the square of the pairs of workers: it takes jobs of "
            f"at most {MMSR_MAX_WORKERS} workers and {MMSR_MAX_CELLS:,} worker x item cells; this "
            f"one has {workers:,} workers and {items:,} items"
        )
    return FitCost(seconds=seconds, refused=refused)
