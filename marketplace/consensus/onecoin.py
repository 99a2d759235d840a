"""One-coin Dawid-Skene in numpy: one accuracy per worker instead of a confusion matrix.

Where a worker has few judgments per cell of a full confusion matrix (many classes, or
occasional workers), the matrix is noise and one number - how often they are right - is what
the data can carry. Each worker's accuracy is shrunk towards the crowd's with `pseudo` votes
(so five judgments do not make anyone perfect), the crowd's accuracy is held above chance by
DOMINANCE_MARGIN (a crowd that is "right" less often than chance is a collapsed fit, not a
finding), and a wrong answer is spread over the other labels evenly. Otherwise it is EM as in
em.py: majority-vote start, gold clamped after every E-step, the same stopping rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from marketplace.consensus.em import DOMINANCE_MARGIN, EmFit, clamp_gold, majority_posteriors, run_em
from marketplace.consensus.encode import Encoded
from marketplace.consensus.types import FloatArray

#: Judgments' worth of the crowd's accuracy added to every worker's record.
ONE_COIN_PSEUDO_VOTES = 5.0


def one_coin_matrices(accuracy: FloatArray, n_labels: int, *, floor: float = 1e-6) -> FloatArray:
    """(workers, K, K): right with each worker's accuracy (kept `floor` away from 0 and 1),
    otherwise any other label alike."""
    accuracy = np.clip(accuracy, floor, 1.0 - floor)
    off = (1.0 - accuracy) / max(n_labels - 1, 1)
    matrices = np.broadcast_to(off[:, np.newaxis, np.newaxis], (len(accuracy), n_labels, n_labels)).copy()
    matrices[:, np.arange(n_labels), np.arange(n_labels)] = accuracy[:, np.newaxis]
    return matrices


def one_coin_accuracy(enc: Encoded, posteriors: FloatArray, pseudo: float) -> FloatArray:
    """Each worker's expected share right, shrunk towards the crowd's (held above chance)."""
    k = enc.n_labels
    judged = np.bincount(enc.worker_idx, minlength=enc.n_workers).astype(np.float64)
    right = np.bincount(enc.worker_idx, weights=posteriors[enc.item_idx, enc.codes], minlength=enc.n_workers)
    crowd = max(float(right.sum() / max(judged.sum(), 1.0)), 1.0 / k + DOMINANCE_MARGIN)
    accuracy: FloatArray = (right + pseudo * crowd) / (judged + pseudo)
    return accuracy


@dataclass(frozen=True)
class OneCoin:
    """One-coin confusions as the workers' accuracies: a vote's log-likelihood is its worker's
    log accuracy under its own label and log((1 - accuracy) / (K - 1)) under the others, so a
    round needs no (workers, K, K) matrices (em.py, ConfusionModel)."""

    accuracy: FloatArray  # (workers,), unclipped
    n_labels: int
    floor: float = 1e-6

    def vote_log(self, enc: Encoded) -> FloatArray:
        accuracy = np.clip(self.accuracy, self.floor, 1.0 - self.floor)  # as one_coin_matrices
        off = (1.0 - accuracy) / max(self.n_labels - 1, 1)
        per_vote = np.repeat(np.log(off)[enc.worker_idx][np.newaxis, :], self.n_labels, axis=0)
        per_vote[enc.codes, np.arange(enc.n_votes)] = np.log(accuracy)[enc.worker_idx]
        return per_vote

    def dense(self) -> FloatArray:
        return one_coin_matrices(self.accuracy, self.n_labels, floor=self.floor)


def one_coin_em(enc: Encoded, *, pseudo: float = ONE_COIN_PSEUDO_VOTES, max_rounds: int, tol: float) -> EmFit:
    """One-coin EM from majority vote until no posterior moves by `tol` or `max_rounds` pass."""
    return run_em(
        enc,
        lambda posteriors: OneCoin(one_coin_accuracy(enc, posteriors, pseudo), enc.n_labels),
        max_rounds=max_rounds,
        tol=tol,
    )


#: A single vote's weight is never below chance plus this (a worker worse than chance on a few gold
#: items is not read as a reliable liar) nor above ONE_COIN_CAP (no judgment alone is certain).
CHANCE_MARGIN = 0.01
ONE_COIN_CAP = 0.99


def gold_one_coin(enc: Encoded, *, pseudo: float = ONE_COIN_PSEUDO_VOTES) -> EmFit:
    """Where items are judged once (or nearly), agreement says little of anyone's accuracy, and a
    vote on an item nobody else judged says nothing: EM, or agreement with majority vote, finds
    every worker right on every item they alone judged, and every such label certain. So a worker's
    accuracy is measured only where it can be: their answers on gold (against the answer) and on
    regular items someone else judged too (agreement with the items' majority vote, as one-coin EM
    starts), shrunk by `pseudo` answers towards the crowd's share on those; with none anywhere,
    towards halfway between chance and always right (a guess, and `why` says so). Each item's
    posterior is then its votes weighed by those accuracies, one-coin, under uniform class priors:
    one vote gives its label at its worker's accuracy, several the weighted vote (all alike: the
    majority vote). The class priors are uniform, and returned so: the labels' shares would be the
    votes' own, which nothing here corrects, and whatever reads them (the unaided gold labels,
    dynamic overlap's single-item E-step) must weigh votes as these labels were weighed."""
    k = enc.n_labels
    truth = np.full(enc.n_items, -1, dtype=np.int64)
    truth[enc.gold_rows] = enc.gold_codes
    on_gold = truth[enc.item_idx] >= 0
    shared = (np.diff(np.append(enc.item_starts, enc.n_votes)) >= 2)[enc.item_idx] & ~on_gold
    score = np.where(on_gold, enc.codes == truth[enc.item_idx], majority_posteriors(enc)[enc.item_idx, enc.codes])
    counted = on_gold | shared
    seen = np.bincount(enc.worker_idx, weights=counted.astype(np.float64), minlength=enc.n_workers)
    right = np.bincount(enc.worker_idx, weights=np.where(counted, score, 0.0), minlength=enc.n_workers)
    guess = (1.0 + 1.0 / max(k, 1)) / 2.0
    crowd = (right.sum() + pseudo * guess) / (seen.sum() + pseudo)
    accuracy = np.clip((right + pseudo * crowd) / (seen + pseudo), 1.0 / max(k, 1) + CHANCE_MARGIN, ONE_COIN_CAP)
    model = OneCoin(accuracy, k)
    log_post = np.add.reduceat(model.vote_log(enc), enc.item_starts, axis=1).T
    log_post -= log_post.max(axis=1, keepdims=True)
    posteriors = np.exp(log_post)
    posteriors /= posteriors.sum(axis=1, keepdims=True)
    return EmFit(clamp_gold(enc, posteriors), model.dense(), np.full(k, 1.0 / max(k, 1)), 0, True)
