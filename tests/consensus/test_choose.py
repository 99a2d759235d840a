"""The default method chooses its model on the job's evidence, never collapses, and says why.

Real crowds come from ../shared/datasets (skipped with a reason when absent); synthetic crowds
are seeded. "Collapse" is the failure the default was rebuilt against: at 2 judgments per item
EM can drift until one label covers every item.
"""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.consensus import ConsensusResult, Votes, accuracy, aggregate, split_gold
from marketplace.consensus.choose import _prefer_gold, degenerate, weighted_vote
from marketplace.consensus.heldout import selection_sample
from marketplace.consensus.datasets import subsample
from marketplace.consensus.em import EmFit
from marketplace.consensus.encode import encode
from marketplace.consensus.reference import crowdkit_ds_labels
from marketplace.consensus.synthetic import named_crowd, small_job_crowd
from tests.shared_data import dataset


def standard_error(p: float, n: int) -> float:
    return float(np.sqrt(p * (1 - p) / n))


@pytest.mark.parametrize("name", ["D_Duck", "D_Product"])
def test_two_judgments_per_item_never_collapse_on_a_real_binary_crowd(name: str) -> None:
    data = dataset(name)
    truth_share = max(np.mean(np.array(list(data.truth.values())) == label) for label in ("0", "1"))
    ours, majority = [], []
    for seed in range(20):
        votes = subsample(data.votes, 2, seed)
        result = aggregate(votes)
        ours.append(accuracy(result, data.truth))
        majority.append(accuracy(aggregate(votes, method="mv"), data.truth))
        # No seed gives one label to every item (the collapse), beyond what the truth has.
        top = np.bincount(result.label_index, minlength=2).max() / len(result.items)
        assert top < max(0.95, truth_share + 0.05), seed
    p = float(np.mean(majority))
    assert np.mean(ours) >= p - standard_error(p, len(data.truth))


@pytest.mark.parametrize("name", ["D_Duck", "D_Product", "S_Rel"])
def test_quorums_em_with_its_additions_switched_off_gives_crowd_kits_labels(name: str) -> None:
    data = dataset(name)
    # 20 rounds both, no early stop: crowd-kit's loss-based stop is not ours.
    expected = crowdkit_ds_labels(data.votes, n_iter=20, tol=float("-inf"))
    ours = aggregate(data.votes, method="quorum-ds", prior_strength=0, max_rounds=20, tol=0.0)
    assert ours.rounds == 20
    assert ours.item_labels() == expected


def test_a_crowd_with_structured_mistakes_keeps_dawid_skene_and_the_run_says_why() -> None:
    result = aggregate(dataset("S_Rel").votes)  # graded relevance: "2" is confused with "3"

    assert result.parameters["model"] == "dawid-skene"
    assert "held-out" in result.parameters["why"] or "reference" in result.parameters["why"]
    scores = result.parameters["scores"]["heldout_loglik"]
    assert set(scores) == {"dawid-skene", "one-coin", "pooled"}


def test_with_many_classes_it_chooses_one_accuracy_per_worker_and_labels_better_for_it() -> None:
    crowd = named_crowd("many-classes", seed=0)  # 10 labels: a 10x10 matrix per worker is noise
    truth = crowd.truth_map()
    chosen = aggregate(crowd.votes)
    full_matrix = aggregate(crowd.votes, method="quorum-ds")

    assert chosen.parameters["model"] == "one-coin"
    assert "better than dawid-skene" in chosen.parameters["why"]
    assert accuracy(chosen, truth) > accuracy(full_matrix, truth) + 0.01
    assert accuracy(chosen, truth) >= accuracy(aggregate(crowd.votes, method="wawa"), truth) - 0.01


def test_gold_scores_every_model_when_there_is_enough_of_it() -> None:
    data = dataset("D_Product")
    gold, rest = split_gold(data.truth, share=0.1, seed=0)
    result = aggregate(data.votes, gold=gold)

    assert set(result.parameters["scores"]["gold_accuracy"]) == {"dawid-skene", "one-coin", "pooled"}
    assert all(0.8 < score <= 1.0 for score in result.parameters["scores"]["gold_accuracy"].values())
    assert accuracy(result, rest) >= accuracy(aggregate(data.votes, method="ds", gold=gold), rest) - 0.003


