"""Items judged once (overlap 1): nothing for consensus to check a judgment against but gold.

One worker labels 200 items of a yes/no/unsure job, one judgment each; 20 are gold whose answer is
"no", and the worker got 9 of them right (45 %). Before, every label came back certain (confidence
1.0): the worker agrees with themselves. Now a label is as sure as its worker is on gold.
"""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.consensus import Votes, aggregate

LABELS = ["yes", "no", "unsure"]


def _overlap_one(*, gold: bool) -> tuple[Votes, dict[int, str]]:
    answers = ["no"] * 9 + ["yes"] * 11 + [LABELS[i % 2] for i in range(180)]
    votes = Votes.from_labels(list(range(200)), [1] * 200, answers, label_set=LABELS)
    return votes, ({i: "no" for i in range(20)} if gold else {})


def test_a_single_judgment_is_as_sure_as_its_worker_is_on_gold() -> None:
    votes, gold = _overlap_one(gold=True)
    result = aggregate(votes, gold=gold)

    regular = result.confidence[20:]
    assert regular.max() < 0.6  # 45 % on gold, shrunk a little towards the guess: not 1.0
    assert regular.mean() == pytest.approx(regular.max())  # one worker: one accuracy
    assert [result.label_of(i) for i in range(20, 24)] == ["yes", "no", "yes", "no"]  # their answers
    assert "accuracy on gold (20 gold answers)" in result.parameters["why"]


def test_without_gold_single_judgments_are_a_guess_not_a_certainty() -> None:
    votes, _ = _overlap_one(gold=False)
    result = aggregate(votes)

    assert np.allclose(result.confidence, 2 / 3)  # halfway between chance (1/3) and always right
    assert "no gold answers either" in result.parameters["why"]
    assert result.item_labels()[20] == "yes"
