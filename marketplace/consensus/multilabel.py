"""Multi-label consensus by binary relevance: one yes/no crowd per label, each aggregated alone.

A multi-label vote is a worker's whole ticked set for an item, so it says "yes" to each label in
the set and "no" to every other label of the job. `binary_crowds` turns the votes into one binary
crowd per label, and `aggregate_multi` runs the same machinery (`aggregate`, any method; the
default "quorum" is Dawid-Skene with a pooled prior) on each: a worker gets one 2×2 confusion
matrix per label (a sensitivity and a specificity), so someone who ticks "dog" too eagerly is
down-weighted on "dog" only. Each item ends with each label's probability; its label set is the
labels with probability at least one half.

    votes = MultiVotes.from_sets(item_ids, worker_ids, [["cat"], [], ["cat", "dog"]], label_set=[...])
    result = aggregate_multi(votes, gold={17: {"cat"}})
    result.probabilities_of(42) -> {"cat": 0.97, "dog": 0.08}; result.set_of(42) -> ("cat",)
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from marketplace.consensus.aggregate import aggregate
from marketplace.consensus.dynamic import Evidence
from marketplace.consensus.synthetic import _distinct_workers
from marketplace.consensus.types import ConsensusResult, FloatArray, IdArray, Votes, _row

NO, YES = "no", "yes"
BINARY = (NO, YES)
#: A label is in an item's set when its probability reaches this.
THRESHOLD = 0.5

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class MultiVotes:
    """Row i: worker `workers[i]` gave item `items[i]` the set {label_set[k] : ticks[i, k]}."""

    items: IdArray
    workers: IdArray
    ticks: BoolArray  # (votes, labels)
    label_set: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.ticks.shape != (len(self.items), len(self.label_set)) or len(self.workers) != len(self.items):
            raise ValueError("items, workers and ticks (votes × labels) must be parallel")

    def __len__(self) -> int:
        return len(self.items)

    @classmethod
    def from_sets(
        cls,
        items: Sequence[Hashable] | IdArray,
        workers: Sequence[Hashable] | IdArray,
        sets: Sequence[Collection[str]],
        *,
        label_set: Sequence[str],
    ) -> MultiVotes:
        """Votes from label sets (each any subset of `label_set`; ValueError for another label)."""
        names = tuple(str(x) for x in label_set)
        position = {name: k for k, name in enumerate(names)}
        ticks = np.zeros((len(sets), len(names)), dtype=bool)
        for row, chosen in enumerate(sets):
            for name in chosen:
                if name not in position:
                    raise ValueError(f"label {name!r} not in the label set {names}")
                ticks[row, position[name]] = True
        return cls(items=np.asarray(items), workers=np.asarray(workers), ticks=ticks, label_set=names)


def binary_crowds(votes: MultiVotes) -> dict[str, Votes]:
    """One yes/no crowd per label: every vote says yes to its ticked labels and no to the rest."""
    return {
        label: Votes(
            items=votes.items, workers=votes.workers,
            codes=votes.ticks[:, k].astype(np.int64), label_set=BINARY,
        )
        for k, label in enumerate(votes.label_set)
    }


@dataclass(frozen=True)
class MultiLabelResult:
    """Per-label consensus. `probabilities[i, k]`: P(item `items[i]` takes `labels[k]`); `per_label`
    holds each label's own binary ConsensusResult (its workers' 2×2 confusions, accuracies).

    A gold item's row of `probabilities` is its known set (each label's fit sets it there), so
    `gold_unaided[i, k]` is what measures the delivered sets on gold: P(gold item `gold_items[i]`
    takes `labels[k]`) as each label's consensus computes it without the item's answer
    (aggregate.unaided_gold; every label's crowd splits gold into the same folds)."""

    method: str
    labels: tuple[str, ...]
    items: IdArray
    probabilities: FloatArray
    per_label: Mapping[str, ConsensusResult]
    gold_items: IdArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    gold_unaided: FloatArray = field(default_factory=lambda: np.empty((0, 0)))

    @property
    def chosen(self) -> BoolArray:
        """(items, labels): whether each item's set holds each label (p ≥ THRESHOLD)."""
        return self.probabilities >= THRESHOLD

    @property
    def gold_unaided_chosen(self) -> BoolArray:
        """(gold items, labels): the set consensus gives each of `gold_items` without its answer."""
        return self.gold_unaided >= THRESHOLD

    def probabilities_of(self, item: Hashable) -> dict[str, float]:
        row = self.probabilities[_row(self.items, item, "item")]
        return {label: float(p) for label, p in zip(self.labels, row, strict=True)}

    def set_of(self, item: Hashable) -> tuple[str, ...]:
        """The item's label set, in label order."""
        return tuple(label for label, p in self.probabilities_of(item).items() if p >= THRESHOLD)

    def item_sets(self) -> dict[Any, tuple[str, ...]]:
        return {item: self.set_of(item) for item in self.items.tolist()}


def aggregate_multi(
    votes: MultiVotes,
    *,
    method: str = "quorum",
    gold: Mapping[Hashable, Collection[str]] | None = None,
    **options: Any,
) -> MultiLabelResult:
    """Binary relevance: `aggregate(method=...)` on each label's yes/no crowd (`options` go to it).

    `gold` maps an item to its known label set: gold on each label is "yes" for the labels in
    it and "no" for the rest.
    """
    results: dict[str, ConsensusResult] = {}
    for label, crowd in binary_crowds(votes).items():
        label_gold = None if gold is None else {item: YES if label in known else NO for item, known in gold.items()}
        results[label] = aggregate(crowd, method=method, gold=label_gold, labels=BINARY, **options)
    items = next(iter(results.values())).items if results else np.unique(votes.items)
    # Every label's crowd holds every vote, so each result has the same sorted items.
    probabilities = (
        np.column_stack([results[label].probabilities[:, 1] for label in votes.label_set])
        if results and len(items) else np.zeros((len(items), len(votes.label_set)))
    )
    # Gold and votes are the same in every label's crowd, so each result has the same gold items.
    gold_items = next(iter(results.values())).gold_items if results else np.empty(0, dtype=np.int64)
    gold_unaided = (
        np.column_stack([results[label].gold_unaided[:, 1] for label in votes.label_set])
        if results and len(gold_items) else np.zeros((len(gold_items), len(votes.label_set)))
    )
    return MultiLabelResult(
        method=method, labels=votes.label_set, items=items, probabilities=probabilities, per_label=results,
        gold_items=gold_items, gold_unaided=gold_unaided,
    )


def multi_run_evidence(
    result: MultiLabelResult, votes: MultiVotes, *, gold_items: npt.ArrayLike = ()
) -> dict[Hashable, Evidence]:
    """Each worker's share of a multi-label run, for their global skill (as `run_evidence` is
    for a single-label run): one pseudo-judgment per vote on a regular item, right in the
    expected share of its label decisions that agree with the posterior (per label, P(the label
    applies) where they ticked it, 1 − that where they did not). A vote counts once however many
    labels the job has, as its gold answers do (`seen` 1, `right` the share of labels right).

    Gold items are left out: their answers reach the skill one by one as they are scored.
    """
    if not len(votes) or not len(result.items):
        return {}
    keep = ~np.isin(votes.items, np.asarray(gold_items))
    rows = np.searchsorted(result.items, votes.items[keep])
    columns = [result.labels.index(label) for label in votes.label_set]
    p = result.probabilities[rows][:, columns]
    right = np.where(votes.ticks[keep], p, 1.0 - p).mean(axis=1) if len(columns) else np.ones(len(rows))
    names, index = np.unique(votes.workers[keep], return_inverse=True)
    sums = np.bincount(index, weights=right, minlength=len(names))
    counts = np.bincount(index, minlength=len(names))
    return {
        worker: Evidence(float(r), float(n))
        for worker, r, n in zip(names.tolist(), sums.tolist(), counts.tolist(), strict=True)
    }


def hamming_accuracy(result: MultiLabelResult, truth: Mapping[Hashable, Collection[str]]) -> float:
    """Share of (item, label) decisions right against known sets, over the items in `truth`."""
    right = total = 0
    for item, known in truth.items():
        decided = set(result.set_of(item))
        right += sum((label in decided) == (label in known) for label in result.labels)
        total += len(result.labels)
    return right / total if total else 0.0


@dataclass(frozen=True)
class MultiCrowd:
    votes: MultiVotes  # integer item ids 0..n_items-1, integer worker ids 0..n_workers-1
    truth: BoolArray  # (items, labels): the true sets
    sensitivity: FloatArray  # (workers, labels): P(tick | the label applies)
    specificity: FloatArray  # (workers, labels): P(no tick | it does not)

    def truth_sets(self) -> dict[int, set[str]]:
        names = self.votes.label_set
        return {i: {names[k] for k in np.flatnonzero(row)} for i, row in enumerate(self.truth)}


def multi_label_crowd(
    *, sensitivity: FloatArray, specificity: FloatArray, n_items: int, overlap: int, seed: int,
    prevalence: float = 0.3,
) -> MultiCrowd:
    """Seeded votes of workers who tick each label with their own per-label sensitivity and
    specificity, on items that take each label independently with `prevalence`."""
    n_workers, n_labels = sensitivity.shape
    rng = np.random.default_rng(seed)
    truth = rng.random((n_items, n_labels)) < prevalence
    workers = _distinct_workers(rng, n_items, overlap, n_workers).ravel().astype(np.int64)
    items = np.repeat(np.arange(n_items, dtype=np.int64), overlap)
    p_tick = np.where(truth[items], sensitivity[workers], 1.0 - specificity[workers])
    ticks = rng.random(p_tick.shape) < p_tick
    label_set = tuple(f"L{k}" for k in range(n_labels))
    votes = MultiVotes(items=items, workers=workers, ticks=ticks, label_set=label_set)
    return MultiCrowd(votes=votes, truth=truth, sensitivity=sensitivity, specificity=specificity)
