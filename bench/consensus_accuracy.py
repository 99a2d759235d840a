"""The accuracy grid of bench/consensus.py: methods x redundancy x gold, over seeds, with errors.

Pure (no Django, no database): votes and a truth mapping in, rows of cells out, and the two
renderings (a text table for the terminal, a Markdown table for the README).

For each K in `ks` below the source's largest overlap, and for the full data, and for each seed s:
the votes are subsampled to K per item with seed s (`consensus.subsample`), the truth is split
with seed s into 10% gold and 90% held out (`consensus.split_gold`), and every method is fitted
without gold and with that gold. Both are scored on the same held-out 90%, so the two gold
columns compare. A cell holds the accuracy of one (K, gold, method) over the seeds: its mean,
its standard deviation over seeds (sample sd), and the standard error sqrt(p(1-p)/n) with p the
mean and n the items scored.

Two shortcuts that change no figure: the full data without gold is fitted once per method and
scored on each seed's held-out items (the fit does not depend on the seed), and a method that
cannot use gold in its fit (mv, wawa, ...) is not fitted again with gold - it only marks the
gold items, which are not scored.

Marks in a row (one K and one gold setting): "*" the best mean; "!" a cell more than one SE
below the best, the SE being the best cell's. The default "quorum" is "ok" in a row when it is
within one SE of the best and not more than one SE below mv or ds (SE of the cell it is
compared with).
"""

from __future__ import annotations

import math
import statistics
import textwrap
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from marketplace.consensus import (
    METHODS,
    ConsensusResult,
    Votes,
    accuracy,
    aggregate,
    scored_count,
    split_gold,
    subsample,
)

GOLD_SHARE = 0.1
KS = (2, 3, 5)
DEFAULT_METHODS = ("mv", "wawa", "ds", "quorum")
DEFAULT = "quorum"
RIVALS = ("mv", "ds")  # the default must not fall more than one SE below these


@dataclass(frozen=True)
class Cell:
    """Accuracy of one method at one K and gold setting, one score per seed."""

    scores: tuple[float, ...]
    n_scored: int

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores)

    @property
    def sd(self) -> float:
        return statistics.stdev(self.scores) if len(self.scores) > 1 else 0.0

    @property
    def se(self) -> float:
        p = self.mean
        return math.sqrt(p * (1.0 - p) / self.n_scored) if self.n_scored else math.nan


def behind(cell: Cell, reference: Cell) -> bool:
    """More than one standard error (of `reference`) below `reference`."""
    return cell.mean < reference.mean - reference.se


@dataclass(frozen=True)
class Row:
    source: str
    k: int | None  # judgments kept per item; None = the full data
    full_overlap: int  # the source's largest number of judgments on one item
    gold: bool
    cells: dict[str, Cell]

    @property
    def best(self) -> str:
        """The method with the highest mean; on a tie (to rounding) the first listed."""
        top = max(cell.mean for cell in self.cells.values() if not math.isnan(cell.mean))
        return next(m for m, cell in self.cells.items() if cell.mean >= top - 1e-12)

    @property
    def n_scored(self) -> int:
        return max(cell.n_scored for cell in self.cells.values())

    def mark(self, method: str) -> str:
        if method == self.best:
            return "*"
        return "!" if behind(self.cells[method], self.cells[self.best]) else ""

    def default_shortfalls(self) -> list[str] | None:
        """Whom "quorum" falls more than one SE below ([] = ok), None if it was not run."""
        if DEFAULT not in self.cells:
            return None
        mine = self.cells[DEFAULT]
        others = [self.best] + [m for m in RIVALS if m in self.cells and m != self.best]
        return [m for m in others if m != DEFAULT and behind(mine, self.cells[m])]

    @property
    def k_text(self) -> str:
        return f"full ({self.full_overlap})" if self.k is None else str(self.k)


def _fit(votes: Votes, method: str, gold: Mapping[Hashable, str] | None) -> ConsensusResult | None:
    """The fit, or None where the method cannot fit this source (kos past two labels, gmv
    without gold): its cell shows nan and never counts as the best."""
    try:
        return aggregate(votes, method=method, gold=gold or None)
    except ValueError:
        return None


