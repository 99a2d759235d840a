"""Dynamic overlap's rule and worker model: PURE (no Django), shared by submit flow and replay.

An item of a dynamic job takes judgments until its *expected accuracy* - the largest posterior
probability of a label, the chance that the label it would get now is right - reaches the job's
target, or until it has the maximum number of judgments (then it goes to an expert).
`overlap_decision` is that rule, the one place it is written: `quality.overlap.OverlapJudge` asks
it under the item's row lock, and `dynamic_replay` asks it for every simulated arrival.

The posterior weighs each worker by a confusion matrix (`worker_confusion`), built from what is
known about them, best first:

1. the job's latest consensus run (its confusion matrix, fitted on this job's judgments), pulled
   towards their record elsewhere by as many pseudo-judgments as that record holds (at most
   `history_weight`), so a worker the run saw twice is not judged by the run's prior alone;
2. else their gold answers in this job plus their global skill earned elsewhere, as a one-coin
   accuracy shaped like the crowd's confusion;
3. else the crowd: the latest run's average worker, or `crowd_accuracy` before any run.

A worker's global skill is evidence counted as pseudo-judgments, `right` out of `seen`: each gold
answer adds 1 seen (and 1 right if it was right); each consensus run adds, per worker, the
posterior probability of the label they gave on each regular item they judged, replacing what
the job's previous run added (`Evidence` differences: runs of a job refit all of its judgments,
so only the latest run of each job counts). Gold answers are kept apart from the run's share, so
nothing is counted twice.

The job's model is refitted on a schedule that follows its size (`refit_due`): after the first
`first` judgments, then each time they double.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from marketplace.consensus.posterior import one_coin_confusion
from marketplace.consensus.types import ConsensusResult, FloatArray, Votes

#: The first consensus run of a job comes after this many judgments, the next ones at 2x, 4x, ...
FIRST_REFIT = 100


def refit_due(judgments: int, *, first: int = FIRST_REFIT) -> bool:
    """True when a job's model should be refitted: at first, 2 x first, 4 x first, ... judgments.

    Each doubling makes the refits' total cost at most twice the last fit, whatever the job's size,
    while a small job is refitted early, when new workers are least known. `first` <= 0: never.
    """
    if first <= 0 or judgments < first or judgments % first:
        return False
    doublings = judgments // first
    return doublings & (doublings - 1) == 0  # a power of two


class Decision(StrEnum):
    MORE = "more"  # below the target and the maximum: one more judgment
    SETTLED = "settled"  # the expected accuracy reached the target
    UNCERTAIN = "uncertain"  # at the maximum, still below the target: an expert's turn


def expected_accuracy(posterior: npt.ArrayLike) -> float:
    """The chance that the item's most probable label is right, by the model: the posterior max."""
    values = np.asarray(posterior, dtype=np.float64)
    return float(values.max()) if values.size else 0.0


def overlap_decision(
    *,
    posterior: npt.ArrayLike,
    judgments: int,
    min_overlap: int,
    max_overlap: int,
    target: float,
    model_votes: int = 0,
) -> Decision:
    """Settle or continue: THE rule of dynamic overlap (submit flow and replay alike).

    Below `min_overlap` votes an item always takes more; from there it settles once its
    expected accuracy reaches `target`; at `max_overlap` human judgments it stops either way,
    UNCERTAIN if below. `model_votes` (the item's predictions, each model version a worker) count
    towards the minimum but never replace the first human: an item with a trusted model's vote
    and one human who agrees can settle at one judgment, never at none.
    """
    if judgments < 1 or judgments + model_votes < min_overlap:
        return Decision.MORE
    if expected_accuracy(posterior) >= target:
        return Decision.SETTLED
    if judgments < max_overlap:
        return Decision.MORE
    return Decision.UNCERTAIN


@dataclass(frozen=True)
class Evidence:
    """Accuracy evidence in pseudo-counts: `right` out of `seen` judgments (runs give fractions)."""

    right: float = 0.0
    seen: float = 0.0

    def __add__(self, other: Evidence) -> Evidence:
        return Evidence(self.right + other.right, self.seen + other.seen)

    def __sub__(self, other: Evidence) -> Evidence:
        return Evidence(self.right - other.right, self.seen - other.seen)

    def clipped(self) -> Evidence:
        """Never negative, never more right than seen (rounding of stored floats aside)."""
        seen = max(self.seen, 0.0)
        return Evidence(min(max(self.right, 0.0), seen), seen)

    def capped(self, most: float) -> Evidence:
        """The same accuracy, worth at most `most` pseudo-judgments."""
        if self.seen <= most or self.seen <= 0:
            return self
        return Evidence(self.right * most / self.seen, most)

    def accuracy(self, *, prior: float, strength: float) -> float:
        """Posterior-mean accuracy with `strength` pseudo-judgments at `prior` added."""
        return (self.right + strength * prior) / (self.seen + strength)


