"""Consensus: infer item labels and worker quality from crowd judgments.

PURE: no Django, no database, no other `marketplace` app; the only place in the project that
imports crowd-kit. Inputs and outputs are numpy arrays, plain Python and dataclasses; pandas is
used inside (crowd-kit needs it) but never handed out.

    votes = Votes.from_labels(item_ids, worker_ids, labels, label_set=["cat", "dog"])
    result = aggregate(votes, gold={17: "cat"})          # method="quorum" by default
    result.label_of(42), result.confidence_of(42), result.confusion_of(worker_id)
"""

from marketplace.consensus.aggregate import (
    DEFAULT_MAX_ROUNDS,
    DEFAULT_TOL,
    aggregate,
    choose_labels,
)
from marketplace.consensus.datasets import (
    REPEATS,
    Dataset,
    accuracy,
    answers_file,
    load_dataset,
    resolve_repeats,
    scored_count,
    split_gold,
    subsample,
)
from marketplace.consensus.encode import keep_last_judgment
from marketplace.consensus.methods import DEFAULT_PRIOR_STRENGTH, METHODS
from marketplace.consensus.posterior import item_posterior, one_coin_confusion
from marketplace.consensus.types import TIE_EPSILON, ConsensusResult, Votes

__all__ = [
    "DEFAULT_MAX_ROUNDS",
    "DEFAULT_PRIOR_STRENGTH",
    "DEFAULT_TOL",
    "METHODS",
    "REPEATS",
    "TIE_EPSILON",
    "ConsensusResult",
    "Dataset",
    "Votes",
    "accuracy",
    "aggregate",
    "choose_labels",
    "item_posterior",
    "keep_last_judgment",
    "answers_file",
    "load_dataset",
    "one_coin_confusion",
    "resolve_repeats",
    "scored_count",
    "split_gold",
    "subsample",
]
