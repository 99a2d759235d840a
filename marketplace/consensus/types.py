"""The plain data that goes into and comes out of consensus: numpy arrays and dataclasses.

Items and workers are identified by whatever 1-D numpy array the caller has: integer ids (the
database's primary keys) are the fast path; strings work too (the public data sets use them).
Labels are strings from a small, ordered label set; votes carry them as integer codes into that
set so that a million judgments never become a million Python strings.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
IdArray = npt.NDArray[Any]  # item or worker ids: int64 preferred, str accepted

#: Two probabilities closer than this count as a tie (then the label first in the label set wins).
TIE_EPSILON = 1e-12


@dataclass(frozen=True)
class Votes:
    """Judgments as three parallel arrays: row i says worker `workers[i]` gave `items[i]` the
    label `label_set[codes[i]]`.

    Build it with `Votes.from_labels(...)` when the labels are strings; that encodes them once.
    Every row counts as one vote: collapse repeated (item, worker) rows beforehand if the source
    can contain them (`keep_last_judgment` does, keeping the last row).
    """

    items: IdArray
    workers: IdArray
    codes: IntArray
    label_set: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.items)
        if len(self.workers) != n or len(self.codes) != n:
            raise ValueError(
                f"items, workers and codes must be parallel arrays; got lengths "
                f"{n}, {len(self.workers)}, {len(self.codes)}"
            )
        if len(set(self.label_set)) != len(self.label_set):
            raise ValueError(f"label_set has repeated labels: {self.label_set}")
        if n and (int(self.codes.min()) < 0 or int(self.codes.max()) >= len(self.label_set)):
            raise ValueError("codes must index into label_set")

    def __len__(self) -> int:
        return len(self.items)

    @classmethod
    def from_labels(
        cls,
        items: Sequence[Hashable] | IdArray,
        workers: Sequence[Hashable] | IdArray,
        labels: Sequence[str] | npt.NDArray[Any],
        *,
        label_set: Sequence[str] | None = None,
    ) -> Votes:
        """Encode string labels into codes (one pass, hashed; no Python object per row kept).

        `label_set` fixes the label order (and may list labels nobody chose); by default it is the
        sorted set of labels seen. A label outside a given `label_set` raises ValueError.
        """
        codes, names = _encode_labels(labels, label_set)
        return cls(
            items=np.asarray(items), workers=np.asarray(workers), codes=codes, label_set=names
        )

    @classmethod
    def empty(cls, label_set: Sequence[str] = ()) -> Votes:
        return cls(
            items=np.empty(0, dtype=np.int64),
            workers=np.empty(0, dtype=np.int64),
            codes=np.empty(0, dtype=np.int64),
            label_set=tuple(label_set),
        )


def _encode_labels(
    labels: Sequence[str] | npt.NDArray[Any], label_set: Sequence[str] | None
) -> tuple[IntArray, tuple[str, ...]]:
    """Codes into the label set, found by hashing (pandas) rather than a Python dict per row."""
    # pandas is imported at the first fit, not with this module: it is about 2 s of every web
    # worker's boot otherwise, and a web process that runs no fit never needs it.
    import pandas as pd

    seen_codes, seen = pd.factorize(np.asarray(labels, dtype=object), sort=True)
    # factorize codes a missing label (None, NaN) as -1, which indexing below would silently
    # read as the last label of the set: a lost answer would become a vote for that label.
    if len(seen_codes) and int(seen_codes.min()) < 0:
        missing = int((seen_codes < 0).sum())
        raise ValueError(f"{missing} label(s) missing (None or NaN); every judgment needs a label")
    seen_names = [str(label) for label in seen]
    names = tuple(seen_names) if label_set is None else tuple(str(x) for x in label_set)
    position = {name: k for k, name in enumerate(names)}
    unknown = [name for name in seen_names if name not in position]
    if unknown:
        raise ValueError(f"labels not in the label set {names}: {sorted(unknown)}")
    remap = np.array([position[name] for name in seen_names], dtype=np.int64)
    return remap[seen_codes] if len(remap) else seen_codes.astype(np.int64), names


def _row(ids: IdArray, key: Hashable, what: str) -> int:
    """Position of `key` in the sorted id array `ids` (KeyError when absent)."""
    try:
        pos = int(np.searchsorted(ids, key))
    except TypeError:  # e.g. a str key against integer ids: simply not there
        raise KeyError(f"unknown {what} {key!r}") from None
    if pos >= len(ids) or ids[pos] != key:
        raise KeyError(f"unknown {what} {key!r}")
    return pos


@dataclass(frozen=True)
class ConsensusResult:
    """What a consensus method concluded.

    Items (`items`, sorted) and workers (`workers`, sorted) are index arrays for the rows of
    the matrices. `probabilities[i, k]` is the posterior probability that item `items[i]` has
    label `labels[k]`; `label_index[i]` is the chosen label: the most probable one, ties going
    to the label first in `labels`. `confusions[w, t, k]` is the probability that worker
    `workers[w]` answers `labels[k]` when the true label is `labels[t]` (row = true label).
    `worker_accuracy[w]` is the expected share of the worker's votes that are correct under the
    posteriors the workers were fitted with (on gold items that is plain gold accuracy): those are
    `probabilities` unless `fitted_probabilities` says otherwise (`worker_basis`).
    """

    method: str
    labels: tuple[str, ...]
    items: IdArray
    probabilities: FloatArray
    label_index: IntArray
    item_judgments: IntArray
    workers: IdArray
    confusions: FloatArray
    worker_accuracy: FloatArray
    worker_judgments: IntArray
    priors: FloatArray
    rounds: int
    converged: bool
    seconds: float
    parameters: Mapping[str, Any] = field(default_factory=dict)
    #: The posteriors the workers' confusions and accuracy come from, when the labels come from
    #: another fit ("quorum" may label with a stronger prior than it fits its workers with:
    #: consensus/choose.py); None when they are `probabilities`.
    fitted_probabilities: FloatArray | None = None
    #: The gold items that had votes, and `gold_unaided[i]`: item `gold_items[i]`'s
    #: posterior as consensus computes it without its known answer (`probabilities` holds the
    #: answer there). What measures the delivered labels on gold: aggregate.unaided_gold.
    gold_items: IdArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    gold_unaided: FloatArray = field(default_factory=lambda: np.empty((0, 0)))

    @property
    def gold_unaided_index(self) -> IntArray:
        """The label (index into `labels`) consensus gives each of `gold_items` without knowing
        its answer; ties go to the label first in `labels`, as for every item."""
        if not len(self.gold_items):
            return np.empty(0, dtype=np.int64)
        best = self.gold_unaided.max(axis=1, keepdims=True)
        return np.argmax(self.gold_unaided >= best - TIE_EPSILON, axis=1).astype(np.int64)

    @property
    def gold_unaided_labels(self) -> npt.NDArray[np.str_]:
        """`gold_unaided_index` as label strings."""
        return np.asarray(self.labels, dtype=np.str_)[self.gold_unaided_index]

    @property
    def worker_basis(self) -> FloatArray:
        """The posteriors workers are measured against (their skill, a model's record): the
        workers' own fit's, which are the labels' unless `fitted_probabilities` is set."""
        return self.probabilities if self.fitted_probabilities is None else self.fitted_probabilities

    @property
    def confidence(self) -> FloatArray:
        """Posterior probability of the chosen label, per item."""
        if not len(self.items):
            return np.empty(0)
        return self.probabilities[np.arange(len(self.items)), self.label_index]

    @property
    def assigned(self) -> npt.NDArray[np.str_]:
        """The chosen label of every item, as strings, in `items` order."""
        return np.asarray(self.labels, dtype=np.str_)[self.label_index]

    def label_of(self, item: Hashable) -> str:
        return self.labels[int(self.label_index[_row(self.items, item, "item")])]

    def confidence_of(self, item: Hashable) -> float:
        row = _row(self.items, item, "item")
        return float(self.probabilities[row, self.label_index[row]])

    def probabilities_of(self, item: Hashable) -> dict[str, float]:
        row = self.probabilities[_row(self.items, item, "item")]
        return {label: float(p) for label, p in zip(self.labels, row, strict=True)}

    def item_labels(self) -> dict[Any, str]:
        """{item id: chosen label}; builds Python objects, so meant for small results and tests."""
        return dict(zip(self.items.tolist(), self.assigned.tolist(), strict=True))

    def confusion_of(self, worker: Hashable) -> FloatArray:
        return self.confusions[_row(self.workers, worker, "worker")]

    def accuracy_of(self, worker: Hashable) -> float:
        return float(self.worker_accuracy[_row(self.workers, worker, "worker")])

    def worker_confusions(self) -> dict[Any, FloatArray]:
        """{worker id: confusion matrix}, the input `item_posterior` expects."""
        return dict(zip(self.workers.tolist(), self.confusions, strict=True))
