"""How accurate are the labels a job delivered? An estimate on gold items held back from the fit.

The promise a tier makes ("at least 90 % of delivered labels are right") needs an estimate that
does not grade its own homework. Gold items are the only items whose truth we know, so:

1. **Fit without the gold item.** The job's own consensus method, with the job's own settings (the
   method and options of its latest run; "quorum", the default, otherwise) is fitted with no gold
   answer given and, by 2-fold cross-fitting, without any judgment of the gold items being scored:
   the confusion matrices that weigh a gold item's votes never saw a truth, nor those votes. The
   estimate is of the labels the job's method delivers, not of some other model's.
2. **Re-create a delivered item on each gold item.** For each gold item and each of `draws`
   rounds, draw how many judgments a regular item got (from the regular items' own counts, so
   dynamic overlap is mirrored) and label that many votes the way a delivered item is labelled:
   the posterior under the fitted model, argmax, ties to the label first in the label set.
   - A gold item with at least that many judgments gives a random subset of its own (scoring all
     of them would flatter the job: gold often collects more judgments than regular items).
   - A gold item with fewer gives all of its own, and the missing ones are *donor votes*: real
     judgments drawn at random from the other gold items with the same right answer. Scoring it
     on its 1-2 votes alone would grade a 5-vote delivery as a 1-vote one (the defect that made a
     job whose labels were 89 % right look 56 % right). Donor votes are real answers to a known
     truth, so the simulated vote is as good as the crowd really was on gold; votes simulated
     from the fitted confusion matrices instead would be scored by the model that made them up
     (a measured +0.03 bias on a 0.72 crowd).
3. **Score.** An item's score is the share of its draws that came out right; the estimate is the
   mean over gold items. The interval at `confidence` is the wider of two: the Wilson score
   interval with n = the number of gold items (each a delivered-label trial), and a bootstrap
   over gold items that redraws the donor pool with them (donor votes tie short items together:
   30 gold items of one judgment each are 30 votes of evidence, not 30 five-vote deliveries).

What it assumes, stated: workers cannot tell gold from regular items (the point of gold), gold
items are as hard as regular ones, the delivered labels come from the same model, and (for donor
votes only) a worker's answer depends on the item's true label, not on which item it is: the
Dawid-Skene assumption the delivered labels already rest on. It leans conservative: the delivered
labels were fitted *with* gold, which only helps them, and dynamic overlap stops early on easy
items, which the random count here does not exploit.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from math import sqrt
from statistics import NormalDist
from typing import Any

import numpy as np

from marketplace.consensus.aggregate import aggregate
from marketplace.consensus.em import EPS
from marketplace.consensus.encode import encode
from marketplace.consensus.types import TIE_EPSILON, FloatArray, IdArray, IntArray, Votes

METHOD = (
    "held-out gold: consensus method {consensus!r} fitted without gold answers and, by {folds}-fold cross-fitting, without "
    "the scored gold items' judgments; each gold item relabelled from as many "
    "of its judgments as a regular item got ({draws} random draws per item){donors}; {level:.0%} "
    "interval (the wider of Wilson and a bootstrap over gold items) over {n} gold items"
)
DONORS = (
    "; {short} of them had fewer judgments than a regular item, so {share:.0%} of the scored votes "
    "were real judgments of other gold items with the same answer"
)
#: Bootstrap replicates and draws per item in each (the point estimate uses `draws`).
BOOTSTRAP = 200
BOOTSTRAP_DRAWS = 5


@dataclass(frozen=True)
class DeliveredAccuracy:
    accuracy: float
    low: float
    high: float
    gold_items: int  # gold items with at least one judgment: the n of the interval
    draws: int
    method: str  # one sentence for the invoice
    short_gold_items: int = 0  # gold items with fewer judgments than a regular item
    donor_share: float = 0.0  # share of the scored votes that were donor votes


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


@dataclass(frozen=True)
class _Gold:
    """Every judged gold item's votes, as evidence under the fit that held the item out."""

    truth: IntArray  # (n,) right label code per gold item
    starts: IntArray  # (n + 1,) item g's votes are rows starts[g]:starts[g + 1]
    evidence: FloatArray  # (V, K) each vote's evidence under its own item's fold fit
    donor_evidence: FloatArray  # (folds, V, K) each vote's evidence under every fold's fit
    fold: IntArray  # (n,)
    log_prior: FloatArray  # (folds, K)

    @property
    def sizes(self) -> IntArray:
        return np.diff(self.starts)


