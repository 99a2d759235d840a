"""Multi-label consensus by binary relevance: a yes/no crowd per label, each aggregated alone."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.consensus.multilabel import (
    MultiVotes,
    aggregate_multi,
    binary_crowds,
    hamming_accuracy,
    multi_label_crowd,
)


def test_each_vote_says_yes_to_its_ticked_labels_and_no_to_the_rest() -> None:
    votes = MultiVotes.from_sets([1, 1, 2], ["a", "b", "a"], [["cat"], ["cat", "dog"], []],
                                 label_set=["cat", "dog", "bird"])
    crowds = binary_crowds(votes)
    assert list(crowds) == ["cat", "dog", "bird"]
    assert crowds["cat"].codes.tolist() == [1, 1, 0]
    assert crowds["dog"].codes.tolist() == [0, 1, 0]
    assert crowds["bird"].codes.tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="zebra"):
        MultiVotes.from_sets([1], ["a"], [["zebra"]], label_set=["cat", "dog"])


def test_every_item_gets_every_labels_probability_and_gold_sets_are_kept() -> None:
    votes = MultiVotes.from_sets(
        [1, 1, 1, 2, 2, 2], ["a", "b", "c", "a", "b", "c"],
        [["cat", "dog"], ["cat", "dog"], ["cat"], [], [], ["dog"]], label_set=["cat", "dog"],
    )
    result = aggregate_multi(votes, gold={2: set()})
    assert result.probabilities.shape == (2, 2)
    assert result.set_of(1)[0] == "cat" and result.probabilities_of(1)["cat"] > 0.9
    assert result.set_of(2) == () and result.probabilities_of(2) == {"cat": 0.0, "dog": 0.0}
    assert set(result.per_label) == {"cat", "dog"}


def test_per_label_consensus_beats_per_label_majority_vote_on_a_crowd_with_bad_workers() -> None:
    rng = np.random.default_rng(11)
    n_labels, good, eager, careless = 6, 8, 4, 4
    # Good workers: sensitivity and specificity 0.8-0.95 per label. Eager ones tick nearly every
    # label (sensitivity 0.95, specificity 0.3); careless ones tick at random (0.5 / 0.5).
    sens = np.vstack([rng.uniform(0.8, 0.95, (good, n_labels)), np.full((eager, n_labels), 0.95),
                      np.full((careless, n_labels), 0.5)])
    spec = np.vstack([rng.uniform(0.8, 0.95, (good, n_labels)), np.full((eager, n_labels), 0.3),
                      np.full((careless, n_labels), 0.5)])
    crowd = multi_label_crowd(sensitivity=sens, specificity=spec, n_items=400, overlap=5, seed=3)
    truth = crowd.truth_sets()
    consensus = hamming_accuracy(aggregate_multi(crowd.votes), truth)
    majority = hamming_accuracy(aggregate_multi(crowd.votes, method="mv"), truth)
    assert consensus > majority + 0.03, (consensus, majority)
    # The same seed gives the same crowd.
    again = multi_label_crowd(sensitivity=sens, specificity=spec, n_items=400, overlap=5, seed=3)
    assert np.array_equal(again.votes.ticks, crowd.votes.ticks)


def _wrong_on_half_the_gold() -> tuple[MultiVotes, dict[str, set[str]]]:
    """Three workers agree on 20 plain items ({cat}, {dog}, {cat, dog}, {} in turn). Every gold
    item's answer is {cat}: on g0..g2 all three tick {dog}, on g3..g5 {cat}."""
    plain = [["cat"], ["dog"], ["cat", "dog"], []]
    ticked = {**{f"i{i}": plain[i % 4] for i in range(20)}, **{f"g{i}": ["dog"] if i < 3 else ["cat"] for i in range(6)}}
    rows = [(item, f"w{w}", sets) for item, sets in ticked.items() for w in range(3)]
    votes = MultiVotes.from_sets([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                                 label_set=["cat", "dog", "bird"])
    return votes, {f"g{i}": {"cat"} for i in range(6)}


@pytest.mark.parametrize("method", ["quorum", "ds", "gmv", "mv"])
def test_gold_items_the_crowd_got_wrong_get_the_crowds_set_without_their_answer(method: str) -> None:
    votes, gold = _wrong_on_half_the_gold()
    result = aggregate_multi(votes, method=method, gold=gold)

    assert all(result.set_of(item) == ("cat",) for item in gold)  # delivered: the answer
    assert result.gold_items.tolist() == sorted(gold)
    unaided = {item: tuple(label for label, on in zip(result.labels, row, strict=True) if on)
               for item, row in zip(result.gold_items.tolist(), result.gold_unaided_chosen, strict=True)}
    assert unaided == {"g0": ("dog",), "g1": ("dog",), "g2": ("dog",), "g3": ("cat",), "g4": ("cat",), "g5": ("cat",)}


def test_a_multi_label_job_without_gold_has_no_unaided_sets() -> None:
    votes, _ = _wrong_on_half_the_gold()
    result = aggregate_multi(votes)
    assert result.gold_items.tolist() == [] and result.gold_unaided.shape == (0, 3)
