"""A real crowd as the replay sees it (dense integer codes), and a simulated model's predictions
for it, and the skill its workers earned before a replay: PURE (no Django). `dynamic_replay`
replays them."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np

from marketplace.consensus.aggregate import aggregate
from marketplace.consensus.dynamic import Evidence, gold_evidence, run_evidence
from marketplace.consensus.types import IntArray, Votes


@dataclass(frozen=True)
class Crowdset:
    """A crowd as dense integer codes: vote i says worker `workers[i]` gave `items[i]` `codes[i]`.

    `truth[item]` is the true label code, or -1 where unknown (such items are never scored).
    """

    items: IntArray
    workers: IntArray
    codes: IntArray
    truth: IntArray
    labels: tuple[str, ...]
    n_workers: int

    @classmethod
    def from_votes(cls, votes: Votes, truth: Mapping[Hashable, str]) -> Crowdset:
        """Codes for `votes`; `truth` maps item ids (or their str) to labels."""
        truth = {str(item): label for item, label in truth.items()}
        item_ids, items = np.unique(votes.items, return_inverse=True)
        worker_ids, workers = np.unique(votes.workers, return_inverse=True)
        position = {label: k for k, label in enumerate(votes.label_set)}
        codes = np.array([position.get(truth.get(str(i), ""), -1) for i in item_ids.tolist()])
        return cls(
            items, workers, votes.codes, codes.astype(np.int64), votes.label_set, len(worker_ids)
        )

    def subset(self, keep: np.ndarray) -> Votes:
        return Votes(
            items=self.items[keep],
            workers=self.workers[keep],
            codes=self.codes[keep],
            label_set=self.labels,
        )


def simulated_model(crowd: Crowdset, accuracy: float, *, seed: int) -> IntArray:
    """A model's prediction per item: the truth with probability `accuracy`, else one of the
    other labels alike; -1 (no prediction) where the truth is unknown. Its own seeded stream, so
    its errors are independent of the crowd's and of the arrival order."""
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError("the model's accuracy must be between 0 and 1")
    k = len(crowd.labels)
    rng = np.random.default_rng([seed, 2])
    right = rng.random(len(crowd.truth)) < accuracy
    wrong = (crowd.truth + rng.integers(1, max(k, 2), len(crowd.truth))) % max(k, 1)
    predicted = np.where(right, crowd.truth, wrong)
    return np.where(crowd.truth >= 0, predicted, -1).astype(np.int64)


def history_skill(
    crowd: Crowdset, history: np.ndarray | None, *, gold: float = 0.0, seed: int = 0
) -> dict[int, Evidence]:
    """Each worker's skill from their earlier work (`history`, a vote mask), as the product books
    it: that work's consensus run's share (`run_evidence`); with `gold`, a seeded share of its
    items with a truth were gold, whose answers count right or wrong instead (`gold_evidence`)."""
    if history is None or not history.any():
        return {}
    votes = crowd.subset(history)
    items = np.unique(votes.items)
    known = items[crowd.truth[items] >= 0]
    golds = known[np.random.default_rng([seed, 4]).random(len(known)) < gold]
    skill: dict[int, Evidence] = run_evidence(aggregate(votes), votes, gold_items=golds)  # type: ignore[assignment]
    on_gold = np.isin(votes.items, golds)
    answers = zip(votes.workers[on_gold], votes.items[on_gold], votes.codes[on_gold], strict=True)
    for worker, item, code in answers:
        right = gold_evidence(correct=bool(code == crowd.truth[item]))
        skill[int(worker)] = skill.get(int(worker), Evidence()) + right
    return skill
