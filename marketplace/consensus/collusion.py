"""Collusion: pairs of workers who agree, or submit in step, far more often than chance.

PURE (numpy only). Two scans over the pairs of workers that share enough items of one job:

- **Agreement** (`agreement_scan`). Workers who answer independently given the truth agree on
  item i with probability e_i = sum_t q_i(t) * sum_k A[t, k] * B[t, k], where A and B are their
  confusion matrices from the consensus run (fit with gold) and q_i the item's posterior with the
  pair's own two votes divided out (their agreement must not vouch for itself). Gold items are
  left out: gold accuracy already judges them, and copying is what we look for elsewhere.
- **Timing** (`timing_scan`). Two submissions of a shared item are "in step" when they are
  within `window` seconds of each other. By chance that happens with probability p_i: the
  other worker's think time (submit minus claim) on the item, drawn from their own think times
  on every item, lands within the window; honest workers served the same item at once do
  submit close together, and this null expects exactly that much.

Both scans test, per pair, whether the count X of agreements (in-step submissions) over n
shared items exceeds its expectation by more than `tolerance` per item: the p-value is the
Chernoff bound P(X >= x) <= exp(-n KL(x/n || mu/n + tolerance)), an upper bound for any sum of
independent Bernoullis with that mean (so the test is conservative, and needs no scipy). A
pair is flagged when its p-value times the number of pairs tested (Bonferroni) is below
`alpha`. `tolerance` absorbs the error of estimated confusion matrices: without it, enough
shared items make any small misfit "significant". Groups are connected components of flagged
pairs (`collusion_groups`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from marketplace.consensus.types import ConsensusResult, FloatArray, IdArray, IntArray, Votes

DEFAULT_MIN_SHARED = 20  # fewer shared items than this: not enough evidence to test a pair
DEFAULT_ALPHA = 0.01  # family-wise error rate over the pairs of one job (Bonferroni)
DEFAULT_AGREEMENT_TOLERANCE = 0.10  # agreement must beat its expectation by more than this
DEFAULT_TIMING_WINDOW = 2.0  # seconds between two submissions of one item that count as "in step"
DEFAULT_TIMING_TOLERANCE = 0.05
_FLOOR = 1e-12
_CHUNK_CELLS = 2_000_000  # bound on entries x labels^2 held at once (and on pairs x labels^2)


@dataclass(frozen=True)
class PairTest:
    """One pair's evidence; worker_a < worker_b. `observed` and `expected` are counts over
    `shared` items (agreements, or in-step submissions)."""

    worker_a: Hashable
    worker_b: Hashable
    shared: int
    observed: int
    expected: float
    p_value: float  # Chernoff upper bound, before the correction
    adjusted: float  # p_value x pairs tested, capped at 1

    @property
    def observed_rate(self) -> float:
        return self.observed / self.shared if self.shared else 0.0

    @property
    def expected_rate(self) -> float:
        return self.expected / self.shared if self.shared else 0.0


@dataclass(frozen=True)
class Scan:
    """The pairs flagged by one scan, most significant first, and how many pairs were tested;
    `pair(a, b)` gives any tested pair's figures (arrays are kept, not one object per pair)."""

    pairs_tested: int
    flagged: list[PairTest]
    workers: IdArray = field(default_factory=lambda: np.empty(0, np.int64), repr=False)
    tested: dict[str, npt.NDArray[Any]] = field(default_factory=dict, repr=False)

    def pair(self, a: Hashable, b: Hashable) -> PairTest | None:
        """The figures of the tested pair (a, b) in either order; None if it was not tested."""
        if not self.tested:
            return None
        ia, ib = (int(np.searchsorted(self.workers, w)) for w in (a, b))
        if ia >= len(self.workers) or ib >= len(self.workers) or self.workers[ia] != a or self.workers[ib] != b:
            return None
        code = min(ia, ib) * len(self.workers) + max(ia, ib)
        at = int(np.searchsorted(self.tested["code"], code))
        if at >= len(self.tested["code"]) or self.tested["code"][at] != code:
            return None
        return _pair_test(self.workers, self.tested, at)