def gold_evidence(*, correct: bool) -> Evidence:
    """What one scored gold answer adds to its worker's global skill."""
    return Evidence(1.0 if correct else 0.0, 1.0)


@dataclass(frozen=True)
class Crowd:
    """The typical worker: an accuracy, and the shape of their confusion when a run has one."""

    accuracy: float
    confusion: FloatArray | None = None  # judgment-weighted mean of the run's workers (row = truth)
    priors: FloatArray | None = None  # class priors the accuracy is measured under

    def shaped(self, accuracy: float, n_labels: int) -> FloatArray:
        """A confusion matrix of the given accuracy that errs like the crowd errs.

        The crowd's matrix moved towards the identity (better than the crowd) or towards uniform
        (worse), linearly, so its accuracy under the class priors is `accuracy`; one-coin when
        the crowd has no matrix. Below chance a worker counts as chance (no answer is reversed).
        """
        matrix = self.confusion
        if matrix is None or matrix.shape != (n_labels, n_labels) or n_labels < 2:
            return one_coin_confusion(accuracy, n_labels)
        priors = self.priors if self.priors is not None else np.full(n_labels, 1.0 / n_labels)
        base = float(priors @ np.diag(matrix))
        chance = 1.0 / n_labels
        accuracy = min(max(accuracy, chance), 1.0 - 1e-6)
        if accuracy >= base:
            step = (accuracy - base) / max(1.0 - base, 1e-9)
            return matrix + step * (np.eye(n_labels) - matrix)
        step = min((base - accuracy) / max(base - chance, 1e-9), 1.0)
        return matrix + step * (np.full((n_labels, n_labels), chance) - matrix)


@dataclass(frozen=True)
class WorkerModel:
    """How much the judge trusts what it knows about a worker (tuned on replays: README)."""

    crowd_accuracy: float = 0.7  # the typical worker before a job's first run
    crowd_strength: float = 4.0  # pseudo-judgments of the crowd in every worker's accuracy
    history_weight: float = 50.0  # most pseudo-judgments a worker's record elsewhere is worth


DEFAULT_MODEL = WorkerModel()
NOTHING = Evidence()  # no evidence at all: a worker nobody has seen


def worker_confusion(
    *,
    n_labels: int,
    crowd: Crowd,
    skill: Evidence = NOTHING,
    job: Evidence = NOTHING,
    job_gold: Evidence = NOTHING,
    run_confusion: FloatArray | None = None,
    run_judgments: int = 0,
    model: WorkerModel = DEFAULT_MODEL,
) -> FloatArray:
    """The confusion matrix (row = true label) the judge weighs one worker's votes by.

    `skill` is the worker's global skill; `job` the part of it this job put in (its gold answers
    and its latest run's share), so `skill - job` is their record elsewhere; `job_gold` their gold
    answers in this job; `run_confusion` their matrix in the job's latest run, fitted on
    `run_judgments` of their judgments.
    """
    history = (skill - job).clipped().capped(model.history_weight)
    known = job_gold.clipped() + history
    accuracy = known.accuracy(prior=crowd.accuracy, strength=model.crowd_strength)
    from_skill = crowd.shaped(accuracy, n_labels)
    if run_confusion is None:
        return from_skill
    if history.seen <= 0:
        return run_confusion
    weight = run_judgments + history.seen
    return (run_judgments * run_confusion + history.seen * from_skill) / weight


#: Who a dynamic job serves: a worker whose expected accuracy is below this share of the way
#: from chance (1 / labels) to perfect adds cost and almost no information (binary: 0.6).
SERVE_MARGIN = 0.2


def serving_floor(n_labels: int, *, margin: float = SERVE_MARGIN) -> float:
    """The least expected accuracy a dynamic job serves: `margin` of the way from chance to 1."""
    chance = 1.0 / max(n_labels, 1)
    return chance + margin * (1.0 - chance)


