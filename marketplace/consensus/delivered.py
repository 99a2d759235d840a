"""How accurate are the labels a job delivered? An estimate on gold items held back from the fit.

The promise a tier makes ("at least 90 % of delivered labels are right") needs an estimate that
does not grade its own homework. Gold items are the only items whose truth we know, so:

1. **Fit without the gold item.** Dawid-Skene ("quorum", the default method) is fitted with no
   gold answer given and, by 2-fold cross-fitting, without any judgment of the gold items being
   scored: the confusion matrices that weigh a gold item's votes never saw a truth, nor those votes.
2. **Re-create a delivered item on each gold item.** Gold items collect more judgments than
   regular items (every worker meets them), so their consensus would flatter the job. Instead, for
   each gold item and each of `draws` rounds, take as many of its judgments as a regular item got
   (drawn from the regular items' own judgment counts, so dynamic overlap is mirrored), at random
   without replacement, and label it the way a delivered item is labelled: the posterior from
   those votes under the fitted model, argmax, ties to the label first in the label set.
3. **Score.** An item's score is the share of its draws that came out right; the estimate is the
   mean over gold items. The interval is the Wilson score interval at `confidence` with n = the
   number of gold items (the unit of independent evidence: draws only average out which workers
   happened to answer, not which items were hard).

What it assumes, stated: workers cannot tell gold from regular items (the point of gold), gold
items are as hard as regular ones, and the delivered labels come from the same model. It leans
conservative: the delivered labels were fitted *with* gold, which only helps them, and dynamic
overlap stops early on easy items, which the random count here does not exploit.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from math import sqrt
from statistics import NormalDist

import numpy as np

from marketplace.consensus.em import EPS, dawid_skene
from marketplace.consensus.encode import encode
from marketplace.consensus.methods import DEFAULT_PRIOR_STRENGTH
from marketplace.consensus.types import TIE_EPSILON, FloatArray, IdArray, IntArray, Votes

METHOD = (
    "held-out gold: Dawid-Skene fitted without gold answers and, by {folds}-fold cross-fitting, without "
    "the scored gold items' judgments; each gold item relabelled from as many "
    "of its judgments as a regular item got ({draws} random draws per item); Wilson {level:.0%} "
    "interval over {n} gold items"
)


@dataclass(frozen=True)
class DeliveredAccuracy:
    accuracy: float
    low: float
    high: float
    gold_items: int  # gold items with at least one judgment: the n of the interval
    draws: int
    method: str  # one sentence for the invoice


def wilson_interval(p: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion p observed over n trials (0..1 when n == 0)."""
    if n <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _vote_evidence(log_conf: FloatArray, log_pooled: FloatArray, fitted: IdArray, voters: IdArray,
                   codes: IntArray) -> FloatArray:
    """Each vote's log-likelihood of every true label, log conf[worker, t, answered]: (votes, K).
    A worker seen only on held-out items has no fitted matrix; the crowd's average stands in."""
    if not len(fitted):
        return np.zeros((len(codes), log_pooled.shape[0]))
    position = np.minimum(np.searchsorted(fitted, voters), len(fitted) - 1)
    known = fitted[position] == voters
    return np.where(known[:, None], log_conf[position, :, codes], log_pooled[:, codes].T)


def _share_right(evidence: FloatArray, log_prior: FloatArray, truth: int, counts: IntArray, draws: int,
                 rng: np.random.Generator) -> float:
    """Share of `draws` random subsets of a gold item's votes (each as large as a regular item's
    judgment count) whose posterior argmax is the truth; all draws in one matrix product."""
    m = len(evidence)
    k = np.minimum(rng.choice(counts, size=draws), m) if len(counts) else np.full(draws, m)
    order = rng.permuted(np.tile(np.arange(m), (draws, 1)), axis=1)  # a random order per draw
    picked = np.zeros((draws, m))
    np.put_along_axis(picked, order, (np.arange(m)[None, :] < k[:, None]).astype(float), axis=1)
    posterior = log_prior[None, :] + picked @ evidence  # (draws, K), log scale
    best = posterior.max(axis=1, keepdims=True)
    chosen = np.argmax(posterior >= best - TIE_EPSILON, axis=1)  # ties: the first label in order
    return float(np.mean(chosen == truth))


def delivered_accuracy(
    votes: Votes,
    *,
    gold: Mapping[Hashable, str],
    labels: Sequence[str],
    regular_counts: Sequence[int],
    draws: int = 25,
    folds: int = 2,
    seed: int = 0,
    confidence: float = 0.95,
    prior_strength: float = DEFAULT_PRIOR_STRENGTH,
    max_rounds: int = 100,
    tol: float = 1e-4,
) -> DeliveredAccuracy | None:
    """The estimate described above; None when no gold item has a judgment.

    `regular_counts` are the judgment counts of the job's delivered (regular) items; empty means
    "use every judgment of the gold item". Deterministic for a given `seed`.
    """
    gold_enc = encode(votes, labels=labels, gold=gold)
    if not len(gold_enc.gold_rows):
        return None
    counts = np.asarray([c for c in regular_counts if c > 0], dtype=np.int64)
    rng = np.random.default_rng(seed)
    ends = np.append(gold_enc.item_starts[1:], gold_enc.n_votes)
    # Cross-fitting: each fold's gold items are scored by a model fitted without their judgments,
    # so no worker's confusion matrix was learnt from the very votes it is asked to weigh.
    fold_of = rng.permutation(len(gold_enc.gold_rows)) % folds
    scores = np.empty(len(gold_enc.gold_rows))
    for fold in range(folds):
        members = np.flatnonzero(fold_of == fold)
        if not len(members):
            continue
        held = np.isin(votes.items, gold_enc.items[gold_enc.gold_rows[members]])
        train = Votes(items=votes.items[~held], workers=votes.workers[~held], codes=votes.codes[~held],
                      label_set=votes.label_set)
        enc = encode(train, labels=labels)  # no gold answers either: the fit never sees a truth
        if enc.n_votes:
            fit = dawid_skene(enc, prior_strength=prior_strength, max_rounds=max_rounds, tol=tol)
            log_conf = np.log(np.maximum(fit.confusions, EPS))
            log_pooled = np.log(np.maximum(fit.confusions.mean(axis=0), EPS))
            log_prior = np.log(np.maximum(fit.priors, EPS))
        else:  # nothing left to learn from: every label equally likely
            log_conf = np.empty((0, len(labels), len(labels)))
            log_pooled = np.zeros((len(labels), len(labels)))
            log_prior = np.zeros(len(labels))
        for g in members:
            row, truth = int(gold_enc.gold_rows[g]), int(gold_enc.gold_codes[g])
            start, end = int(gold_enc.item_starts[row]), int(ends[row])
            codes = gold_enc.codes[start:end]
            voters = gold_enc.workers[gold_enc.worker_idx[start:end]]
            evidence = _vote_evidence(log_conf, log_pooled, enc.workers, voters, codes)
            scores[g] = _share_right(evidence, log_prior, truth, counts, draws, rng)
    n = len(scores)
    accuracy = float(scores.mean())
    low, high = wilson_interval(accuracy, n, confidence)
    return DeliveredAccuracy(
        accuracy=accuracy,
        low=low,
        high=high,
        gold_items=n,
        draws=draws,
        method=METHOD.format(folds=folds, draws=draws, level=confidence, n=n),
    )
