"""The bench's named synthetic crowds: seeded, and each as crowded as its name says."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.consensus.synthetic import CROWDS, NAMED_OVERLAP, Crowd, named_crowd
from marketplace.consensus.types import IntArray


def right_share(crowd: Crowd, workers: IntArray) -> float:
    """Share of the given workers' answers that match the truth."""
    votes = crowd.votes
    theirs = np.isin(votes.workers, workers)
    return float(np.mean(votes.codes[theirs] == crowd.truth[votes.items[theirs]]))


@pytest.mark.parametrize("name", list(CROWDS))
def test_a_named_crowd_is_the_same_for_a_seed_and_judges_every_item_the_same_number_of_times(
    name: str,
) -> None:
    one, again, other = (named_crowd(name, seed=s) for s in (1, 1, 2))
    assert np.array_equal(one.votes.codes, again.votes.codes)
    assert np.array_equal(one.truth, again.truth)
    assert not np.array_equal(one.votes.codes, other.votes.codes)
    _, per_item = np.unique(one.votes.items, return_counts=True)
    assert len(per_item) == len(one.truth) and set(per_item.tolist()) == {NAMED_OVERLAP}


def test_the_sparse_crowd_has_thousands_of_workers_with_about_five_judgments_each() -> None:
    _, per_worker = np.unique(named_crowd("sparse", seed=0).votes.workers, return_counts=True)
    assert len(per_worker) > 2500 and 4 <= np.median(per_worker) <= 6


def test_the_adversarial_crowd_has_spammers_and_constant_answerers() -> None:
    crowd = named_crowd("adversarial", seed=0)
    assert right_share(crowd, np.arange(60)) == pytest.approx(0.85, abs=0.02)
    assert right_share(crowd, np.arange(60, 80)) == pytest.approx(0.25, abs=0.03)
    constant = crowd.votes.workers >= 80
    for worker in range(80, 100):
        assert len(set(crowd.votes.codes[crowd.votes.workers == worker].tolist())) == 1
    assert constant.mean() == pytest.approx(0.2, abs=0.03)


def test_the_many_classes_crowd_uses_at_least_eight_labels() -> None:
    crowd = named_crowd("many-classes", seed=0)
    assert len(crowd.votes.label_set) >= 8
    assert len(np.unique(crowd.truth)) == len(crowd.votes.label_set)


def test_the_skewed_crowd_has_one_class_on_nine_items_in_ten() -> None:
    crowd = named_crowd("skewed", seed=0)
    assert np.mean(crowd.truth == 0) == pytest.approx(0.9, abs=0.02)
    votes = crowd.votes
    truth = crowd.truth[votes.items]
    right_on_common = np.mean(votes.codes[truth == 0] == 0)
    right_on_rare = np.mean(votes.codes[truth == 1] == 1)
    assert right_on_common > right_on_rare + 0.1


def test_an_unknown_crowd_name_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="sparse, adversarial, many-classes, skewed"):
        named_crowd("dense", seed=0)


def test_in_the_power_law_crowd_ten_workers_of_300_give_about_half_the_judgments() -> None:
    _, per_worker = np.unique(named_crowd("power-law", seed=0).votes.workers, return_counts=True)
    busiest = np.sort(per_worker)[::-1]
    assert 0.35 < busiest[:10].sum() / per_worker.sum() < 0.6
    assert np.median(per_worker) <= 30


def test_the_rare_crowd_has_one_item_in_two_hundred_of_the_rare_class() -> None:
    crowd = named_crowd("rare", seed=0)
    assert np.mean(crowd.truth == 1) == pytest.approx(0.005, abs=0.002)


def test_the_twin_classes_crowd_mistakes_each_class_for_its_twin_more_than_for_any_other() -> None:
    crowd = named_crowd("twin-classes", seed=0)
    votes, truth = crowd.votes, crowd.truth[crowd.votes.items]
    wrong = votes.codes != truth
    assert len(crowd.votes.label_set) == 30
    assert np.mean(votes.codes[wrong] == truth[wrong] ^ 1) > 0.3  # one label of 29 takes a third