def _scores(gold: _Gold, chosen: IntArray, counts: IntArray, draws: int,
            rng: np.random.Generator) -> tuple[FloatArray, float]:
    """Share of `draws` re-created deliveries labelled right, per gold item in `chosen` (indices
    into `gold`; repeats allowed, as in a bootstrap sample), and the share of donor votes.
    Donors come from the other items in `chosen` with the same truth. Whole-array numpy, in
    chunks of items so that gold items with hundreds of judgments stay within memory."""
    n, k_labels = len(chosen), gold.evidence.shape[1]
    m = gold.sizes[chosen]
    truth = gold.truth[chosen]
    # Donor pools: the chosen items' votes grouped by truth; item j's own votes are one block of
    # its pool, starting `block[j]` votes in, and are skipped when drawing its donors.
    by_truth = np.argsort(truth, kind="stable")
    rows = np.concatenate([np.arange(gold.starts[g], gold.starts[g + 1]) for g in chosen[by_truth]])
    pool_size = np.bincount(truth, weights=m, minlength=k_labels).astype(np.int64)
    pool_start = np.concatenate([[0], np.cumsum(pool_size)[:-1]])
    block = np.empty(n, dtype=np.int64)
    block[by_truth] = np.cumsum(m[by_truth]) - m[by_truth]
    block -= pool_start[truth]
    pool = _Pool(rows=rows, start=pool_start[truth], block=block, others=pool_size[truth] - m)
    scores, donated, total = np.empty(n), 0, 0
    step = max(1, 4_000_000 // (draws * int(m.max()) * k_labels))
    for lo in range(0, n, step):
        part = slice(lo, lo + step)
        right, used, wanted = _chunk(gold, chosen[part], pool.part(part), counts, draws, rng)
        scores[part], donated, total = right, donated + used, total + wanted
    return scores, donated / max(total, 1)


@dataclass(frozen=True)
class _Pool:
    rows: IntArray  # gold vote rows grouped by truth
    start: IntArray  # per chosen item: where its truth's pool starts in `rows`
    block: IntArray  # per chosen item: where its own votes sit within that pool
    others: IntArray  # per chosen item: donor votes available (its pool less its own)

    def part(self, part: slice) -> _Pool:
        return _Pool(self.rows, self.start[part], self.block[part], self.others[part])


def _chunk(gold: _Gold, chosen: IntArray, pool: _Pool, counts: IntArray, draws: int,
           rng: np.random.Generator) -> tuple[FloatArray, int, int]:
    """_scores for a chunk of items: (share right per item, donor votes used, votes scored)."""
    n = len(chosen)
    m, truth, fold = gold.sizes[chosen], gold.truth[chosen], gold.fold[chosen]
    want = rng.choice(counts, size=(n, draws)) if len(counts) else np.repeat(m[:, None], draws, axis=1)
    want = np.where(pool.others[:, None] > 0, want, np.minimum(want, m[:, None]))  # no donor: own only
    # Own votes: a random subset of min(want, m) of them, by ranking random keys.
    width = int(m.max())
    real = np.arange(width)[None, :] < m[:, None]
    own_rows = np.where(real, gold.starts[chosen][:, None] + np.arange(width)[None, :], 0)
    own = np.where(real[..., None], gold.evidence[own_rows], 0.0)  # (n, width, K)
    keys = np.where(real[:, None, :], rng.random((n, draws, width)), np.inf)
    rank = np.argsort(np.argsort(keys, axis=2), axis=2)
    picked = (rank < want[..., None]).astype(float)
    posterior = gold.log_prior[fold][:, None, :] + np.einsum("ndw,nwk->ndk", picked, own)
    missing = np.maximum(want - m[:, None], 0)
    if missing.any():
        depth = int(missing.max())
        u = np.floor(rng.random((n, draws, depth)) * np.maximum(pool.others, 1)[:, None, None])
        u = u.astype(np.int64)
        u = np.where(u >= pool.block[:, None, None], u + m[:, None, None], u)  # skip its own votes
        u = np.minimum(u + pool.start[:, None, None], len(pool.rows) - 1)
        donor = gold.donor_evidence[fold[:, None, None], pool.rows[u]]  # (n, draws, depth, K)
        used = (np.arange(depth)[None, None, :] < missing[..., None]).astype(float)
        posterior += np.einsum("ndp,ndpk->ndk", used, donor)
    best = posterior.max(axis=2, keepdims=True)
    label = np.argmax(posterior >= best - TIE_EPSILON, axis=2)  # ties: the first label in order
    return (label == truth[:, None]).mean(axis=1), int(missing.sum()), int(want.sum())


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
    method: str = "quorum",
    options: Mapping[str, Any] | None = None,
    bootstrap: int = BOOTSTRAP,
) -> DeliveredAccuracy | None:
    """The estimate described above; None when no gold item has a judgment.

    `regular_counts` are the judgment counts of the job's delivered (regular) items; empty means
    "use every judgment of the gold item". `method` and `options` (max_rounds, tol,
    prior_strength) are the job's consensus settings, passed to `aggregate` as they are.
    Deterministic for a given `seed`.
    """
    gold_enc = encode(votes, labels=labels, gold=gold)
    if not len(gold_enc.gold_rows):
        return None
    counts = np.asarray([c for c in regular_counts if c > 0], dtype=np.int64)
    rng = np.random.default_rng(seed)
    n = len(gold_enc.gold_rows)
    ends = np.append(gold_enc.item_starts[1:], gold_enc.n_votes)
    first, last = gold_enc.item_starts[gold_enc.gold_rows], ends[gold_enc.gold_rows]
    vote_rows = np.concatenate([np.arange(a, b) for a, b in zip(first, last, strict=True)])
    codes = gold_enc.codes[vote_rows]
    voters = gold_enc.workers[gold_enc.worker_idx[vote_rows]]
    # Cross-fitting: each fold's gold items are scored by a model fitted without their judgments,
    # so no worker's confusion matrix was learnt from the very votes it is asked to weigh.
    fold_of = rng.permutation(n) % folds
    owner = np.repeat(np.arange(n), last - first)
    donor_evidence = np.zeros((folds, len(vote_rows), len(labels)))
    log_prior = np.zeros((folds, len(labels)))
    for fold in range(folds):
        held = np.isin(votes.items, gold_enc.items[gold_enc.gold_rows[fold_of == fold]])
        train = Votes(items=votes.items[~held], workers=votes.workers[~held], codes=votes.codes[~held],
                      label_set=votes.label_set)
        if not len(train):  # nothing left to learn from: every label equally likely
            continue
        # No gold answers either: the fit never sees a truth.
        fit = aggregate(train, method=method, labels=labels, **dict(options or {}))
        log_conf = np.log(np.maximum(fit.confusions, EPS))
        log_pooled = np.log(np.maximum(fit.confusions.mean(axis=0), EPS))
        log_prior[fold] = np.log(np.maximum(fit.priors, EPS))
        donor_evidence[fold] = _vote_evidence(log_conf, log_pooled, fit.workers, voters, codes)
    # A gold item's own votes are weighed by its own fold's fit; donor votes by the receiver's.
    evidence = donor_evidence[fold_of[owner], np.arange(len(vote_rows))]
    data = _Gold(truth=gold_enc.gold_codes, starts=np.append(0, np.cumsum(last - first)), evidence=evidence,
                 donor_evidence=donor_evidence, fold=fold_of, log_prior=log_prior)
    everyone = np.arange(n)
    scores, donor_share = _scores(data, everyone, counts, draws, rng)
    accuracy = float(scores.mean())
    low, high = wilson_interval(accuracy, n, confidence)
    if bootstrap:  # resample gold items, and with them the donor pool
        means = [_scores(data, rng.choice(n, size=n), counts, BOOTSTRAP_DRAWS, rng)[0].mean()
                 for _ in range(bootstrap)]
        tail = (1 - confidence) / 2
        low = min(low, float(np.quantile(means, tail)))
        high = max(high, float(np.quantile(means, 1 - tail)))
    short = int((data.sizes < counts.max()).sum()) if len(counts) else 0
    donors = DONORS.format(short=short, share=donor_share) if donor_share else ""
    return DeliveredAccuracy(
        accuracy=accuracy,
        low=low,
        high=high,
        gold_items=n,
        draws=draws,
        method=METHOD.format(consensus=method, folds=folds, draws=draws, donors=donors, level=confidence, n=n),
        short_gold_items=short,
        donor_share=donor_share,
    )
