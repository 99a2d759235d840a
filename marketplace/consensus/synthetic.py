"""Seeded synthetic crowds with known truth, for tests and benchmarks.

Each worker answers from their own confusion matrix (row = true label); each item is judged by
`overlap` distinct workers drawn uniformly, so with many workers each one is occasional.

`named_crowd(name, seed=...)` gives the bench's crowds (CROWDS), each with NAMED_OVERLAP
judgments per item so that subsamples of K = 2, 3 and 5 stay below the full data:

- "sparse": 3,000 occasional workers with ~5 judgments each (80% good, 20% spammers), binary;
- "adversarial": 60% good workers, 20% uniform spammers, 20% constant answerers, 4 labels;
- "many-classes": 10 labels; 70% one-coin workers of varied skill, 15% who mix each class up
  with the next one, 15% spammers;
- "skewed": binary with one class 90% of items; workers are better on the common class than on
  the rare one, and 10% always answer the common class;
- "small-job": 20 workers over 6 labels, shaped like the simulator's crowd (good, noisy,
  spammers, constant answerers; each worker's own mistakes);
- "power-law": 300 workers whose activity falls as 1/rank^1.2, two of the top five bad, 4 labels;
- "twin-classes": 30 labels in confusable pairs, 200 workers, 10% spammers;
- "rare": binary 99.5 : 0.5, 6,000 items (about 30 rare ones).
"""

from __future__ import annotations

from collections.abc import Callable
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
    rng: np.random.Generator, n_items: int, overlap: int, n_workers: int, activity: FloatArray | None = None
) -> IntArray:
    """(n_items, overlap) worker indices, distinct within each row; each worker drawn in
    proportion to `activity` (default: alike)."""
    if overlap > n_workers:
        raise ValueError("overlap cannot exceed the number of workers")

    def draw(rows: int) -> IntArray:
        if activity is None:
            return rng.integers(0, n_workers, size=(rows, overlap))
        return rng.choice(n_workers, size=(rows, overlap), p=activity / activity.sum())

    chosen = draw(n_items)
    while True:
        ordered = np.sort(chosen, axis=1)
        clash = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
        if not clash.any():
            return chosen
        chosen[clash] = draw(int(clash.sum()))


def synthetic_crowd(
    *,
    confusions: FloatArray,
    n_items: int,
    overlap: int,
    seed: int,
    class_priors: FloatArray | None = None,
    activity: FloatArray | None = None,
) -> Crowd:
    """Votes of workers with the given (workers, K, K) confusion matrices on `n_items` items;
    `activity`: each worker's relative share of the judgments (default: alike)."""
    n_workers, n_labels, _ = confusions.shape
    rng = np.random.default_rng(seed)
    priors = np.full(n_labels, 1.0 / n_labels) if class_priors is None else class_priors
    truth = rng.choice(n_labels, size=n_items, p=priors)
    workers = _distinct_workers(rng, n_items, overlap, n_workers, activity).ravel()
    items = np.repeat(np.arange(n_items, dtype=np.int64), overlap)
    # Inverse-CDF sampling of each answer from its worker's row for the item's true label.
    cdf = np.cumsum(confusions[workers, truth[items]], axis=1)
    draws = rng.random(len(items))[:, np.newaxis]
    codes = np.minimum((draws > cdf).sum(axis=1), n_labels - 1).astype(np.int64)
    label_set = tuple(f"L{k}" for k in range(n_labels))
    votes = Votes(items=items, workers=workers.astype(np.int64), codes=codes, label_set=label_set)
    return Crowd(votes=votes, truth=truth.astype(np.int64), confusions=confusions)


def sparse_crowd(
    *, seed: int, n_workers: int = 2000, per_worker: int = 5, overlap: int = 5
) -> Crowd:
    """Many occasional workers, most of them good: 80% answer right 85% of the time (binary),
    20% are uniform spammers; about `per_worker` judgments each, `overlap` per item."""
    rng = np.random.default_rng(seed)
    good = rng.random(n_workers) < 0.8
    confusions = np.stack([good_worker(0.85, 2) if g else spammer(2) for g in good])
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


