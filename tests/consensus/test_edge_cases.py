"""Edge cases: empty input, lone judgments, unused labels, ties, repeats, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.consensus import METHODS, Votes, aggregate, keep_last_judgment
from marketplace.consensus.synthetic import adversarial_crowd


@pytest.mark.parametrize("method", sorted(METHODS))
def test_no_judgments_give_an_empty_result_not_an_error(method: str) -> None:
    result = aggregate(Votes.empty(), method=method, labels=["yes", "no"])
    assert result.items.size == 0 and result.workers.size == 0
    assert result.probabilities.shape == (0, 2)
    assert result.confusions.shape == (0, 2, 2)
    assert result.item_labels() == {}
    np.testing.assert_allclose(result.priors, [0.5, 0.5])


def test_an_item_with_a_single_judgment_takes_that_label() -> None:
    votes = Votes.from_labels([1, 1, 1, 2], [7, 8, 9, 7], ["no", "no", "yes", "yes"])
    for method in ("quorum", "ds", "mv"):
        result = aggregate(votes, method=method)
        assert result.label_of(2) == "yes"
        assert result.item_judgments.tolist() == [3, 1]


def test_a_label_nobody_chose_is_listed_with_no_probability_and_never_chosen() -> None:
    votes = Votes.from_labels([1, 1, 2, 2], [7, 8, 7, 8], ["cat", "cat", "dog", "cat"])
    for method in ("quorum", "ds", "mv", "wawa", "ocds"):
        result = aggregate(votes, method=method, labels=["cat", "dog", "bird"])
        assert result.labels == ("cat", "dog", "bird")
        assert result.probabilities[:, 2].max() < 1e-6
        assert "bird" not in result.assigned
        assert result.confusions.shape == (2, 3, 3)


def test_a_gold_label_nobody_voted_for_joins_the_label_set() -> None:
    votes = Votes.from_labels([1, 1, 2], [7, 8, 7], ["cat", "cat", "dog"])
    result = aggregate(votes, gold={1: "bird"})
    assert result.labels == ("cat", "dog", "bird")
    assert result.label_of(1) == "bird"


def test_gold_on_an_item_nobody_judged_is_ignored() -> None:
    votes = Votes.from_labels([1, 2], [7, 7], ["cat", "dog"])
    result = aggregate(votes, gold={99: "cat"})
    assert result.items.tolist() == [1, 2]
    assert result.parameters["gold_items"] == 0


def test_labels_outside_the_given_label_set_are_refused() -> None:
    votes = Votes.from_labels([1], [7], ["cat"])
    with pytest.raises(ValueError, match="cat"):
        aggregate(votes, labels=["dog"])
    with pytest.raises(ValueError, match="fox"):
        aggregate(votes, labels=["cat"], gold={1: "fox"})
    with pytest.raises(ValueError, match="not in the label set"):
        Votes.from_labels([1], [7], ["cat"], label_set=["dog"])


def test_a_worker_with_one_judgment_gets_a_proper_confusion_matrix() -> None:
    votes = adversarial_crowd(seed=2, n_workers=20, n_items=200, n_labels=3).votes
    votes = Votes(
        items=np.append(votes.items, 0),
        workers=np.append(votes.workers, 777),
        codes=np.append(votes.codes, 1),
        label_set=votes.label_set,
    )
    result = aggregate(votes)
    row = int(np.searchsorted(result.workers, 777))
    assert result.worker_judgments[row] == 1
    np.testing.assert_allclose(result.confusion_of(777).sum(axis=1), 1.0)
    # One vote says little: the prior keeps their matrix near the crowd's, not at 0/1.
    assert 0.05 < result.confusion_of(777)[1, 1] < 0.95


def test_a_single_possible_label_is_every_items_label() -> None:
    votes = Votes.from_labels([1, 2, 3], [7, 7, 8], ["x", "x", "x"])
    for method in sorted(METHODS):
        result = aggregate(votes, method=method)
        assert result.item_labels() == {1: "x", 2: "x", 3: "x"}


@pytest.mark.parametrize("method", ["quorum", "mv", "ds"])
def test_a_tie_goes_to_the_label_first_in_the_label_set(method: str) -> None:
    votes = Votes.from_labels([1, 1], [7, 8], ["dog", "cat"])
    first_cat = aggregate(votes, method=method, labels=["cat", "dog"])
    first_dog = aggregate(votes, method=method, labels=["dog", "cat"])
    assert first_cat.probabilities[0].tolist() == [0.5, 0.5]
    assert first_cat.label_of(1) == "cat"
    assert first_dog.label_of(1) == "dog"


def test_the_default_label_order_is_alphabetical() -> None:
    votes = Votes.from_labels([1, 1], [7, 8], ["dog", "cat"])
    assert aggregate(votes, method="mv").labels == ("cat", "dog")


@pytest.mark.parametrize("method", ["quorum", "ds", "mv"])
def test_the_same_votes_twice_give_identical_results(method: str) -> None:
    votes = adversarial_crowd(seed=4, n_workers=40, n_items=400, n_labels=3).votes
    one, two = aggregate(votes, method=method), aggregate(votes, method=method)
    assert np.array_equal(one.probabilities, two.probabilities)
    assert np.array_equal(one.label_index, two.label_index)
    assert np.array_equal(one.confusions, two.confusions)
    assert one.rounds == two.rounds


def test_the_order_of_the_rows_does_not_change_the_outcome() -> None:
    votes = adversarial_crowd(seed=4, n_workers=40, n_items=400, n_labels=3).votes
    shuffle = np.random.default_rng(0).permutation(len(votes))
    shuffled = Votes(
        items=votes.items[shuffle],
        workers=votes.workers[shuffle],
        codes=votes.codes[shuffle],
        label_set=votes.label_set,
    )
    one, two = aggregate(votes), aggregate(shuffled)
    assert np.array_equal(one.label_index, two.label_index)
    np.testing.assert_allclose(one.probabilities, two.probabilities, atol=1e-9)


def test_a_repeated_judgment_counts_once_with_the_workers_last_answer() -> None:
    votes = Votes.from_labels(
        [1, 2, 1, 3, 1], [7, 7, 8, 7, 7], ["cat", "dog", "cat", "dog", "dog"]
    )
    kept = keep_last_judgment(votes)
    rows = list(zip(kept.items.tolist(), kept.workers.tolist(), kept.codes.tolist(), strict=True))
    # Worker 7 said cat then dog on item 1: the later "dog" stands; row order is kept.
    assert rows == [(2, 7, 1), (1, 8, 0), (3, 7, 1), (1, 7, 1)]
    assert keep_last_judgment(kept) is kept


def test_string_ids_work_like_integer_ids() -> None:
    votes = Votes.from_labels(["b", "a", "b"], ["w1", "w2", "w2"], ["x", "y", "x"])
    result = aggregate(votes, gold={"a": "y"})
    assert result.items.tolist() == ["a", "b"]
    assert result.label_of("a") == "y"


def test_parallel_arrays_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="parallel"):
        Votes(
            items=np.array([1, 2]),
            workers=np.array([1]),
            codes=np.array([0, 0]),
            label_set=("a",),
        )


@pytest.mark.parametrize("missing", [None, float("nan")])
def test_a_missing_label_is_refused_not_read_as_the_last_label(missing: object) -> None:
    with pytest.raises(ValueError, match="1 label.s. missing"):
        Votes.from_labels([1, 1, 2], [7, 8, 7], ["cat", missing, "dog"])
