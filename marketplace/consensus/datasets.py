"""Public crowdsourcing data sets in the `answers.csv` / `truth.csv` folder layout, and scoring.

A folder holds `answers.csv` (item,worker,label: one row per judgment) and `truth.csv`
(item,label). Ids and labels are read as strings, exactly as written. The headers of other
releases are read too (ANSWER_COLUMNS, TRUTH_COLUMNS), and `answer.csv` for `answers.csv`.

Repeated judgments (the same worker on the same item more than once; S_Rel has 1,489 such pairs
in 3,059 rows, 277 pairs with different labels) follow one rule, `repeats`:

- "last" (default): the last row in file order counts - a worker's later answer is taken as their
  corrected one, and a store with one judgment per (item, worker) keeps one;
- "first": the first row counts (the answer given before the worker saw the item again);
- "drop": every row of a repeated pair is removed (neither answer is trusted).

`subsample` keeps K judgments per item at random (seeded) to measure a method at a redundancy
lower than the data's own.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar, get_args

import numpy as np
import numpy.typing as npt
# pandas where a file is read, imported there: not part of every web worker's boot.
if TYPE_CHECKING:
    import pandas as pd

from marketplace.consensus.types import ConsensusResult, IdArray, IntArray, Votes

Repeats = Literal["last", "first", "drop"]
REPEATS: tuple[str, ...] = get_args(Repeats)
Key = TypeVar("Key", str, int)  # item ids of a truth mapping: strings (data sets) or integers


@dataclass(frozen=True)
class Dataset:
    name: str
    votes: Votes  # repeated (item, worker) rows already resolved by `repeats`
    truth: dict[str, str]
    rows_read: int
    repeated_rows_dropped: int  # rows of answers.csv dropped by `repeats`
    repeated_pairs: int  # (item, worker) pairs with more than one row
    repeats: Repeats = "last"
    # Rows of answers.csv with a blank item, worker or label (a skipped question, a lost id):
    # dropped, never read as an item "", a worker "" or a label "" (which replay would name).
    blank_rows_dropped: int = 0
    truth_blank_rows_dropped: int = 0  # rows of truth.csv with a blank item or label


def _pair_codes(votes: Votes) -> IntArray:
    """One integer per (item, worker) pair, equal for equal pairs."""
    _, item_code = np.unique(votes.items, return_inverse=True)
    _, worker_code = np.unique(votes.workers, return_inverse=True)
    return item_code.astype(np.int64) * (int(worker_code.max()) + 1) + worker_code


def resolve_repeats(votes: Votes, repeats: Repeats = "last") -> tuple[Votes, int]:
    """(votes with one row per (item, worker) pair, number of pairs that had several rows).

    The surviving rows keep their order. ValueError for a rule outside REPEATS.
    """
    if repeats not in REPEATS:
        raise ValueError(f"repeats must be one of {', '.join(REPEATS)}; got {repeats!r}")
    if not len(votes):
        return votes, 0
    pair = _pair_codes(votes)
    _, first, counts = np.unique(pair, return_index=True, return_counts=True)
    repeated = int((counts > 1).sum())
    if not repeated:
        return votes, 0
    if repeats == "first":
        keep = np.sort(first)
    elif repeats == "last":
        # The first occurrence in the reversed array is the last one in the original.
        _, first_from_end = np.unique(pair[::-1], return_index=True)
        keep = np.sort(len(pair) - 1 - first_from_end)
    else:
        keep = np.sort(first[counts == 1])
    return _rows(votes, keep), repeated


def _rows(votes: Votes, keep: IntArray) -> Votes:
    return Votes(
        items=votes.items[keep],
        workers=votes.workers[keep],
        codes=votes.codes[keep],
        label_set=votes.label_set,
    )


def load_dataset(folder: Path, repeats: Repeats = "last") -> Dataset:
    """Read one data set folder; FileNotFoundError names the missing file, ValueError an unknown
    `repeats` rule, a file without a column it needs, or one without a judgment."""
    if repeats not in REPEATS:
        raise ValueError(f"repeats must be one of {', '.join(REPEATS)}; got {repeats!r}")
    answers, blank = _without_blanks(_read(answers_file(folder), ANSWER_COLUMNS))
    truth_frame, truth_blank = _without_blanks(_read(folder / "truth.csv", TRUTH_COLUMNS))
    votes = Votes.from_labels(
        answers["item"].to_numpy(dtype=str),
        answers["worker"].to_numpy(dtype=str),
        answers["label"].to_numpy(dtype=object),
    )
    if not len(votes):  # nothing any caller could aggregate, replay or score
        raise ValueError("answers.csv holds no judgments" + (f" ({blank} rows had a blank cell)" if blank else ""))
    kept, pairs = resolve_repeats(votes, repeats)
    return Dataset(
        name=folder.name,
        votes=kept,
        truth=_truth(truth_frame),
        rows_read=len(votes) + blank,
        repeated_rows_dropped=len(votes) - len(kept),
        repeated_pairs=pairs,
        repeats=repeats,
        blank_rows_dropped=blank,
        truth_blank_rows_dropped=truth_blank,
    )


# Each column's accepted header names, first preferred, compared without case or surrounding space:
# ours, then those of the releases researchers bring (Zheng et al.'s truth-inference collection:
# question,worker,answer / question,truth; crowd-kit's: task,worker,label / task,true_label).
ANSWER_COLUMNS: dict[str, tuple[str, ...]] = {
    "item": ("item", "task", "question", "object"),
    "worker": ("worker", "performer", "annotator"),
    "label": ("label", "answer", "response"),
}
TRUTH_COLUMNS: dict[str, tuple[str, ...]] = {
    "item": ANSWER_COLUMNS["item"],
    "label": ("label", "truth", "true_label", "gold", "answer"),
}
ANSWER_FILES = ("answers.csv", "answer.csv")  # answer.csv: Zheng et al.'s name


def answers_file(folder: Path) -> Path:
    """The folder's judgments file (answers.csv, else answer.csv); answers.csv when neither is."""
    for name in ANSWER_FILES:
        if (folder / name).is_file():
            return folder / name
    return folder / ANSWER_FILES[0]