def next_class_confuser(right: float, next_share: float, n_labels: int) -> FloatArray:
    """Right with probability `right`, the next label (cyclically) with `next_share`, any other
    label with the rest spread evenly: a worker who mixes up neighbouring classes."""
    others = (1.0 - right - next_share) / (n_labels - 2)
    matrix = np.full((n_labels, n_labels), others)
    rows = np.arange(n_labels)
    matrix[rows, rows] = right
    matrix[rows, (rows + 1) % n_labels] = next_share
    return matrix


def many_classes_crowd(
    *, seed: int, n_labels: int = 10, n_workers: int = 150, n_items: int = 2000, overlap: int = 7
) -> Crowd:
    """Many labels: 70% one-coin workers with an accuracy between 0.45 and 0.9, 15% who answer
    the next class 30% of the time (right 60%), 15% uniform spammers."""
    if n_labels < 3:
        raise ValueError("a many-classes crowd needs at least 3 labels")
    rng = np.random.default_rng(seed)
    kind = rng.choice(3, size=n_workers, p=[0.7, 0.15, 0.15])
    skill = rng.uniform(0.45, 0.9, size=n_workers)
    confusions = np.stack(
        [
            good_worker(a, n_labels)
            if k == 0
            else next_class_confuser(0.6, 0.3, n_labels)
            if k == 1
            else spammer(n_labels)
            for a, k in zip(skill, kind, strict=True)
        ]
    )
    return synthetic_crowd(confusions=confusions, n_items=n_items, overlap=overlap, seed=seed)


def skewed_crowd(
    *, seed: int, common: float = 0.9, n_workers: int = 100, n_items: int = 2000, overlap: int = 7
) -> Crowd:
    """Binary, label L0 on a `common` share of items. Workers are right 75-95% of the time on
    L0 items but 55-80% on L1 items; 10% answer L0 whatever they see (right 90% of the time)."""
    rng = np.random.default_rng(seed)
    on_common = rng.uniform(0.75, 0.95, size=n_workers)
    on_rare = rng.uniform(0.55, 0.8, size=n_workers)
    lazy = rng.random(n_workers) < 0.1
    confusions = np.stack(
        [
            constant_answerer(0, 2) if z else np.array([[c, 1.0 - c], [1.0 - r, r]])
            for c, r, z in zip(on_common, on_rare, lazy, strict=True)
        ]
    )
    priors = np.array([common, 1.0 - common])
    return synthetic_crowd(
        confusions=confusions, n_items=n_items, overlap=overlap, seed=seed, class_priors=priors
    )


def dirichlet_worker(rng: np.random.Generator, right: float, n_labels: int) -> FloatArray:
    """Right with probability `right`; the errors spread over the other labels with weights of a
    Dirichlet(1) draw per true label, so each worker has mistakes of their own."""
    matrix = np.zeros((n_labels, n_labels))
    for row in range(n_labels):
        weights = rng.exponential(1.0, n_labels)
        weights[row] = 0.0
        matrix[row] = (1.0 - right) * weights / weights.sum()
        matrix[row, row] = right
    return matrix


