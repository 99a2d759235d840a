"""What consensus says of a gold item without being told its answer (aggregate.unaided_gold).

A gold item's delivered label is its known answer, so the delivered labels measured on gold are
right by construction. The measure the job page uses instead is this unaided label: the one any
item with the same judgments gets. A crowd of five reliable workers labels 60 items; on gold items
g0..g4 every one of them gave the wrong answer, on g5..g9 the right one.
"""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.consensus import Votes, aggregate

LABELS = ["cat", "dog"]


def _crowd() -> tuple[Votes, dict[str, str]]:
    rng = np.random.default_rng(7)
    items, workers, answers = [], [], []
    gold = {f"g{i}": "cat" if i % 2 else "dog" for i in range(10)}
    truth = {**{f"i{i}": LABELS[i % 2] for i in range(50)}, **gold}
    for item, label in truth.items():
        wrong = item in {"g0", "g1", "g2", "g3", "g4"}
        for worker in range(5):
            right = not wrong and rng.random() < 0.9
            items.append(item)
            workers.append(f"w{worker}")
            answers.append(label if right else LABELS[1 - LABELS.index(label)])
    return Votes.from_labels(items, workers, answers, label_set=LABELS), gold


@pytest.mark.parametrize("method", ["quorum", "quorum-ds", "quorum-onecoin", "ds", "gmv", "mv", "wawa"])
def test_gold_items_the_crowd_got_wrong_are_wrong_without_their_answer(method: str) -> None:
    votes, gold = _crowd()
    result = aggregate(votes, method=method, gold=gold)

    assert all(result.label_of(item) == answer for item, answer in gold.items())  # delivered: the answer
    unaided = dict(zip(result.gold_items.tolist(), result.gold_unaided_labels.tolist(), strict=True))
    assert set(unaided) == set(gold)
    assert [unaided[f"g{i}"] == gold[f"g{i}"] for i in range(10)] == [False] * 5 + [True] * 5
    np.testing.assert_allclose(result.gold_unaided.sum(axis=1), 1.0)


def test_a_job_without_gold_has_no_unaided_gold() -> None:
    votes, _ = _crowd()
    result = aggregate(votes)
    assert len(result.gold_items) == 0 and result.gold_unaided.shape[0] == 0


def test_one_gold_item_is_labelled_by_a_fit_without_any_gold() -> None:
    # Its fold holds no other gold: gmv, which weighs workers by gold, falls back to plain votes.
    votes, _ = _crowd()
    for method in ("quorum", "gmv"):
        result = aggregate(votes, method=method, gold={"g0": "dog"})
        assert result.gold_unaided_labels.tolist() == ["cat"]  # all five said cat