def source_rows(
    source: str,
    votes: Votes,
    truth: Mapping[str, str] | Mapping[int, str],
    *,
    methods: Sequence[str] = DEFAULT_METHODS,
    ks: Sequence[int] = KS,
    seeds: Sequence[int] = tuple(range(5)),
) -> list[Row]:
    """The grid for one source: rows gold none then 10%, each K ascending then the full data.

    A K at or above the source's largest overlap is left out: it would repeat the full data.
    """
    _, per_item = np.unique(votes.items, return_counts=True)
    overlap = int(per_item.max()) if len(per_item) else 0
    levels: list[int | None] = [k for k in sorted(ks) if k < overlap] + [None]
    scores: dict[tuple[int | None, bool, str], list[tuple[float, int]]] = {}
    full_fits: dict[str, ConsensusResult | None] = {}
    for k in levels:
        for seed in seeds:
            kept = votes if k is None else subsample(votes, k, seed)
            gold, held_out = split_gold(truth, share=GOLD_SHARE, seed=seed)
            for method in methods:
                if k is None:
                    if method not in full_fits:
                        full_fits[method] = _fit(kept, method, None)
                    plain = full_fits[method]
                else:
                    plain = _fit(kept, method, None)
                given = _fit(kept, method, gold) if METHODS[method].uses_gold else plain
                for with_gold, result in ((False, plain), (True, given)):
                    if result is None:
                        scores.setdefault((k, with_gold, method), []).append((math.nan, 0))
                        continue
                    score = (accuracy(result, held_out), scored_count(result, held_out))
                    scores.setdefault((k, with_gold, method), []).append(score)
    return [
        Row(
            source=source,
            k=k,
            full_overlap=overlap,
            gold=with_gold,
            cells={
                m: Cell(
                    scores=tuple(s for s, _ in scores[(k, with_gold, m)]),
                    n_scored=round(statistics.fmean(n for _, n in scores[(k, with_gold, m)])),
                )
                for m in methods
            },
        )
        for with_gold in (False, True)
        for k in levels
    ]


def legend(seeds: Sequence[int]) -> str:
    span = f"{seeds[0]}..{seeds[-1]}" if len(seeds) > 1 else f"{seeds[0]}"
    return textwrap.fill(
        f"Accuracy on the truth, mean over seeds {span} (each seed draws the K-per-item "
        f"subsample and the gold split); sd = standard deviation over the seeds; se = "
        f"sqrt(p(1-p)/n), p the mean, n the items scored. gold: none, or a seeded "
        f"{GOLD_SHARE:.0%} of the truth given as gold; both score the same other "
        f"{1 - GOLD_SHARE:.0%}. * best in its row, ! more than one SE (of the best) below it. "
        f"{DEFAULT}: ok when within one SE of the best and not more than one SE below "
        f"{' or '.join(RIVALS)}.",
        width=100,
    )


def _short(x: float) -> str:
    """0.031 -> ".031" (spread figures are always below 1)."""
    return "nan" if math.isnan(x) else f"{x:.3f}".removeprefix("0")


def _verdict(row: Row) -> str:
    shortfalls = row.default_shortfalls()
    if shortfalls is None:
        return ""
    return "ok" if not shortfalls else "NO: below " + ", ".join(shortfalls)


def text_header(methods: Sequence[str]) -> str:
    columns = "".join(f"{m:<22}" for m in methods)
    return f"{'data set':<13} {'gold':<5} {'K':<9} {'n':>6}  {columns}{DEFAULT} ok?"


def text_rows(rows: Sequence[Row], methods: Sequence[str]) -> list[str]:
    lines = []
    for row in rows:
        cells = "".join(
            f"{c.mean:.4f} sd{_short(c.sd)} se{_short(c.se)}{row.mark(m):<1} "
            for m, c in ((m, row.cells[m]) for m in methods)
        )
        gold = f"{GOLD_SHARE:.0%}" if row.gold else "none"
        lines.append(
            f"{row.source:<13} {gold:<5} {row.k_text:<9} {row.n_scored:>6}  {cells}{_verdict(row)}"
        )
    return lines


def markdown_header(methods: Sequence[str]) -> list[str]:
    names = " | ".join(f"`{m}`" for m in methods)
    return [
        f"| data set | gold | K | n | {names} | `{DEFAULT}` ok |",
        "| --- | --- | --- | ---: | " + " | ".join("---" for _ in methods) + " | --- |",
    ]


def markdown_rows(rows: Sequence[Row], methods: Sequence[str], description: str) -> list[str]:
    """One line per row; the source and its `description` only on its first line."""
    lines = []
    for i, row in enumerate(rows):
        source = f"{row.source} ({description})" if i == 0 else ""
        cells = []
        for m in methods:
            c, mark = row.cells[m], row.mark(m)
            mean = f"**{c.mean:.4f}**" if mark == "*" else f"{c.mean:.4f}{mark}"
            cells.append(f"{mean} ±{_short(c.sd)} (se {_short(c.se)})")
        gold = f"{GOLD_SHARE:.0%}" if row.gold else "none"
        lines.append(
            f"| {source} | {gold} | {row.k_text} | {row.n_scored:,} | "
            + " | ".join(cells)
            + f" | {_verdict(row)} |"
        )
    return lines


def default_summary(rows: Sequence[Row]) -> str:
    judged = [row for row in rows if row.default_shortfalls() is not None]
    if not judged:
        return f"{DEFAULT} was not among the methods"
    failing = [
        f"{row.source} {'gold' if row.gold else 'no gold'} K={row.k_text}"
        for row in judged
        if row.default_shortfalls()
    ]
    tail = "" if not failing else "; not in: " + ", ".join(failing)
    return f"{DEFAULT} ok in {len(judged) - len(failing)} of {len(judged)} rows{tail}"