def small_job_crowd(
    *, seed: int, n_labels: int = 6, n_workers: int = 20, n_items: int = 170, overlap: int = 3
) -> Crowd:
    """A small job with many labels, shaped like the simulator's crowd (`manage.py simulate`):
    half good workers (right 85-95 %), a fifth noisy (58-72 %), a tenth each of uniform
    spammers and constant answerers and the rest spammers too, each error spread over the
    other labels at random; about 25 judgments per worker, fewer than the 30 free cells of a
    6-label confusion matrix."""
    rng = np.random.default_rng(seed)
    kinds = rng.permutation(["good"] * (n_workers // 2) + ["noisy"] * (n_workers // 5)
                            + ["constant"] * (n_workers // 10)
                            + ["spammer"] * (n_workers - n_workers // 2 - n_workers // 5 - n_workers // 10))
    confusions = np.stack([
        dirichlet_worker(rng, rng.uniform(0.85, 0.95), n_labels) if kind == "good"
        else dirichlet_worker(rng, rng.uniform(0.58, 0.72), n_labels) if kind == "noisy"
        else constant_answerer(int(rng.integers(n_labels)), n_labels) if kind == "constant"
        else spammer(n_labels)
        for kind in kinds
    ])
    return synthetic_crowd(confusions=confusions, n_items=n_items, overlap=overlap, seed=seed)


def power_law_crowd(*, seed: int, n_labels: int = 4, n_workers: int = 300, n_items: int = 3000, overlap: int = 7) -> Crowd:
    """A few prolific workers do most of the work (activity 1/rank^1.2: the top 10 give about
    half the judgments, most workers a handful), and two of the top five are bad: the second
    answers at random, the fourth always the same label. The rest are right 60-90 % of the time."""
    rng = np.random.default_rng(seed)
    confusions = np.stack([good_worker(a, n_labels) for a in rng.uniform(0.6, 0.9, n_workers)])
    confusions[1] = spammer(n_labels)
    confusions[3] = constant_answerer(int(rng.integers(n_labels)), n_labels)
    activity = 1.0 / np.arange(1, n_workers + 1) ** 1.2
    return synthetic_crowd(confusions=confusions, n_items=n_items, overlap=overlap, seed=seed, activity=activity)


def twin_classes_crowd(*, seed: int, n_labels: int = 30, n_workers: int = 200, n_items: int = 2000,
                       overlap: int = 7) -> Crowd:
    """Many classes in confusable pairs (0/1, 2/3, ...: an image-category set's look-alikes): each
    worker is right 50-90 % of the time and takes the twin class 5-30 % of it, any other label
    the rest; 10 % answer at random."""
    if n_labels < 4 or n_labels % 2:
        raise ValueError("a twin-classes crowd needs an even number of labels, at least 4")
    rng = np.random.default_rng(seed)
    rows = np.arange(n_labels)
    matrices = []
    for right, twin in zip(rng.uniform(0.5, 0.9, n_workers), rng.uniform(0.05, 0.3, n_workers), strict=True):
        twin = min(twin, 0.95 - right)
        matrix = np.full((n_labels, n_labels), (1.0 - right - twin) / (n_labels - 2))
        matrix[rows, rows] = right
        matrix[rows, rows ^ 1] = twin
        matrices.append(matrix)
    confusions = np.stack(matrices)
    confusions[rng.random(n_workers) < 0.1] = spammer(n_labels)
    return synthetic_crowd(confusions=confusions, n_items=n_items, overlap=overlap, seed=seed)


def rare_class_crowd(*, seed: int, rare: float = 0.005, n_workers: int = 200, n_items: int = 6000,
                     overlap: int = 7) -> Crowd:
    """Binary, 99.5 : 0.5: workers are right 85-98 % of the time on the common class and 60-90 % on
    the rare one (about 30 rare items in all)."""
    rng = np.random.default_rng(seed)
    common, scarce = rng.uniform(0.85, 0.98, n_workers), rng.uniform(0.6, 0.9, n_workers)
    confusions = np.stack([np.array([[c, 1.0 - c], [1.0 - r, r]]) for c, r in zip(common, scarce, strict=True)])
    return synthetic_crowd(confusions=confusions, n_items=n_items, overlap=overlap, seed=seed,
                           class_priors=np.array([1.0 - rare, rare]))


#: Judgments per item in every named crowd (the bench's "full" column).
NAMED_OVERLAP = 7

CROWDS: dict[str, Callable[[int], Crowd]] = {
    "sparse": lambda seed: sparse_crowd(seed=seed, n_workers=3000, overlap=NAMED_OVERLAP),
    "adversarial": lambda seed: adversarial_crowd(seed=seed, overlap=NAMED_OVERLAP),
    "many-classes": lambda seed: many_classes_crowd(seed=seed, overlap=NAMED_OVERLAP),
    "skewed": lambda seed: skewed_crowd(seed=seed, overlap=NAMED_OVERLAP),
    "small-job": lambda seed: small_job_crowd(seed=seed, overlap=NAMED_OVERLAP),
    "power-law": lambda seed: power_law_crowd(seed=seed, overlap=NAMED_OVERLAP),
    "twin-classes": lambda seed: twin_classes_crowd(seed=seed, overlap=NAMED_OVERLAP),
    "rare": lambda seed: rare_class_crowd(seed=seed, overlap=NAMED_OVERLAP),
}


def named_crowd(name: str, *, seed: int) -> Crowd:
    """One of CROWDS, seeded; ValueError names the choices."""
    try:
        return CROWDS[name](seed)
    except KeyError:
        raise ValueError(f"unknown crowd {name!r}; choose from {', '.join(CROWDS)}") from None


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