def test_a_fit_that_gives_one_label_to_every_item_is_degenerate() -> None:
    votes = Votes.from_labels(np.repeat(np.arange(20), 3), np.tile([1, 2, 3], 20),
                              ["a", "a", "b"] * 10 + ["b", "b", "a"] * 10)
    enc = encode(votes)
    everything_a = np.tile([1.0, 0.0], (20, 1))
    collapsed = EmFit(everything_a, np.ones((3, 2, 2)) / 2, np.array([1.0, 0.0]), 5, True)
    sound = EmFit(np.repeat([[1.0, 0.0], [0.0, 1.0]], 10, axis=0), collapsed.confusions, np.array([0.5, 0.5]), 5, True)
    swinging = EmFit(sound.posteriors, sound.confusions, sound.priors, 100, False, last_change=0.4)

    assert "100% of items 'a'" in (degenerate(enc, collapsed) or "")
    assert degenerate(enc, sound) is None
    assert "did not converge" in (degenerate(enc, swinging) or "")


def test_the_fallback_weighted_vote_gives_crowd_kits_wawa_labels() -> None:
    data = dataset("D_Product")
    ours = weighted_vote(encode(data.votes))
    theirs = aggregate(data.votes, method="wawa")
    agree = np.mean(ours.posteriors.argmax(axis=1) == theirs.label_index)
    assert agree > 0.999  # ties aside, the same labels