def _read(path: Path, columns: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    """The file's columns for each role, renamed to the role, every cell a string as written;
    ValueError naming the headers found and the names accepted when a role has no column."""
    import pandas as pd

    header = pd.read_csv(path, dtype=str, nrows=0).columns
    found = {str(name).strip().lower(): name for name in header}
    chosen: dict[str, str] = {}
    for role, names in columns.items():
        match = next((found[name] for name in names if name in found), None)
        if match is None:
            raise ValueError(
                f"{path.name} has no {role} column (its header: {', '.join(map(str, header)) or 'none'}; "
                f"accepted: {', '.join(names)})"
            )
        chosen[match] = role
    frame = pd.read_csv(path, usecols=list(chosen), dtype=str, keep_default_na=False)
    return frame.rename(columns=chosen)[list(columns)]


def _without_blanks(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The rows whose every cell holds more than white space, and how many were not."""
    blank = np.zeros(len(frame), dtype=bool)
    for column in frame.columns:
        blank |= (frame[column].str.strip() == "").to_numpy()
    return frame[~blank], int(blank.sum())


def _truth(frame: pd.DataFrame) -> dict[str, str]:
    """item -> true label; ValueError naming an item truth.csv gives two different labels (a
    repeated row with the same label is harmless)."""
    truth: dict[str, str] = {}
    for item, label in zip(frame["item"].tolist(), frame["label"].tolist(), strict=True):
        if truth.setdefault(item, label) != label:
            raise ValueError(f"truth.csv gives item {item!r} two labels: {truth[item]!r} and {label!r}")
    return truth


def subsample(votes: Votes, k: int, seed: int) -> Votes:
    """K judgments per item, chosen uniformly at random; items with at most K keep them all.

    Pure and deterministic: the same votes, K and seed give the same rows (in their original
    order). Each item's draw is independent of the others. ValueError when K < 1.
    """
    if k < 1:
        raise ValueError(f"K must be at least 1; got {k}")
    if not len(votes):
        return votes
    _, item_code = np.unique(votes.items, return_inverse=True)
    # Sort by item, and within an item by a random key: the first K of each item are a uniform draw.
    order = np.lexsort((np.random.default_rng(seed).random(len(votes)), item_code))
    ordered = item_code[order]
    starts = np.flatnonzero(np.diff(ordered, prepend=-1))
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.append(starts, len(order))))
    keep = np.sort(order[rank < k])
    return votes if len(keep) == len(votes) else _rows(votes, keep)


def split_gold(
    truth: Mapping[Key, str], *, share: float, seed: int
) -> tuple[dict[Key, str], dict[Key, str]]:
    """(gold, held out): a seeded random `share` of the truth to use as gold, and the rest."""
    keys = sorted(truth)
    rng = np.random.default_rng(seed)
    chosen = set(rng.choice(len(keys), size=round(share * len(keys)), replace=False).tolist())
    gold = {keys[i]: truth[keys[i]] for i in sorted(chosen)}
    rest = {key: truth[key] for i, key in enumerate(keys) if i not in chosen}
    return gold, rest


def _judged(result: ConsensusResult, keys: IdArray) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """(row of each key in result.items, clipped; whether the key is among them)."""
    rows = np.minimum(np.searchsorted(result.items, keys), len(result.items) - 1)
    return rows, result.items[rows] == keys


def accuracy(result: ConsensusResult, truth: Mapping[Hashable, str]) -> float:
    """Share of the truth items (those with at least one judgment) given their true label."""
    keys = np.asarray(list(truth.keys()))
    if not len(keys) or not len(result.items):
        return float("nan")
    rows, judged = _judged(result, keys)
    if not judged.any():
        return float("nan")
    expected = np.asarray(list(truth.values()), dtype=np.str_)[judged]
    return float(np.mean(result.assigned[rows[judged]] == expected))


def scored_count(result: ConsensusResult, truth: Mapping[Hashable, str]) -> int:
    """How many truth items `accuracy` scores: those with at least one judgment."""
    keys = np.asarray(list(truth.keys()))
    if not len(keys) or not len(result.items):
        return 0
    return int(_judged(result, keys)[1].sum())
