"""Seeded synthetic crowds with known truth, for tests and benchmarks.

Each worker answers from their own confusion matrix (row = true label); each item is judged by
`overlap` distinct workers drawn uniformly, so with many workers each one is occasional.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from marketplace.consensus.posterior import one_coin_confusion
from marketplace.consensus.types import FloatArray, IntArray, Votes


@dataclass(frozen=True)
class Crowd:
    votes: Votes  # integer item ids 0..n_items-1, integer worker ids 0..n_workers-1
    truth: IntArray  # true label code per item id
    confusions: FloatArray  # (workers, true, answered): how each worker id really answers

    def truth_map(self) -> dict[int, str]:
        names = self.votes.label_set
        return {i: names[code] for i, code in enumerate(self.truth.tolist())}


def good_worker(accuracy: float, n_labels: int) -> FloatArray:
    return one_coin_confusion(accuracy, n_labels)


def spammer(n_labels: int) -> FloatArray:
    """Answers uniformly at random whatever the truth."""
    return np.full((n_labels, n_labels), 1.0 / n_labels)


def constant_answerer(label: int, n_labels: int) -> FloatArray:
    """Always gives the same label."""
    matrix = np.zeros((n_labels, n_labels))
    matrix[:, label] = 1.0
    return matrix


def _distinct_workers(
    rng: np.random.Generator, n_items: int, overlap: int, n_workers: int
) -> IntArray:
    """(n_items, overlap) worker indices, distinct within each row."""
    if overlap > n_workers:
        raise ValueError("overlap cannot exceed the number of workers")
    chosen = rng.integers(0, n_workers, size=(n_items, overlap))
    while True:
        ordered = np.sort(chosen, axis=1)
        clash = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
        if not clash.any():
            return chosen
        chosen[clash] = rng.integers(0, n_workers, size=(int(clash.sum()), overlap))


def synthetic_crowd(
    *,
    confusions: FloatArray,
    n_items: int,
    overlap: int,
    seed: int,
    class_priors: FloatArray | None = None,
) -> Crowd:
    """Votes of workers with the given (workers, K, K) confusion matrices on `n_items` items."""
    n_workers, n_labels, _ = confusions.shape
    rng = np.random.default_rng(seed)
    priors = np.full(n_labels, 1.0 / n_labels) if class_priors is None else class_priors
    truth = rng.choice(n_labels, size=n_items, p=priors)
    workers = _distinct_workers(rng, n_items, overlap, n_workers).ravel()
    items = np.repeat(np.arange(n_items, dtype=np.int64), overlap)
    # Inverse-CDF sampling of each answer from its worker's row for the item's true label.
    cdf = np.cumsum(confusions[workers, truth[items]], axis=1)
    draws = rng.random(len(items))[:, np.newaxis]
    codes = np.minimum((draws > cdf).sum(axis=1), n_labels - 1).astype(np.int64)
    label_set = tuple(f"L{k}" for k in range(n_labels))
    votes = Votes(items=items, workers=workers.astype(np.int64), codes=codes, label_set=label_set)
    return Crowd(votes=votes, truth=truth.astype(np.int64), confusions=confusions)


def sparse_crowd(*, seed: int, n_workers: int = 2000, per_worker: int = 5) -> Crowd:
    """Many occasional workers, most of them good: 80% answer right 85% of the time (binary),
    20% are uniform spammers; about `per_worker` judgments each, 5 per item."""
    rng = np.random.default_rng(seed)
    good = rng.random(n_workers) < 0.8
    confusions = np.stack([good_worker(0.85, 2) if g else spammer(2) for g in good])
    overlap = 5
    return synthetic_crowd(
        confusions=confusions, n_items=n_workers * per_worker // overlap, overlap=overlap, seed=seed
    )


def adversarial_crowd(
    *, seed: int, n_workers: int = 100, n_items: int = 2000, n_labels: int = 4, overlap: int = 5
) -> Crowd:
    """60% good workers (accuracy 0.85), 20% uniform spammers, 20% constant answerers."""
    n_good, n_spam = int(0.6 * n_workers), int(0.2 * n_workers)
    rng = np.random.default_rng(seed)
    confusions = np.stack(
        [good_worker(0.85, n_labels)] * n_good
        + [spammer(n_labels)] * n_spam
        + [
            constant_answerer(int(rng.integers(n_labels)), n_labels)
            for _ in range(n_workers - n_good - n_spam)
        ]
    )
    return synthetic_crowd(confusions=confusions, n_items=n_items, overlap=overlap, seed=seed)


def benchmark_crowd(*, n_judgments: int, seed: int = 0, n_labels: int = 3) -> Crowd:
    """A large, mixed crowd for timing: ~100 judgments per worker, 85% of workers with an
    accuracy between 0.6 and 0.95, 15% spammers; 5 judgments per item."""
    overlap = 5
    n_workers = max(n_judgments // 100, overlap)
    rng = np.random.default_rng(seed)
    skill = rng.uniform(0.6, 0.95, size=n_workers)
    is_spammer = rng.random(n_workers) < 0.15
    confusions = np.stack(
        [spammer(n_labels) if s else good_worker(a, n_labels) for a, s in zip(skill, is_spammer)]
    )
    return synthetic_crowd(
        confusions=confusions, n_items=n_judgments // overlap, overlap=overlap, seed=seed
    )


@dataclass(frozen=True)
class GoldCrowd:
    """A job's crowd: regular items 0..regular-1, then gold items with their known answers."""

    votes: Votes
    truth: IntArray  # true label code per item id, regular and gold
    regular: int
    gold: dict[int, str]  # gold item id -> right label


def crowd_with_gold(
    *, confusions: FloatArray, regular: int, gold: int, overlap: int, gold_judgments: int, seed: int
) -> GoldCrowd:
    """Regular items judged by `overlap` workers each and gold items by `gold_judgments` each,
    all by the same workers (gold share and gold judgment count vary apart, as in a marketplace
    where gold is served at a rate and may be spread thin over many gold items)."""
    body = synthetic_crowd(confusions=confusions, n_items=regular, overlap=overlap, seed=seed)
    extra = synthetic_crowd(confusions=confusions, n_items=gold, overlap=gold_judgments, seed=seed + 1000)
    names = body.votes.label_set
    votes = Votes(
        items=np.concatenate([body.votes.items, extra.votes.items + regular]),
        workers=np.concatenate([body.votes.workers, extra.votes.workers]),
        codes=np.concatenate([body.votes.codes, extra.votes.codes]),
        label_set=names,
    )
    answers = {regular + i: names[code] for i, code in enumerate(extra.truth.tolist())}
    return GoldCrowd(votes=votes, truth=np.concatenate([body.truth, extra.truth]), regular=regular, gold=answers)