def _pair_test(workers: IdArray, t: dict[str, npt.NDArray[Any]], h: int) -> PairTest:
    n = len(workers)
    return PairTest(
        worker_a=workers[t["code"][h] // n].item(), worker_b=workers[t["code"][h] % n].item(),
        shared=int(t["shared"][h]), observed=int(round(t["observed"][h])), expected=float(t["expected"][h]),
        p_value=float(t["p"][h]), adjusted=float(t["adjusted"][h]),
    )


def tail_bound(n: npt.ArrayLike, x: npt.ArrayLike, p: npt.ArrayLike) -> FloatArray:
    """Upper bound on P(X >= x) for X a sum of n independent Bernoullis of mean rate p:
    exp(-n KL(x/n || p)) when x/n > p, else 1."""
    n_ = np.asarray(n, dtype=np.float64)
    rate = np.asarray(x, dtype=np.float64) / np.maximum(n_, 1.0)
    p_ = np.clip(np.asarray(p, dtype=np.float64), _FLOOR, 1.0 - _FLOOR)
    r = np.clip(rate, _FLOOR, 1.0)
    # KL(r || p) with 0 log 0 = 0 at r = 1.
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = r * np.log(r / p_) + np.where(r < 1.0, (1.0 - r) * np.log((1.0 - r) / (1.0 - p_)), 0.0)
    bound = np.exp(-n_ * np.maximum(kl, 0.0))
    return np.where((rate > p_) & (n_ > 0), bound, 1.0)


@dataclass(frozen=True)
class _Pairs:
    """The (pair, item) entries of pairs sharing enough items: `keep` masks the entries,
    `codes` are those pairs (a * n_workers + b, sorted), `inverse` each kept entry's pair."""

    keep: npt.NDArray[np.bool_]
    codes: IntArray
    inverse: IntArray


def _runs(ordered: npt.NDArray[Any]) -> tuple[npt.NDArray[np.bool_], IntArray, IntArray]:
    """The runs of equal values in a sorted array: a mask of each run's first entry, where the
    runs start and how long they are."""
    first = np.r_[True, ordered[1:] != ordered[:-1]] if len(ordered) else np.empty(0, bool)
    starts = np.flatnonzero(first)
    return first, starts, np.diff(np.r_[starts, len(ordered)])


def _pairs_of(wa: IntArray, wb: IntArray, n_workers: int, min_shared: int) -> _Pairs:
    """Group entries by pair with one sort, keeping pairs with at least `min_shared` items.
    Leaner than np.unique (no inverse unless some pair qualifies): a million votes make
    millions of entries, and most crowds have no pair to test at all."""
    code = wa.astype(np.int64) * n_workers
    code += wb
    order = np.argsort(code, kind="stable")
    ordered = code[order]
    del code
    first, starts, counts = _runs(ordered)
    enough = counts >= min_shared
    if not enough.any():
        return _Pairs(keep=np.zeros(len(wa), bool), codes=np.empty(0, np.int64), inverse=np.empty(0, np.int32))
    codes = ordered[starts]
    del ordered
    group = np.cumsum(first, dtype=np.int32) - 1  # each sorted entry's pair
    inverse = np.empty(len(wa), np.int32)
    inverse[order] = group
    del order, group
    keep = enough[inverse]
    renumber = (np.cumsum(enough) - 1).astype(np.int32)
    return _Pairs(keep=keep, codes=codes[enough], inverse=renumber[inverse[keep]])


def _pairs_tested(
    workers: IdArray, grouped: _Pairs, observed: FloatArray, expected: FloatArray,
    *, alpha: float, tolerance: float,
) -> Scan:
    """The kept entries' figures summed per pair, every pair tested, the flagged ones returned."""
    n_tested = len(grouped.codes)
    if not n_tested:
        return Scan(0, [])
    shared = np.bincount(grouped.inverse, minlength=n_tested)
    obs = np.bincount(grouped.inverse, weights=observed, minlength=n_tested)
    exp = np.bincount(grouped.inverse, weights=expected, minlength=n_tested)
    null_rate = np.minimum(exp / np.maximum(shared, 1) + tolerance, 1.0)
    p = tail_bound(shared, obs, null_rate)
    adjusted = np.minimum(p * n_tested, 1.0)
    kept = {"code": grouped.codes, "shared": shared, "observed": obs, "expected": exp,
            "p": p, "adjusted": adjusted}
    hits = np.flatnonzero(adjusted <= alpha)
    hits = hits[np.argsort(p[hits], kind="stable")]
    return Scan(n_tested, [_pair_test(workers, kept, h) for h in hits], workers=workers, tested=kept)


def shared_entries(item_idx: IntArray, worker_idx: IntArray) -> tuple[IntArray, IntArray]:
    """Every (vote u, vote v) pair of two workers on one item, as two index arrays into the
    votes with worker_idx[u] < worker_idx[v]. Whole-array work per distinct votes-per-item count;
    int32 indices, since a million votes make millions of entries."""
    # Sorted by item, then worker: inside an item's block, an earlier vote has the smaller worker.
    order = np.lexsort((worker_idx, item_idx)).astype(np.int32)
    items_sorted = item_idx[order]
    starts, counts = _runs(items_sorted)[1:]
    del items_sorted
    us, vs = [], []
    for m in np.unique(counts):
        if m < 2:
            continue
        block = starts[counts == m][:, None].astype(np.int32) + np.arange(m, dtype=np.int32)
        r, c = np.triu_indices(int(m), 1)
        us.append(order[block[:, r].ravel()])
        vs.append(order[block[:, c].ravel()])
    if not us:
        return np.empty(0, np.int32), np.empty(0, np.int32)
    return np.concatenate(us), np.concatenate(vs)


def paired_workers(items: IdArray, workers: IdArray, *, min_shared: int = DEFAULT_MIN_SHARED) -> IdArray:
    """The workers (sorted ids) in at least one pair sharing `min_shared` items: the only ones a
    scan can test. On a sparse crowd (thousands of workers, a few judgments per item) that is
    nobody, and the timing scan need not read a million claim and submit times."""
    if not len(items):
        return np.empty(0, np.asarray(workers).dtype)
    worker_ids, worker_idx = np.unique(workers, return_inverse=True)
    u, v = shared_entries(np.asarray(items), worker_idx)  # item ids need not be dense: only grouped
    n = len(worker_ids)
    code = worker_idx[u].astype(np.int64) * n + worker_idx[v]
    del u, v
    code.sort()  # counts per pair are all we need: no argsort, no inverse (cf. _pairs_of)
    starts, counts = _runs(code)[1:]
    hit = code[starts[counts >= min_shared]]
    return worker_ids[np.unique(np.r_[hit // n, hit % n])]


def agreement_scan(
    votes: Votes,
    result: ConsensusResult,
    *,
    gold_items: Iterable[Hashable] = (),
    min_shared: int = DEFAULT_MIN_SHARED,
    alpha: float = DEFAULT_ALPHA,
    tolerance: float = DEFAULT_AGREEMENT_TOLERANCE,
) -> Scan:
    """Pairs whose agreement on shared non-gold items is far beyond what their confusion
    matrices explain (module docstring). `result` is the consensus fit of these votes."""
    if not len(votes) or not len(result.items) or len(result.labels) < 2:
        return Scan(0, [])
    item_row = np.searchsorted(result.items, votes.items)
    worker_row = np.searchsorted(result.workers, votes.workers)
    keep = ~np.isin(votes.items, np.asarray(list(gold_items), dtype=votes.items.dtype))
    item_row, worker_row, codes = item_row[keep], worker_row[keep], votes.codes[keep]
    u, v = shared_entries(item_row, worker_row)
    if not len(u):
        return Scan(0, [])
    grouped = _pairs_of(worker_row[u], worker_row[v], len(result.workers), min_shared)
    u, v = u[grouped.keep], v[grouped.keep]
    wa, wb, xa, xb = worker_row[u], worker_row[v], codes[u], codes[v]
    conf = result.confusions
    k = len(result.labels)
    expected = np.empty(len(u))
    n_workers = len(result.workers)
    pa, pb = grouped.codes // n_workers, grouped.codes % n_workers
    # P(both answer alike | truth t), once per pair (few) rather than per entry (many).
    step = max(1, _CHUNK_CELLS // (k * k))
    same_pair = np.concatenate([np.einsum("ptk,ptk->pt", conf[pa[lo:lo + step]], conf[pb[lo:lo + step]])
                                for lo in range(0, len(pa), step)] or [np.empty((0, k))])
    for lo in range(0, len(u), step):
        s = slice(lo, lo + step)
        a, b = wa[s], wb[s]
        # Leave the pair out: divide their two likelihoods out of the item's posterior.
        q = result.probabilities[item_row[u[s]]] / np.maximum(conf[a, :, xa[s]] * conf[b, :, xb[s]], _FLOOR)
        q /= np.maximum(q.sum(axis=1, keepdims=True), _FLOOR)
        expected[s] = np.clip((q * same_pair[grouped.inverse[s]]).sum(axis=1), 0.0, 1.0)
    observed = (xa == xb).astype(np.float64)
    return _pairs_tested(result.workers, grouped, observed, expected, alpha=alpha, tolerance=tolerance)


def timing_scan(
    items: IdArray,
    workers: IdArray,
    claimed: FloatArray,
    submitted: FloatArray,
    *,
    window: float = DEFAULT_TIMING_WINDOW,
    min_shared: int = DEFAULT_MIN_SHARED,
    alpha: float = DEFAULT_ALPHA,
    tolerance: float = DEFAULT_TIMING_TOLERANCE,
) -> Scan:
    """Pairs whose submissions of shared items fall within `window` seconds of each other far
    more often than their own think times explain (module docstring). Times are seconds on
    one clock (epoch); a row whose claim time is unknown (NaN) is left out."""
    claimed, submitted = np.asarray(claimed, np.float64), np.asarray(submitted, np.float64)
    keep = np.isfinite(claimed) & np.isfinite(submitted)
    items, workers = np.asarray(items)[keep], np.asarray(workers)[keep]
    claimed, submitted = claimed[keep], submitted[keep]
    if not len(items):
        return Scan(0, [])
    worker_ids, worker_idx = np.unique(workers, return_inverse=True)
    _, item_idx = np.unique(items, return_inverse=True)
    think = submitted - claimed
    u, v = shared_entries(item_idx, worker_idx)
    grouped = _pairs_of(worker_idx[u], worker_idx[v], len(worker_ids), min_shared)
    u, v = u[grouped.keep], v[grouped.keep]
    if not len(u):
        return Scan(0, [])
    in_step = (np.abs(submitted[u] - submitted[v]) <= window).astype(np.float64)
    # Chance, both ways round: the other's think time on this item as any of their think times.
    chance = 0.5 * (_think_share(worker_idx, think, v, submitted[u] - claimed[v], window)
                    + _think_share(worker_idx, think, u, submitted[v] - claimed[u], window))
    return _pairs_tested(worker_ids, grouped, in_step, chance, alpha=alpha, tolerance=tolerance)


def _think_share(
    worker_idx: IntArray, think: FloatArray, rows: IntArray, centre: FloatArray, window: float
) -> FloatArray:
    """For each entry, the share of worker_idx[rows]'s think times within `window` of `centre`.

    One sorted array for everyone: worker w's think times are shifted into their own band
    [w * span, w * span + range), so each query is two searchsorted calls clipped to its band."""
    low = float(think.min())
    span = float(think.max()) - low + 2 * window + 1.0
    keyed = np.sort(worker_idx * span + (think - low))
    owner = worker_idx[rows]
    band = owner * span
    lo = np.clip(band + (centre - window - low), band - 0.5, band + span - 0.5)
    hi = np.clip(band + (centre + window - low), band - 0.5, band + span - 0.5)
    order = np.argsort(lo, kind="stable")  # sorted queries: searchsorted walks memory in order
    inside = np.empty(len(rows), dtype=np.int64)
    inside[order] = (np.searchsorted(keyed, hi[order], side="right")
                     - np.searchsorted(keyed, lo[order], side="left"))
    return inside / np.bincount(worker_idx)[owner]


def collusion_groups(pairs: Iterable[tuple[Hashable, Hashable]]) -> list[list[Hashable]]:
    """Connected components of the pairs (each of two or more workers), largest first."""
    parent: dict[Hashable, Hashable] = {}

    def root(x: Hashable) -> Hashable:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]  # path halving
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)  # type: ignore[type-var]
    groups: dict[Hashable, list[Hashable]] = {}
    for x in parent:
        groups.setdefault(root(x), []).append(x)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: (-len(g), g[0]))  # type: ignore[type-var]
