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
from fractions import Fraction

import numpy as np

CREDIBLE_MASS = 0.90  # the interval's probability mass, centred (5% cut off each side)


@dataclass(frozen=True)
class GoldEstimate:
    seen: int
    correct: int
    smoothed: float  # posterior mean, (correct + 1) / (seen + 2); balanced_estimate's: its own
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

    def as_evidence(self) -> dict[str, str | int | list[str]]:
        """As a quality event's evidence keeps it: the counts, and the accuracies as decimal
        strings with 4 places (accuracy_text), exact in JSON where a float is not."""
        return {
            "seen": self.seen, "correct": self.correct, "smoothed": accuracy_text(self.smoothed),
            "interval_90": [accuracy_text(self.low), accuracy_text(self.high)],
        }


def accuracy_text(value: float | Decimal) -> str:
    """An accuracy as evidence and the API (api.common.accuracy_out) write it: a decimal string
    with 4 places ("0.1667")."""
    return f"{value:.4f}"


def smoothed_accuracy(*, correct: int, seen: int) -> float:
    """(correct + 1) / (seen + 2): 0.5 with no evidence, never exactly 0 or 1."""
    _check(correct=correct, seen=seen)
    return (correct + 1) / (seen + 2)


def _beta_ppf(q: float, a: float, b: float) -> float:
    """Beta(a, b)'s quantile. scipy is imported here, at the first interval, not when this module
    loads: scipy.stats is about 3 s of every web worker's boot otherwise (README, "Reloads and
    restarts"), and most requests never draw an interval."""
    from scipy.stats import beta

    return float(beta.ppf(q, a, b))


def credible_interval(*, correct: int, seen: int, mass: float = CREDIBLE_MASS) -> tuple[float, float]:
    """Central `mass` interval of Beta(correct + 1, seen - correct + 1)."""
    _check(correct=correct, seen=seen)
    tail = (1.0 - mass) / 2.0
    a, b = correct + 1, seen - correct + 1
    return _beta_ppf(tail, a, b), _beta_ppf(1.0 - tail, a, b)


def share_interval(*, successes: float, trials: int, mass: float = CREDIBLE_MASS) -> tuple[float, float]:
    """Central `mass` interval of a share from `successes` out of `trials` (successes may be an
    expected count, a sum of probabilities): the Jeffreys interval, Beta(k + ½, n − k + ½), with
    the bound at 0 or 1 when every trial failed or succeeded. What clients read beside a share, so
    2 of 2 says "100 % (90 % interval 42–100 %)" rather than a bare certainty."""
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, got {successes}, {trials}")
    tail = (1.0 - mass) / 2.0
    a, b = successes + 0.5, trials - successes + 0.5
    low = 0.0 if successes <= 0 else _beta_ppf(tail, a, b)
    high = 1.0 if successes >= trials else _beta_ppf(1.0 - tail, a, b)
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
    positives: int = 0  # gold's ticked labels among the decisions
    positives_right: int = 0  # of those, the ones the worker ticked


def label_decisions(*, answered: Iterable[str], gold: Iterable[str], keys: Sequence[str]) -> LabelDecisions:
    """Score a ticked set against gold's set over the job's labels `keys` (keys outside them,
    from an edited draft, are not decisions)."""
    ticked, known = set(answered), set(gold)
    wrong = tuple(key for key in keys if (key in ticked) != (key in known))
    missed = tuple(k for k in wrong if k in known)
    positives = sum(key in known for key in keys)
    return LabelDecisions(
        right=len(keys) - len(wrong), seen=len(keys), missed=missed,
        extra=tuple(k for k in wrong if k in ticked), wrong=wrong,
        positives=positives, positives_right=positives - len(missed),
    )


# A multi-label job's gold rule reads balanced accuracy: the mean of the smoothed share of gold's
# ticked labels the worker ticked (sensitivity) and of gold's unticked ones left unticked
# (specificity), each smoothed as the single-label rule is, (right + 1) / (seen + 2). A constant
# answer (tick nothing, tick everything) or random ticks score about 0.5 whatever the share of
# ticked labels in gold, where the plain share of right decisions pays easy "no"s. A side with no
# decisions yet (gold never ticked a label so far, or ticked every one) is left out rather than
# counted at 0.5, so a perfect worker on such a gold set is not pulled down to 0.75.

def _balanced_sides(*, right: int, seen: int, pos_right: int, pos_seen: int) -> list[tuple[int, int]]:
    _check(correct=right, seen=seen)
    _check(correct=pos_right, seen=pos_seen)
    # Clamped, not refused: a retire clamps each counter at zero apart (quality/appeals.py), so
    # after an unblock the two pairs can disagree a little; a submit must not fail on it.
    pos_seen = min(pos_seen, seen)
    pos_right = min(pos_right, pos_seen, right)
    neg_seen = seen - pos_seen
    neg_right = min(right - pos_right, neg_seen)
    return [(r, n) for r, n in ((pos_right, pos_seen), (neg_right, neg_seen)) if n] or [(0, 0)]


def balanced_smoothed(*, right: int, seen: int, pos_right: int, pos_seen: int) -> Fraction:
    """Smoothed balanced accuracy of label decisions, exact: `right` of `seen` decisions, of
    which `pos_right` of `pos_seen` on labels gold ticked. 0.5 with no evidence."""
    sides = _balanced_sides(right=right, seen=seen, pos_right=pos_right, pos_seen=pos_seen)
    return sum((Fraction(r + 1, n + 2) for r, n in sides), Fraction(0)) / len(sides)


def balanced_below_floor(*, right: int, seen: int, pos_right: int, pos_seen: int, floor: Decimal | float) -> bool:
    """The gold rule on a multi-label job (the caller checks min_gold_answers, counted in answers)."""
    smoothed = balanced_smoothed(right=right, seen=seen, pos_right=pos_right, pos_seen=pos_seen)
    return smoothed < Fraction(Decimal(str(floor)))


def balanced_estimate(*, right: int, seen: int, pos_right: int, pos_seen: int) -> GoldEstimate:
    """A multi-label worker's gold figure: `correct`/`seen` count label decisions, `smoothed` is
    the balanced accuracy the rule reads, the interval that of a Beta matched to its mean and
    variance (each side's posterior is Beta(right + 1, wrong + 1), and they are averaged)."""
    sides = _balanced_sides(right=right, seen=seen, pos_right=pos_right, pos_seen=pos_seen)
    mean = float(balanced_smoothed(right=right, seen=seen, pos_right=pos_right, pos_seen=pos_seen))
    var = sum((r + 1) * (n - r + 1) / ((n + 2) ** 2 * (n + 3)) for r, n in sides) / len(sides) ** 2
    common = mean * (1.0 - mean) / var - 1.0
    tail = (1.0 - CREDIBLE_MASS) / 2.0
    a, b = mean * common, (1.0 - mean) * common
    return GoldEstimate(seen=seen, correct=right, smoothed=mean,
                        low=_beta_ppf(tail, a, b), high=_beta_ppf(1.0 - tail, a, b))


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