def worker_accuracy(
    *,
    crowd: Crowd,
    priors: npt.ArrayLike,
    skill: Evidence = NOTHING,
    job: Evidence = NOTHING,
    job_gold: Evidence = NOTHING,
    run_confusion: FloatArray | None = None,
    run_judgments: int = 0,
    model: WorkerModel = DEFAULT_MODEL,
) -> Evidence:
    """What the judge expects of one worker's accuracy, as evidence (`right` out of `seen`),
    from what `worker_confusion` weighs them by.

    The same sources, but nothing is clipped at chance (a worker below chance reads as such),
    and the crowd's `crowd_strength` pseudo-judgments are always in, so a worker nobody knows
    reads as the crowd and a run's matrix fitted on two votes moves them only a little.
    """
    history = (skill - job).clipped().capped(model.history_weight)
    known = job_gold.clipped() + history
    known += Evidence(model.crowd_strength * crowd.accuracy, model.crowd_strength)
    if run_confusion is None:
        return known
    in_run = float(np.asarray(priors, dtype=np.float64) @ np.diag(run_confusion))
    return known + Evidence(run_judgments * in_run, float(run_judgments))


def worker_served(
    *, accuracy: Evidence, n_labels: int, margin: float = SERVE_MARGIN, spread: float = 1.0
) -> bool:
    """Whether a dynamic job serves a worker whose expected accuracy is `accuracy`.

    Refused only when even `spread` standard deviations above their estimate they stay below
    the floor (`serving_floor`): their vote costs a judgment and moves the posterior little, so
    the item waits for the next worker. A refused worker adds no evidence to the job, so a
    refusal must not rest on a handful of votes: the doubt is what lets them back in.
    """
    seen = max(accuracy.seen, 1e-9)
    mean = min(max(accuracy.right / seen, 0.0), 1.0)
    doubt = math.sqrt(mean * (1.0 - mean) / (seen + 1.0))
    return mean + spread * doubt >= serving_floor(n_labels, margin=margin)


def crowd_of(result: ConsensusResult, *, fallback: float = DEFAULT_MODEL.crowd_accuracy) -> Crowd:
    """The run's typical worker: judgment-weighted mean accuracy and confusion of its workers."""
    weights = result.worker_judgments.astype(np.float64)
    if not len(weights) or weights.sum() <= 0:
        return Crowd(accuracy=fallback)
    share = weights / weights.sum()
    return Crowd(
        accuracy=float(share @ result.worker_accuracy),
        confusion=np.einsum("w,wtk->tk", share, result.confusions),
        priors=np.asarray(result.priors, dtype=np.float64),
    )


def run_evidence(
    result: ConsensusResult, votes: Votes, *, gold_items: npt.ArrayLike = ()
) -> dict[Hashable, Evidence]:
    """Each worker's share of a run, for their global skill: over their votes on regular items,
    `right` = the summed posterior probability of the label they gave, `seen` = the votes.

    Gold items are left out: their answers reach the skill one by one (`gold_evidence`).
    `votes` are the run's votes, `result` what `aggregate` made of them; the posteriors are those
    the workers were fitted with (`ConsensusResult.worker_basis`).
    """
    if not len(votes) or not len(result.items):
        return {}
    keep = ~np.isin(votes.items, np.asarray(gold_items))
    items, workers, codes = votes.items[keep], votes.workers[keep], votes.codes[keep]
    labels = {label: k for k, label in enumerate(result.labels)}
    remap = np.array([labels[label] for label in votes.label_set], dtype=np.int64)
    rows = np.searchsorted(result.items, items)
    right = result.worker_basis[rows, remap[codes]]
    names, index = np.unique(workers, return_inverse=True)
    sums = np.bincount(index, weights=right, minlength=len(names))
    counts = np.bincount(index, minlength=len(names))
    return {
        worker: Evidence(float(r), float(n))
        for worker, r, n in zip(names.tolist(), sums.tolist(), counts.tolist(), strict=True)
    }


def skill_changes(
    previous: Mapping[Hashable, Evidence], current: Mapping[Hashable, Evidence]
) -> dict[Hashable, Evidence]:
    """What a run adds to each worker's global skill: its share minus the job's previous run's.

    A worker the previous run counted and this one does not (their judgments were dropped) gets
    that share taken back.
    """
    changes = {worker: current[worker] - previous.get(worker, Evidence()) for worker in current}
    for worker in previous.keys() - current.keys():
        changes[worker] = Evidence() - previous[worker]
    return {worker: change for worker, change in changes.items() if change != Evidence()}

