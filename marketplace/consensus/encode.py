"""Turning `Votes` into dense integer indices, once, before any method runs.

Everything here is whole-array numpy (one sort of the votes, a few `np.unique` calls): no Python
object per judgment. The votes come out sorted by item so that per-item sums are one
`np.add.reduceat` call.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from marketplace.consensus.types import IdArray, IntArray, Votes


@dataclass(frozen=True)
class Encoded:
    """Votes as dense indices, sorted by item.

    `items`/`workers` are the sorted distinct ids (row order of every result matrix);
    `item_idx`, `worker_idx`, `codes` are per vote; `item_starts[i]` is the first vote of item i.
    Gold is `gold_rows` (item positions) with `gold_codes`; gold on items nobody judged is dropped.
    """

    labels: tuple[str, ...]
    items: IdArray
    workers: IdArray
    item_idx: IntArray
    worker_idx: IntArray
    codes: IntArray
    item_starts: IntArray
    gold_rows: IntArray
    gold_codes: IntArray

    @property
    def n_votes(self) -> int:
        return len(self.codes)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_workers(self) -> int:
        return len(self.workers)

    @property
    def n_labels(self) -> int:
        return len(self.labels)

    @property
    def worker_label(self) -> IntArray:
        """worker_idx * n_labels + code: the flat (worker, answered label) cell of each vote."""
        return self.worker_idx * self.n_labels + self.codes


def resolve_labels(
    votes: Votes, labels: Sequence[str] | None, gold: Mapping[Hashable, str] | None
) -> tuple[tuple[str, ...], IntArray]:
    """The label set to use and the votes' codes re-expressed in it.

    Given `labels`, that order is kept and it must contain every voted and gold label. Otherwise
    it is the votes' label set followed by any gold label nobody voted for (sorted).
    """
    gold_labels = {str(v) for v in gold.values()} if gold else set()
    if labels is None:
        extra = sorted(gold_labels - set(votes.label_set))
        return votes.label_set + tuple(extra), votes.codes
    names = tuple(str(x) for x in labels)
    if len(set(names)) != len(names):
        raise ValueError(f"labels has repeated entries: {names}")
    position = {name: k for k, name in enumerate(names)}
    used = (
        set(np.asarray(votes.label_set)[np.unique(votes.codes)].tolist()) if len(votes) else set()
    )
    missing = sorted((used | gold_labels) - set(names))
    if missing:
        raise ValueError(f"labels {missing} are voted or gold but not in labels={list(names)}")
    remap = np.array([position.get(name, -1) for name in votes.label_set], dtype=np.int64)
    return names, remap[votes.codes] if len(remap) else votes.codes


def _sorted_index(ids: IdArray) -> tuple[IntArray, IdArray, IntArray]:
    """(order that sorts ids, distinct sorted ids, position of each sorted id among them)."""
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    new = np.empty(len(ordered), dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    return order, ordered[new], np.cumsum(new, dtype=np.int64) - 1


def encode(
    votes: Votes,
    *,
    labels: Sequence[str] | None = None,
    gold: Mapping[Hashable, str] | None = None,
) -> Encoded:
    names, codes = resolve_labels(votes, labels, gold)
    items_in = np.asarray(votes.items)
    order, items, item_idx = _sorted_index(items_in)
    workers, worker_idx = np.unique(np.asarray(votes.workers)[order], return_inverse=True)
    starts = np.flatnonzero(np.diff(item_idx, prepend=-1)).astype(np.int64)
    gold_rows, gold_codes = _encode_gold(gold, items, names)
    return Encoded(
        labels=names,
        items=items,
        workers=workers,
        item_idx=item_idx,
        worker_idx=worker_idx.astype(np.int64, copy=False),
        codes=codes[order],
        item_starts=starts,
        gold_rows=gold_rows,
        gold_codes=gold_codes,
    )


def _encode_gold(
    gold: Mapping[Hashable, str] | None, items: IdArray, names: tuple[str, ...]
) -> tuple[IntArray, IntArray]:
    none = np.empty(0, dtype=np.int64)
    if not gold or not len(items):
        return none, none
    keys = np.asarray(list(gold.keys()))
    try:
        rows = np.searchsorted(items, keys)
    except TypeError as exc:  # e.g. str gold keys against int item ids
        raise ValueError(f"gold keys ({keys.dtype}) do not match item ids ({items.dtype})") from exc
    rows = np.minimum(rows, len(items) - 1)
    found = items[rows] == keys
    position = {name: k for k, name in enumerate(names)}
    codes = np.array([position[str(v)] for v in gold.values()], dtype=np.int64)
    return rows[found].astype(np.int64), codes[found]


def keep_last_judgment(votes: Votes) -> Votes:
    """Collapse repeated (item, worker) rows to the last one, keeping the surviving rows in order.

    The rule for sources where one worker judged the same item twice (S_Rel has 1,570 such rows,
    277 of them with a different label): the later judgment is the worker's final word.
    """
    if not len(votes):
        return votes
    _, item_code = np.unique(votes.items, return_inverse=True)
    _, worker_code = np.unique(votes.workers, return_inverse=True)
    pair = item_code.astype(np.int64) * (int(worker_code.max()) + 1) + worker_code
    # The first occurrence in the reversed array is the last one in the original.
    _, first_from_end = np.unique(pair[::-1], return_index=True)
    keep = np.sort(len(pair) - 1 - first_from_end)
    if len(keep) == len(pair):
        return votes
    return Votes(
        items=votes.items[keep],
        workers=votes.workers[keep],
        codes=votes.codes[keep],
        label_set=votes.label_set,
    )
