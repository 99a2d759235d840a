"""Public crowdsourcing data sets in the `answers.csv` / `truth.csv` folder layout, and scoring.

A folder holds `answers.csv` (item,worker,label: one row per judgment) and `truth.csv`
(item,label). Ids and labels are read as strings, exactly as written.

Repeated judgments: when the same worker judged the same item more than once (S_Rel does, 277
times with a different label), only the LAST row in file order counts - a worker's later answer
is taken as their corrected one, and a store with one judgment per (item, worker) keeps one.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from marketplace.consensus.encode import keep_last_judgment
from marketplace.consensus.types import ConsensusResult, Votes


@dataclass(frozen=True)
class Dataset:
    name: str
    votes: Votes  # repeated (item, worker) rows already collapsed to the last one
    truth: dict[str, str]
    rows_read: int
    repeated_rows_dropped: int


def load_dataset(folder: Path) -> Dataset:
    """Read one data set folder; FileNotFoundError names the missing file."""
    read = {"dtype": str, "keep_default_na": False}
    answers = pd.read_csv(folder / "answers.csv", usecols=["item", "worker", "label"], **read)
    truth_frame = pd.read_csv(folder / "truth.csv", usecols=["item", "label"], **read)
    votes = Votes.from_labels(
        answers["item"].to_numpy(dtype=str),
        answers["worker"].to_numpy(dtype=str),
        answers["label"].to_numpy(dtype=object),
    )
    kept = keep_last_judgment(votes)
    truth = dict(zip(truth_frame["item"].tolist(), truth_frame["label"].tolist(), strict=True))
    return Dataset(
        name=folder.name,
        votes=kept,
        truth=truth,
        rows_read=len(votes),
        repeated_rows_dropped=len(votes) - len(kept),
    )


def split_gold(
    truth: Mapping[str, str], *, share: float, seed: int
) -> tuple[dict[str, str], dict[str, str]]:
    """(gold, held out): a seeded random `share` of the truth to use as gold, and the rest."""
    keys = sorted(truth)
    rng = np.random.default_rng(seed)
    chosen = set(rng.choice(len(keys), size=round(share * len(keys)), replace=False).tolist())
    gold = {keys[i]: truth[keys[i]] for i in sorted(chosen)}
    rest = {key: truth[key] for i, key in enumerate(keys) if i not in chosen}
    return gold, rest


def accuracy(result: ConsensusResult, truth: Mapping[Hashable, str]) -> float:
    """Share of the truth items (those with at least one judgment) given their true label."""
    keys = np.asarray(list(truth.keys()))
    if not len(keys) or not len(result.items):
        return float("nan")
    rows = np.minimum(np.searchsorted(result.items, keys), len(result.items) - 1)
    judged = result.items[rows] == keys
    if not judged.any():
        return float("nan")
    expected = np.asarray(list(truth.values()), dtype=np.str_)[judged]
    return float(np.mean(result.assigned[rows[judged]] == expected))
