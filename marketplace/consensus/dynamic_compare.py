"""Dynamic overlap beside fixed overlap: one replay's outcome and the comparison over several
replays (PURE). `dynamic_replay` makes the outcomes; see it for the story."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class Outcome:
    """One replay: what dynamic overlap collected, and the fixed-overlap curve in the same order."""

    items: int
    judgments: int
    accuracy: float
    at_maximum: int  # stopped at the maximum below the target (expert review)
    ran_out: int  # the data set had no judgment left before the item settled
    refits: int
    model_accuracy: float | None = None  # the model's accuracy in the final run (None: no model)
    # Fixed overlap K = 1, 2, ... in the same order: (judgments per item, accuracy) at index K-1.
    fixed: list[tuple[float, float]] = field(default_factory=list)
    # The same, serving only the workers the dynamic job served (empty: it served everyone).
    fixed_served: list[tuple[float, float]] = field(default_factory=list)
    filled: int = 0  # judgments filled in from the average served worker (`DynamicSettings.fill`)
    unjudged: int = 0  # items no served worker of the data set reached (not scored)


@dataclass(frozen=True)
class Comparison:
    """Dynamic overlap beside fixed overlap, averaged over replays."""

    replays: int
    items: int
    judgments_per_item: float
    accuracy: float
    at_maximum: float  # share of items
    ran_out: float  # share of items
    refits: float
    fixed: list[tuple[float, float]]  # K-1 -> (judgments/item, accuracy), averaged
    fixed_accuracy_same_judgments: float  # fixed overlap's accuracy at the dynamic judgments/item
    fixed_judgments_equal_accuracy: float | None  # None: fixed overlap never gets there
    saving: float | None  # 1 - dynamic / fixed judgments at equal accuracy
    # The fixed overlap K (interpolated) whose accuracy the dynamic one matches: on a crowd with
    # fewer judgments than K on some items, K is more than its judgments per item.
    matched_overlap: float | None = None
    saving_se: float | None = None  # standard error of `saving`, bootstrapped over the replays
    model_accuracy: float | None = None  # the model's accuracy as the final runs learned it
    accuracy_se: float | None = None  # standard error of `accuracy` over the replays
    judgments_se: float | None = None  # standard error of `judgments_per_item` over the replays
    # Against fixed overlap serving the same workers (a job with a serve margin), so the gain of
    # choosing workers is not taken for the gain of stopping early. None: everyone was served.
    served: Comparison | None = None
    filled: float = 0.0  # judgments per item filled in from the average served worker
    unjudged: float = 0.0  # share of items no served worker reached (left out of the accuracy)


BOOTSTRAP_SAMPLES = 200


def compare(outcomes: Sequence[Outcome]) -> Comparison:
    """Average the replays, then read the fixed curve at the dynamic judgments and accuracy."""
    depth = min(len(o.fixed) for o in outcomes)
    curves = np.array([o.fixed[:depth] for o in outcomes], dtype=np.float64)
    per_items = np.array([o.judgments / o.items for o in outcomes])
    accuracies = np.array([o.accuracy for o in outcomes])
    curve = curves.mean(axis=0)
    per_item, accuracy = float(per_items.mean()), float(accuracies.mean())
    equal = _first_crossing(curve[:, 0], curve[:, 1], accuracy)
    served = None
    if all(o.fixed_served for o in outcomes):
        served = compare([replace(o, fixed=o.fixed_served, fixed_served=[]) for o in outcomes])
    return Comparison(
        replays=len(outcomes),
        items=outcomes[0].items,
        judgments_per_item=per_item,
        accuracy=accuracy,
        at_maximum=float(np.mean([o.at_maximum / o.items for o in outcomes])),
        ran_out=float(np.mean([o.ran_out / o.items for o in outcomes])),
        refits=float(np.mean([o.refits for o in outcomes])),
        fixed=[(float(j), float(a)) for j, a in curve],
        fixed_accuracy_same_judgments=float(np.interp(per_item, curve[:, 0], curve[:, 1])),
        fixed_judgments_equal_accuracy=equal,
        saving=None if equal is None else 1.0 - per_item / equal,
        matched_overlap=_first_crossing(np.arange(1.0, depth + 1), curve[:, 1], accuracy),
        saving_se=_saving_se(curves, per_items, accuracies),
        model_accuracy=_mean_or_none([o.model_accuracy for o in outcomes]),
        accuracy_se=_se_of(accuracies),
        judgments_se=_se_of(per_items),
        served=served,
        filled=float(np.mean([o.filled / o.items for o in outcomes])),
        unjudged=float(np.mean([o.unjudged / o.items for o in outcomes])),
    )


def _mean_or_none(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else None


def _se_of(values: np.ndarray) -> float | None:
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else None


def _saving_se(curves: np.ndarray, per_items: np.ndarray, accuracies: np.ndarray) -> float | None:
    """The saving's spread over replays drawn again with replacement (seeded, so repeatable).

    The fixed curve is drawn with its replay: both come from one arrival order, and the saving
    compares them. None with one replay, or when fixed overlap rarely reaches the accuracy.
    """
    n = len(per_items)
    if n < 2:
        return None
    rng = np.random.default_rng(0)
    savings = []
    for _ in range(BOOTSTRAP_SAMPLES):
        pick = rng.integers(0, n, n)
        curve = curves[pick].mean(axis=0)
        equal = _first_crossing(curve[:, 0], curve[:, 1], float(accuracies[pick].mean()))
        if equal is not None:
            savings.append(1.0 - float(per_items[pick].mean()) / equal)
    return float(np.std(savings, ddof=1)) if len(savings) > BOOTSTRAP_SAMPLES // 2 else None


def _first_crossing(judgments: np.ndarray, accuracy: np.ndarray, level: float) -> float | None:
    """The fewest judgments per item at which the (piecewise linear) fixed curve reaches `level`."""
    for k in range(len(accuracy)):
        if accuracy[k] >= level:
            if k == 0:
                return float(judgments[0])
            share = (level - accuracy[k - 1]) / (accuracy[k] - accuracy[k - 1])
            return float(judgments[k - 1] + share * (judgments[k] - judgments[k - 1]))
    return None