def test_model_selection_on_a_sample_keeps_every_gold_item_and_its_answer() -> None:
    crowd = named_crowd("adversarial", seed=0)
    gold = {item: label for item, label in crowd.truth_map().items() if item % 10 == 0}
    enc = encode(crowd.votes, gold=gold)
    sample = selection_sample(enc, limit=enc.n_votes // 4)

    assert sample.n_votes < enc.n_votes / 2  # a sample indeed
    assert sorted(sample.items[sample.gold_rows].tolist()) == sorted(gold)
    labels = np.asarray(sample.labels)[sample.gold_codes]
    assert dict(zip(sample.items[sample.gold_rows].tolist(), labels.tolist(), strict=True)) == gold


def test_on_a_skewed_crowd_at_two_judgments_it_pulls_workers_harder_to_the_crowd_and_keeps_up_with_majority_vote() -> None:
    ours, majority, strengths, whys = [], [], [], []
    for seed in range(5):
        crowd = named_crowd("skewed", seed=seed)  # one label on 90 % of items: few rare ones per worker
        votes = subsample(crowd.votes, 2, seed)
        result = aggregate(votes)
        ours.append(accuracy(result, crowd.truth_map()))
        majority.append(accuracy(aggregate(votes, method="mv"), crowd.truth_map()))
        strengths.append(result.parameters["scores"]["prior_strength"])
        whys.append(result.parameters["why"])
    p = float(np.mean(majority))
    assert np.mean(ours) >= p - standard_error(p, len(crowd.truth))
    assert all("prior at" in why for why in whys)
    assert min(strengths) > result.parameters["prior_strength"]  # stronger than the job's


def test_the_prior_is_never_weaker_than_the_jobs_and_real_crowds_keep_it() -> None:
    result = aggregate(dataset("D_Duck").votes, prior_strength=5.0)
    tried = result.parameters["scores"]["prior_strength_heldout"]

    assert result.parameters["scores"]["prior_strength"] == 5.0
    assert min(float(s) for s in tried) == 5.0
    assert tried["10"] <= tried["5"]  # it tried twice the strength and it predicted worse


def test_the_stronger_prior_labels_the_items_and_the_workers_keep_the_jobs() -> None:
    crowd = named_crowd("skewed", seed=0)
    votes = subsample(crowd.votes, 2, 0)
    result = aggregate(votes, prior_strength=5.0)
    at_the_jobs = aggregate(votes, method="quorum-ds", prior_strength=5.0)  # the same fit, alone

    assert result.parameters["scores"]["prior_strength"] > 5.0
    assert result.parameters["scores"]["workers"]["prior_strength"] == 5.0
    # What dynamic overlap's judge and the workers' skills read: the fit at the job's strength...
    np.testing.assert_array_equal(result.confusions, at_the_jobs.confusions)
    np.testing.assert_array_equal(result.priors, at_the_jobs.priors)
    np.testing.assert_array_equal(result.worker_accuracy, at_the_jobs.worker_accuracy)
    np.testing.assert_array_equal(result.worker_basis, at_the_jobs.probabilities)
    # ...while the labels delivered come from the stronger prior, and label better.
    assert not np.array_equal(result.probabilities, at_the_jobs.probabilities)
    assert accuracy(result, crowd.truth_map()) > accuracy(at_the_jobs, crowd.truth_map())


def test_when_the_job_strength_is_kept_one_fit_serves_labels_and_workers() -> None:
    result = aggregate(dataset("D_Duck").votes, prior_strength=5.0)

    assert result.fitted_probabilities is None
    assert "workers" not in result.parameters["scores"]


def rare_class_crowd(seed: int) -> tuple[Votes, dict[int, str]]:
    """10,000 items, 1 % "rare", 3 judgments each from 40 workers who all catch a rare item 70 %
    of the time and flag a common one 3 % of the time (fraud or defect spotting)."""
    rng = np.random.default_rng(seed)
    truth = (rng.random(10_000) < 0.01).astype(int)
    workers = np.concatenate([rng.choice(40, 3, replace=False) for _ in truth])
    items = np.repeat(np.arange(len(truth)), 3)
    says_rare = np.where(truth[items] == 1, rng.random(len(items)) < 0.70, rng.random(len(items)) < 0.03)
    labels = np.where(says_rare, "rare", "common")
    return (Votes.from_labels(items, workers, labels, label_set=["common", "rare"]),
            {item: ("rare" if t else "common") for item, t in enumerate(truth.tolist())})


def test_on_a_99_to_1_crowd_without_gold_it_finds_the_rare_items_majority_vote_finds() -> None:
    votes, truth = rare_class_crowd(seed=7)
    rare = [item for item, label in truth.items() if label == "rare"]
    result, majority = aggregate(votes), aggregate(votes, method="mv")

    def recall(of: ConsensusResult) -> float:
        return float(np.mean([of.label_of(item) == "rare" for item in rare]))

    assert recall(result) >= recall(majority) - 0.03
    assert accuracy(result, truth) >= accuracy(majority, truth) - 0.001
    # Two "rare" votes of three are right about "rare" two times in three: never sold as a sure "common".
    split = [item for item in truth if np.sum(votes.codes[votes.items == item]) == 2]
    assert max(result.confidence_of(item) for item in split) < 0.8
    assert result.parameters["model"] != "one-coin"  # one accuracy per worker cannot tell a miss from a flag


def occasional_crowd(seed: int) -> tuple[Votes, dict[int, str]]:
    """3,000 items, 3 labels (half the items the first), 1-3 judgments each (40 % one) from 2,500
    workers with 1-3 judgments each: 80 % right 60-90 % of the time, 20 % answering at random."""
    rng = np.random.default_rng(seed)
    good = rng.random(2_500) < 0.8
    skill = rng.uniform(0.6, 0.9, 2_500)
    truth = rng.choice(3, size=3_000, p=[0.5, 0.3, 0.2])
    items, workers, codes = [], [], []
    for item, t in enumerate(truth.tolist()):
        for worker in rng.choice(2_500, size=int(rng.choice([1, 2, 3], p=[0.4, 0.3, 0.3])), replace=False):
            if good[worker] and rng.random() < skill[worker]:
                code = t
            elif good[worker]:
                code = (t + 1 + int(rng.integers(2))) % 3
            else:
                code = int(rng.integers(3))
            items.append(item), workers.append(int(worker)), codes.append(code)
    names = ["c0", "c1", "c2"]
    return (Votes.from_labels(np.array(items), np.array(workers), np.array(names)[codes], label_set=names),
            {item: names[t] for item, t in enumerate(truth.tolist())})


def test_on_a_sparse_crowd_of_occasional_workers_without_gold_it_keeps_up_with_majority_vote() -> None:
    ours, majority = [], []
    for seed in range(3):
        votes, truth = occasional_crowd(seed)
        ours.append(accuracy(aggregate(votes), truth))
        majority.append(accuracy(aggregate(votes, method="mv"), truth))
    p = float(np.mean(majority))
    assert np.mean(ours) >= p - standard_error(p, 3 * 3_000)


def test_the_pooled_model_labels_the_items_and_the_workers_keep_a_matrix_each() -> None:
    votes, truth = rare_class_crowd(seed=7)
    result = aggregate(votes)

    assert result.parameters["model"] == "pooled"
    assert result.parameters["scores"]["workers"]["model"] in ("dawid-skene", "one-coin")
    # What dynamic overlap's judge reads: the workers' own confusions, not one shared matrix.
    assert not np.allclose(result.confusions, result.confusions[0])


def test_with_fewer_shared_judgments_per_worker_than_labels_one_accuracy_per_worker_is_the_reference() -> None:
    votes, truth = occasional_crowd(seed=0)  # about two judgments a worker on items others judged, 3 labels
    result = aggregate(votes)

    assert result.parameters["model"] == "one-coin"  # Dawid-Skene, the usual reference, kept it on no evidence
    assert result.parameters["scores"]["comparable_per_worker"] < 3
    assert "one-coin is the reference" in result.parameters["why"]
    assert accuracy(result, truth) >= accuracy(aggregate(votes, method="mv"), truth) - 0.005


def test_a_dozen_gold_items_do_not_move_the_labels_to_one_matrix_for_everyone() -> None:
    data = dataset("D_Duck")
    gold, rest = split_gold(data.truth, share=0.1, seed=2)
    result = aggregate(subsample(data.votes, 3, 2), gold=gold)
    by_gold = result.parameters["scores"]["gold_accuracy"]

    assert by_gold["pooled"] > by_gold["dawid-skene"] + 0.15  # 6 of 11 gold items against 4
    assert result.parameters["model"] == "dawid-skene"
    assert accuracy(result, rest) > 0.7  # the pooled model labelled 0.59


def test_two_gold_items_where_the_models_differ_do_not_overturn_held_out_judgments() -> None:
    crowd = small_job_crowd(seed=11)
    n = len(crowd.truth)
    picked = np.random.default_rng(11).choice(n, size=n // 8, replace=False)
    gold = {int(i): crowd.votes.label_set[crowd.truth[i]] for i in picked}
    regular = ~np.isin(np.arange(n), picked)
    result = aggregate(crowd.votes, gold=gold)
    matrices = aggregate(crowd.votes, method="quorum-ds", gold=gold)

    # Dawid-Skene got 21 of 21 held-out gold items, one-coin 19: once enough to choose the matrices
    assert result.parameters["scores"]["gold_accuracy"]["dawid-skene"] == 1.0
    assert result.parameters["model"] == "one-coin"
    assert "held-out gold (21 items) does not tell the models apart" in result.parameters["why"]
    right = (result.label_index == crowd.truth)[regular].mean()
    assert right > (matrices.label_index == crowd.truth)[regular].mean()  # 0.812 against 0.792


def test_one_gold_item_where_the_models_differ_is_never_enough_to_choose_by() -> None:
    agree = np.ones(21, dtype=bool)
    one_more = agree.copy()
    agree[0] = False  # the reference misses one item the other gets: 21 of 21 against 20
    ranked, why = _prefer_gold(["one-coin", "dawid-skene"], "held out", {"one-coin": agree, "dawid-skene": one_more})
    assert ranked[0] == "one-coin"
    assert "does not tell the models apart" in why


def test_plentiful_gold_still_overrules_held_out_judgments_that_favour_the_matrices() -> None:
    crowd = named_crowd("adversarial", seed=0)  # 20 % spammers, 20 % constant answerers, 4 labels
    gold, rest = split_gold(crowd.truth_map(), share=0.1, seed=4)
    result = aggregate(subsample(crowd.votes, 2, 4), gold=gold)

    assert result.parameters["model"] == "one-coin"  # 152 of 200 gold items against 147
    assert "most accurate on held-out gold (200 gold items)" in result.parameters["why"]
    assert accuracy(result, rest) > 0.775  # the matrices labelled 0.764
