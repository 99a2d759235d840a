"""Crowds where plain Dawid-Skene goes wrong, with known truth (synthetic, seeded)."""

from __future__ import annotations

import numpy as np

from marketplace.consensus import ConsensusResult, aggregate, item_posterior
from marketplace.consensus.synthetic import Crowd, adversarial_crowd, sparse_crowd


def share_right(result: ConsensusResult, crowd: Crowd) -> float:
    # Synthetic item ids are 0..n-1 and every item has votes, so rows line up with the truth.
    assert np.array_equal(result.items, np.arange(len(crowd.truth)))
    return float(np.mean(result.label_index == crowd.truth))


def bayes_limit(crowd: Crowd) -> float:
    """Accuracy of an oracle that knows every worker's true confusion matrix."""
    votes = crowd.votes
    k = len(votes.label_set)
    confusions = dict(enumerate(crowd.confusions))
    right = 0
    for item in range(len(crowd.truth)):
        mine = votes.items == item
        pairs = zip(votes.workers[mine].tolist(), votes.codes[mine].tolist(), strict=True)
        posterior = item_posterior(confusions, np.full(k, 1.0 / k), pairs)
        right += int(np.argmax(posterior) == crowd.truth[item])
    return right / len(crowd.truth)


def test_with_occasional_workers_quorum_keeps_up_with_majority_vote_but_plain_ds_does_not() -> None:
    crowd = sparse_crowd(seed=7)  # 2,000 workers x 5 judgments, 80% good, 20% spammers
    _, per_worker = np.unique(crowd.votes.workers, return_counts=True)
    assert len(per_worker) > 1900 and np.median(per_worker) == 5

    majority = share_right(aggregate(crowd.votes, method="mv"), crowd)
    plain_ds = share_right(aggregate(crowd.votes, method="ds"), crowd)
    quorum = share_right(aggregate(crowd.votes), crowd)

    assert plain_ds < majority - 0.015  # the weak spot: a full matrix fitted from 5 points
    assert quorum >= majority


def test_against_spammers_and_constant_answerers_quorum_gets_close_to_the_bayes_limit() -> None:
    # 60% good (0.85), 20% uniform spammers, 20% always-the-same-label; 5 judgments per item.
    # Even an oracle that knows every worker tops out near 92% here: ~9% of items have at most
    # one good judgment. So the bar is "close to the oracle", and far above majority vote.
    crowd = adversarial_crowd(seed=3)
    limit = bayes_limit(crowd)
    quorum = share_right(aggregate(crowd.votes), crowd)
    majority = share_right(aggregate(crowd.votes, method="mv"), crowd)

    assert 0.90 <= limit <= 0.94
    assert quorum >= limit - 0.015
    assert quorum >= majority + 0.07


def test_against_spammers_and_constant_answerers_quorum_passes_95_percent_with_overlap_7() -> None:
    crowd = adversarial_crowd(seed=3, overlap=7)
    assert share_right(aggregate(crowd.votes), crowd) >= 0.95


def test_it_recognises_spammers_and_constant_answerers_as_carrying_no_evidence() -> None:
    crowd = adversarial_crowd(seed=3)
    result = aggregate(crowd.votes)
    accuracy = dict(zip(result.workers.tolist(), result.worker_accuracy.tolist(), strict=True))
    good = [accuracy[w] for w in range(60)]
    spam = [accuracy[w] for w in range(60, 80)]
    constant = [accuracy[w] for w in range(80, 100)]
    assert np.mean(good) > 0.8
    assert max(spam) < 0.45 and max(constant) < 0.45  # 4 labels: chance is 0.25
    assert min(good) > max(spam + constant) + 0.25
