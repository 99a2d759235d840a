"""Public data sets (D_Duck, D_Product, S_Rel): reading them, and accuracy against their truth.

They live beside the project in ../shared/datasets, never inside it; absent, these tests skip.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from marketplace.consensus import (
    Votes,
    accuracy,
    aggregate,
    load_dataset,
    split_gold,
    subsample,
)
from marketplace.consensus.datasets import Repeats
from marketplace.consensus.reference import crowdkit_ds_labels
from tests.shared_data import DATASETS, dataset

NAMES = ["D_Duck", "D_Product", "S_Rel"]
TIE = 0.002  # 0.2 points: about one standard error of accuracy on D_Product's 8,315 items



@cache
def score(name: str, method: str, with_gold: bool) -> float:
    """Accuracy without gold on all truth, or with a seeded 10% of truth as gold on the rest."""
    data = dataset(name)
    if not with_gold:
        return accuracy(aggregate(data.votes, method=method), data.truth)
    gold, held_out = split_gold(data.truth, share=0.1, seed=0)
    return accuracy(aggregate(data.votes, method=method, gold=gold), held_out)


def test_d_duck_is_read_whole() -> None:
    duck = dataset("D_Duck")
    assert len(duck.votes) == duck.rows_read == 4212
    assert len(np.unique(duck.votes.items)) == 108 and len(np.unique(duck.votes.workers)) == 39
    assert duck.votes.label_set == ("0", "1")
    assert len(duck.truth) == 108


def test_s_rel_repeated_judgments_keep_the_workers_last_answer() -> None:
    rel = dataset("S_Rel")
    assert rel.rows_read == 98453 and rel.repeated_rows_dropped == 1570

    with (DATASETS / "S_Rel" / "answers.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    answers: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        answers.setdefault((row["item"], row["worker"]), []).append(row["label"])
    conflicting = {pair: labels[-1] for pair, labels in answers.items() if len(set(labels)) > 1}
    assert len(conflicting) == 277

    votes = rel.votes
    kept = {
        (item, worker): votes.label_set[code]
        for item, worker, code in zip(
            votes.items.tolist(), votes.workers.tolist(), votes.codes.tolist(), strict=True
        )
        if (item, worker) in conflicting
    }
    assert kept == conflicting


def test_gold_split_is_seeded_and_disjoint() -> None:
    truth = dataset("D_Duck").truth
    gold, rest = split_gold(truth, share=0.1, seed=0)
    assert split_gold(truth, share=0.1, seed=0) == (gold, rest)
    assert len(gold) == 11 and not set(gold) & set(rest) and len(gold) + len(rest) == 108


@pytest.mark.parametrize("name", NAMES)
def test_ds_matches_crowd_kit_run_directly_on_the_raw_file(name: str) -> None:
    data = dataset(name)
    direct = crowdkit_ds_labels(data.votes)
    judged = [item for item in data.truth if item in direct]
    direct_accuracy = float(np.mean([direct[item] == data.truth[item] for item in judged]))
    assert score(name, "ds", False) == pytest.approx(direct_accuracy, abs=TIE)


@pytest.mark.parametrize("with_gold", [False, True], ids=["no gold", "10% gold"])
@pytest.mark.parametrize("name", NAMES)
def test_quorum_is_the_best_of_quorum_ds_and_majority_vote_or_ties(
    name: str, with_gold: bool
) -> None:
    quorum = score(name, "quorum", with_gold)
    assert quorum >= score(name, "ds", with_gold) - TIE
    assert quorum >= score(name, "mv", with_gold) - TIE


def test_on_d_duck_quorum_does_not_stop_early_like_crowd_kit() -> None:
    # crowd-kit's loss-based stop quits after 2 rounds at 0.889; run to the end DS gives 0.898.
    duck = aggregate(dataset("D_Duck").votes)
    assert duck.rounds > 2 and duck.converged
    assert score("D_Duck", "ds", False) == pytest.approx(96 / 108)
    assert score("D_Duck", "quorum", False) == pytest.approx(97 / 108)


# Worker "w1" judged item "a" three times (cat, dog, dog) and "b" twice (dog, cat); "w2" once each.
REPEATED = [
    ("a", "w1", "cat"),
    ("a", "w2", "cat"),
    ("b", "w1", "dog"),
    ("a", "w1", "dog"),
    ("b", "w2", "dog"),
    ("b", "w1", "cat"),
    ("a", "w1", "dog"),
]


def rows_of(votes: Votes) -> list[tuple[str, str, str]]:
    labels = [votes.label_set[code] for code in votes.codes.tolist()]
    return list(zip(votes.items.tolist(), votes.workers.tolist(), labels, strict=True))


def folder_with(tmp_path: Path, answers: list[tuple[str, str, str]]) -> Path:
    (tmp_path / "answers.csv").write_text(
        "item,worker,label\n" + "".join(f"{i},{w},{label}\n" for i, w, label in answers)
    )
    (tmp_path / "truth.csv").write_text("item,label\na,cat\nb,dog\n")
    return tmp_path


@pytest.mark.parametrize(
    ("rule", "kept"),
    [
        ("last", [("a", "w2", "cat"), ("b", "w2", "dog"), ("b", "w1", "cat"), ("a", "w1", "dog")]),
        ("first", [("a", "w1", "cat"), ("a", "w2", "cat"), ("b", "w1", "dog"), ("b", "w2", "dog")]),
        ("drop", [("a", "w2", "cat"), ("b", "w2", "dog")]),
    ],
)
def test_repeated_judgments_follow_the_chosen_rule_and_are_counted(
    tmp_path: Path, rule: Repeats, kept: list[tuple[str, str, str]]
) -> None:
    data = load_dataset(folder_with(tmp_path, REPEATED), repeats=rule)
    assert rows_of(data.votes) == kept
    assert data.rows_read == 7 and data.repeated_pairs == 2 and data.repeats == rule
    assert data.repeated_rows_dropped == 7 - len(kept)


def test_the_last_judgment_counts_by_default(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, REPEATED)
    assert rows_of(load_dataset(folder).votes) == rows_of(load_dataset(folder, "last").votes)


def test_an_unknown_repeats_rule_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="last, first, drop"):
        load_dataset(folder_with(tmp_path, REPEATED), repeats="newest")  # type: ignore[arg-type]


def test_s_rel_repeated_pairs_are_counted_under_every_rule() -> None:
    assert dataset("S_Rel").repeated_pairs == 1489
    dropped = load_dataset(DATASETS / "S_Rel", repeats="drop")
    assert dropped.repeated_pairs == 1489 and dropped.repeated_rows_dropped == 3059
    first = load_dataset(DATASETS / "S_Rel", repeats="first")
    assert first.repeated_rows_dropped == 1570 and len(first.votes) == len(dataset("S_Rel").votes)


def many_judgments(per_item: list[int]) -> Votes:
    """Item i judged by per_item[i] distinct workers, labels alternating."""
    items = np.repeat(np.arange(len(per_item)), per_item)
    workers = np.concatenate([np.arange(n) for n in per_item])
    labels = ["x" if j % 2 else "y" for j in range(len(items))]
    return Votes.from_labels(items, workers, labels)


def test_subsampling_keeps_k_judgments_per_item_and_all_of_smaller_items() -> None:
    votes = many_judgments([10, 2, 5, 1])
    small = subsample(votes, 3, seed=1)
    _, counts = np.unique(small.items, return_counts=True)
    assert counts.tolist() == [3, 2, 3, 1]
    assert set(rows_of(small)) <= set(rows_of(votes))


def test_subsampling_is_the_same_for_a_seed_and_differs_between_seeds() -> None:
    votes = many_judgments([10] * 20)
    assert rows_of(subsample(votes, 3, seed=5)) == rows_of(subsample(votes, 3, seed=5))
    assert rows_of(subsample(votes, 3, seed=5)) != rows_of(subsample(votes, 3, seed=6))


def test_subsampling_picks_each_judgment_equally_often_over_seeds() -> None:
    votes = many_judgments([10])
    picked = np.zeros(10)
    for seed in range(2000):
        picked[subsample(votes, 3, seed=seed).workers] += 1
    # Each of 10 judgments is kept with probability 3/10: 600 of 2,000 draws, sd about 20.
    assert np.all(np.abs(picked - 600) < 100), picked


def test_subsampling_more_than_any_item_has_keeps_the_votes_as_they_are() -> None:
    votes = many_judgments([4, 3])
    assert subsample(votes, 4, seed=0) is votes
    with pytest.raises(ValueError, match="at least 1"):
        subsample(votes, 0, seed=0)


def test_rows_with_a_blank_cell_are_dropped_and_counted_never_read_as_a_label(tmp_path: Path) -> None:
    (tmp_path / "answers.csv").write_text(
        "item,worker,label\na,w1,cat\na,w2,\n,w1,dog\nb,  ,dog\nb,w1,dog\n"
    )
    (tmp_path / "truth.csv").write_text("item,label\na,cat\nb,\n,dog\n")

    data = load_dataset(tmp_path)

    assert rows_of(data.votes) == [("a", "w1", "cat"), ("b", "w1", "dog")]
    assert list(data.votes.label_set) == ["cat", "dog"]  # no "" label
    assert (data.rows_read, data.blank_rows_dropped, data.repeated_rows_dropped) == (5, 3, 0)
    assert data.truth == {"a": "cat"} and data.truth_blank_rows_dropped == 2


def test_a_truth_file_giving_one_item_two_labels_is_refused_by_name(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, [("a", "w1", "cat")])
    (folder / "truth.csv").write_text("item,label\na,cat\nb,dog\na,cat\nb,bird\n")

    with pytest.raises(ValueError, match="item 'b' two labels: 'dog' and 'bird'"):
        load_dataset(folder)


@pytest.mark.parametrize(
    ("answers_name", "answers_header", "truth_header"),
    [
        ("answer.csv", "question,worker,answer", "question,truth"),  # Zheng et al.'s release
        ("answers.csv", "task,worker,label", "task,true_label"),  # crowd-kit's data sets
        ("answers.csv", " Item , Annotator ,Response", "ITEM,Gold"),
    ],
)
def test_the_headers_of_other_releases_read_as_ours(
    tmp_path: Path, answers_name: str, answers_header: str, truth_header: str
) -> None:
    (tmp_path / answers_name).write_text(f"{answers_header}\na,w1,cat\na,w2,dog\nb,w1,dog\n")
    (tmp_path / "truth.csv").write_text(f"{truth_header}\na,cat\nb,dog\n")

    data = load_dataset(tmp_path)

    assert rows_of(data.votes) == [("a", "w1", "cat"), ("a", "w2", "dog"), ("b", "w1", "dog")]
    assert data.truth == {"a": "cat", "b": "dog"}


def test_a_file_without_a_column_it_needs_names_its_header_and_the_accepted_names(tmp_path: Path) -> None:
    (tmp_path / "answers.csv").write_text("item,user_id,label\na,w1,cat\n")
    (tmp_path / "truth.csv").write_text("item,label\na,cat\n")

    with pytest.raises(ValueError, match=r"answers.csv has no worker column \(its header: item, user_id, label; "
                                         r"accepted: worker, performer, annotator\)"):
        load_dataset(tmp_path)


def test_our_own_header_wins_when_a_file_has_two_names_for_one_column(tmp_path: Path) -> None:
    (tmp_path / "answers.csv").write_text("task,item,worker,label\nt1,a,w1,cat\n")
    (tmp_path / "truth.csv").write_text("item,label\na,cat\n")

    assert rows_of(load_dataset(tmp_path).votes) == [("a", "w1", "cat")]
