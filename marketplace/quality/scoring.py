"""Gold scoring and answer speed: PURE functions (no Django), plain numbers in, numbers out.

A worker's gold record is `correct` right answers out of `seen` gold items. With a uniform
Beta(1, 1) prior on the worker's true accuracy, the posterior is Beta(correct + 1, wrong + 1):
its mean is the smoothed accuracy (correct + 1) / (seen + 2) that the quality rules compare to
a floor, and its 5% and 95% quantiles make the 90% credible interval shown to admins.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from scipy.stats import beta

CREDIBLE_MASS = 0.90  # the interval's probability mass, centred (5% cut off each side)


@dataclass(frozen=True)
class GoldEstimate:
    seen: int
    correct: int
    smoothed: float  # posterior mean, (correct + 1) / (seen + 2)
    low: float  # 90% credible interval of the true accuracy
    high: float

    @property
    def wrong(self) -> int:
        return self.seen - self.correct

    def as_dict(self) -> dict[str, float | int]:
        return {
            "seen": self.seen, "correct": self.correct, "smoothed": round(self.smoothed, 4),
            "interval_90": [round(self.low, 4), round(self.high, 4)],
        }


def smoothed_accuracy(*, correct: int, seen: int) -> float:
    """(correct + 1) / (seen + 2): 0.5 with no evidence, never exactly 0 or 1."""
    _check(correct=correct, seen=seen)
    return (correct + 1) / (seen + 2)


def credible_interval(*, correct: int, seen: int, mass: float = CREDIBLE_MASS) -> tuple[float, float]:
    """Central `mass` interval of Beta(correct + 1, seen - correct + 1)."""
    _check(correct=correct, seen=seen)
    tail = (1.0 - mass) / 2.0
    a, b = correct + 1, seen - correct + 1
    return float(beta.ppf(tail, a, b)), float(beta.ppf(1.0 - tail, a, b))


def share_interval(*, successes: float, trials: int, mass: float = CREDIBLE_MASS) -> tuple[float, float]:
    """Central `mass` interval of a share from `successes` out of `trials` (successes may be an
    expected count, a sum of probabilities): the Jeffreys interval, Beta(k + ½, n − k + ½), with
    the bound at 0 or 1 when every trial failed or succeeded. What clients read beside a share, so
    2 of 2 says "100 % (90 % interval 42–100 %)" rather than a bare certainty."""
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, got {successes}, {trials}")
    tail = (1.0 - mass) / 2.0
    a, b = successes + 0.5, trials - successes + 0.5
    low = 0.0 if successes <= 0 else float(beta.ppf(tail, a, b))
    high = 1.0 if successes >= trials else float(beta.ppf(1.0 - tail, a, b))
    return low, high


def gold_estimate(*, correct: int, seen: int) -> GoldEstimate:
    low, high = credible_interval(correct=correct, seen=seen)
    return GoldEstimate(
        seen=seen, correct=correct, smoothed=smoothed_accuracy(correct=correct, seen=seen), low=low, high=high
    )


@dataclass(frozen=True)
class LabelDecisions:
    """A multi-label gold answer scored per label: each label of the job is one yes/no decision,
    right when the worker's tick equals gold's. `missed`: gold's labels left unticked; `extra`:
    ticked labels gold does not have (both in the job's label order)."""

    right: int
    seen: int
    missed: tuple[str, ...]
    extra: tuple[str, ...]
    wrong: tuple[str, ...]  # missed and extra together, in label order


def label_decisions(*, answered: Iterable[str], gold: Iterable[str], keys: Sequence[str]) -> LabelDecisions:
    """Score a ticked set against gold's set over the job's labels `keys` (keys outside them,
    from an edited draft, are not decisions)."""
    ticked, known = set(answered), set(gold)
    wrong = tuple(key for key in keys if (key in ticked) != (key in known))
    return LabelDecisions(
        right=len(keys) - len(wrong), seen=len(keys), missed=tuple(k for k in wrong if k in known),
        extra=tuple(k for k in wrong if k in ticked), wrong=wrong,
    )


def below_floor(*, correct: int, seen: int, min_seen: int, floor: Decimal | float) -> bool:
    """The gold rule: enough gold answers, and the smoothed accuracy under the floor.

    Compared exactly in integers, (correct + 1) / (seen + 2) < floor, so a floor given as a
    Decimal is never blurred by float rounding at the boundary.
    """
    _check(correct=correct, seen=seen)
    if seen < min_seen:
        return False
    return Decimal(correct + 1) < Decimal(str(floor)) * Decimal(seen + 2)


def block_probability(*, accuracy: float, min_seen: int, floor: Decimal | float, horizon: int) -> float:
    """Chance that a worker whose every gold answer is right with probability `accuracy` is
    blocked by the gold rule within `horizon` gold answers, the rule being checked after each one.

    Exact: the distribution of `correct` among workers not yet blocked is carried forward one
    gold answer at a time, and the mass that falls under the floor is taken out as blocked.
    """
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError("accuracy must be between 0 and 1")
    alive = np.zeros(horizon + 1)
    alive[0] = 1.0
    correct = np.arange(horizon + 1)
    floor_d = float(Decimal(str(floor)))
    blocked = 0.0
    for seen in range(1, horizon + 1):
        step = alive * (1.0 - accuracy)
        step[1:] += alive[:-1] * accuracy
        alive = step
        if seen >= min_seen:
            # Same comparison as below_floor; a tiny epsilon keeps exact ties on the safe side.
            under = (correct + 1) < floor_d * (seen + 2) - 1e-12
            blocked += float(alive[under].sum())
            alive[under] = 0.0
    return blocked


# The fast-answer rule is calibrated on the job: a worker is fast when their median answer time is
# under both the tier's figure and this share of the other workers' median in the job (over their
# latest FAST_PEERS_SAMPLE judgments; no flag before there are FAST_PEERS_MIN of them). A job every
# human answers in a second (a simulated crowd, a yes/no glance) then flags only workers far
# quicker than the rest, not everyone who came first.
FAST_SHARE_OF_PEERS = 0.5
FAST_PEERS_SAMPLE = 200
FAST_PEERS_MIN = 10


def fast_limit(*, tier_seconds: float, peers_median: float) -> float:
    """The median answer time under which a worker is flagged fast in a job."""
    return min(tier_seconds, FAST_SHARE_OF_PEERS * peers_median)


def median_seconds(values: Iterable[Decimal | float | None]) -> float | None:
    """Median answer time of the values given (None entries skipped); None when there are none."""
    clean = [float(v) for v in values if v is not None]
    return float(statistics.median(clean)) if clean else None


def _check(*, correct: int, seen: int) -> None:
    if seen < 0 or correct < 0 or correct > seen:
        raise ValueError(f"need 0 <= correct <= seen, got correct={correct}, seen={seen}")
