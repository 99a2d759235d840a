"""Replaying one data set folder with several seeds: the accuracy's mean and spread.

Seed i of a series is `seed + i`: it draws both the gold split and the subsample (when one is
asked), so each replay is a fresh job scored on its own held-out items.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from marketplace.consensus.datasets import Repeats
from marketplace.quality.replaying import ReplayReport, replay_run


@dataclass(frozen=True)
class ReplaySeries:
    """Replays of one folder with seeds seed, seed + 1, ...: accuracy mean and spread."""

    runs: tuple[ReplayReport, ...]

    @property
    def accuracies(self) -> list[float]:
        return [run.accuracy for run in self.runs]

    @property
    def accuracy_mean(self) -> float:
        return statistics.fmean(self.accuracies)

    @property
    def accuracy_sd(self) -> float:
        """Sample standard deviation over the seeds (0 for one run)."""
        return statistics.stdev(self.accuracies) if len(self.runs) > 1 else 0.0


def replay_series(
    *,
    folder: Path,
    repeat: int,
    seed: int = 0,
    gold_fraction: float = 0.0,
    method: str = "quorum",
    gold_in_fit: bool = True,
    subsample_k: int | None = None,
    repeats: Repeats = "last",
) -> ReplaySeries:
    """`replay_run` once per seed seed .. seed + repeat - 1, each its own fresh job and run."""
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    runs = (
        replay_run(
            folder=folder,
            gold_fraction=gold_fraction,
            method=method,
            seed=seed + i,
            gold_in_fit=gold_in_fit,
            subsample_k=subsample_k,
            repeats=repeats,
        )
        for i in range(repeat)
    )
    return ReplaySeries(runs=tuple(runs))
