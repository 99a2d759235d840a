"""The accuracy grid of the consensus bench: cells, marks, the default's verdict, rendering."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest

from bench.consensus_accuracy import (
    Cell,
    Row,
    default_summary,
    markdown_header,
    markdown_rows,
    source_rows,
    text_rows,
)
from marketplace.consensus import accuracy, aggregate, split_gold, subsample
from marketplace.consensus.synthetic import Crowd, good_worker, spammer, synthetic_crowd

METHODS = ("mv", "quorum")


@cache
def tiny_crowd() -> Crowd:
    """60 items judged 7 times each by 10 workers: 7 good (0.8), 3 spammers; binary."""
    confusions = np.stack([good_worker(0.8, 2)] * 7 + [spammer(2)] * 3)
    return synthetic_crowd(confusions=confusions, n_items=60, overlap=7, seed=1)


@cache
def tiny_rows() -> list[Row]:
    crowd = tiny_crowd()
    return source_rows(
        "tiny", crowd.votes, crowd.truth_map(), methods=METHODS, ks=(2, 3, 9), seeds=(0, 1, 2)
    )


def row(**means: float) -> Row:
    """A row whose cells have the given means over 400 scored items (SE about 0.02)."""
    cells = {m: Cell(scores=(p - 0.01, p + 0.01), n_scored=400) for m, p in means.items()}
    return Row(source="s", k=3, full_overlap=7, gold=False, cells=cells)


def test_a_cell_gives_mean_standard_deviation_and_standard_error() -> None:
    cell = Cell(scores=(0.80, 0.90, 0.85), n_scored=200)
    assert cell.mean == pytest.approx(0.85)
    assert cell.sd == pytest.approx(0.05)
    assert cell.se == pytest.approx(math.sqrt(0.85 * 0.15 / 200))
    assert Cell(scores=(0.7,), n_scored=10).sd == 0.0


def test_the_best_cell_is_starred_and_one_more_than_one_se_below_it_is_flagged() -> None:
    r = row(mv=0.80, ds=0.90, quorum=0.89)  # best ds, SE 0.015: mv is 6 SE below, quorum < 1
    assert (r.mark("ds"), r.mark("quorum"), r.mark("mv")) == ("*", "", "!")


def test_quorum_is_ok_within_one_se_of_the_best_and_not_below_mv_or_ds() -> None:
    assert row(mv=0.80, ds=0.90, quorum=0.89).default_shortfalls() == []
    assert row(mv=0.80, ds=0.90, quorum=0.85).default_shortfalls() == ["ds"]
    assert row(mv=0.80, wawa=0.95, ds=0.90, quorum=0.85).default_shortfalls() == ["wawa", "ds"]
    assert row(mv=0.80, ds=0.90).default_shortfalls() is None


def test_the_grid_has_every_k_below_the_overlap_then_the_full_data_without_and_with_gold() -> None:
    levels = [(r.gold, r.k_text) for r in tiny_rows()]
    # K = 9 is above the crowd's 7 judgments per item: it would only repeat the full data.
    expected = [(gold, k) for gold in (False, True) for k in ("2", "3", "full (7)")]
    assert levels == expected
    assert all(r.n_scored == 54 for r in tiny_rows())  # 60 items less 6 gold
    assert all(len(cell.scores) == 3 for r in tiny_rows() for cell in r.cells.values())


def test_a_cell_is_the_method_on_each_seeds_subsample_scored_on_that_seeds_held_out_items() -> None:
    crowd = tiny_crowd()
    k3_gold = next(r for r in tiny_rows() if r.k == 3 and r.gold)
    for seed, score in enumerate(k3_gold.cells["quorum"].scores):
        gold, held_out = split_gold(crowd.truth_map(), share=0.1, seed=seed)
        votes = subsample(crowd.votes, 3, seed)
        assert score == accuracy(aggregate(votes, method="quorum", gold=gold), held_out)


def test_majority_vote_scores_the_same_with_and_without_gold() -> None:
    none, given = (r for r in tiny_rows() if r.k == 2)
    assert none.cells["mv"].scores == given.cells["mv"].scores


def test_the_full_data_is_scored_on_each_seeds_held_out_items() -> None:
    full = next(r for r in tiny_rows() if r.k is None and not r.gold)
    crowd = tiny_crowd()
    fitted = aggregate(crowd.votes, method="mv")
    expected = [
        accuracy(fitted, split_gold(crowd.truth_map(), share=0.1, seed=s)[1]) for s in range(3)
    ]
    assert list(full.cells["mv"].scores) == expected


def test_text_rows_show_each_cell_with_its_mark_and_the_verdict() -> None:
    line = text_rows([row(mv=0.80, quorum=0.90)], ("mv", "quorum"))[0]
    assert "0.8000 sd.014 se.020!" in line and "0.9000 sd.014 se.015*" in line
    assert line.endswith("ok")
    below = text_rows([row(mv=0.90, quorum=0.80)], ("mv", "quorum"))[0]
    assert below.endswith("NO: below mv")


def test_the_markdown_table_has_a_cell_per_column_and_bolds_the_best() -> None:
    rows = [row(mv=0.80, quorum=0.90), row(mv=0.85, quorum=0.86)]
    header, rule = markdown_header(("mv", "quorum"))
    lines = markdown_rows(rows, ("mv", "quorum"), "400 items")
    assert all(line.count("|") == header.count("|") == rule.count("|") for line in lines)
    assert lines[0].startswith("| s (400 items) |") and lines[1].startswith("|  |")
    assert "**0.9000**" in lines[0] and "0.8000! ±.014 (se .020)" in lines[0]


def test_the_summary_names_the_rows_where_quorum_falls_short() -> None:
    rows = [row(mv=0.80, quorum=0.90), row(mv=0.90, quorum=0.80)]
    assert default_summary(rows) == "quorum ok in 1 of 2 rows; not in: s no gold K=3"


def test_a_tie_for_best_goes_to_the_method_listed_first() -> None:
    tied = Row(
        source="s",
        k=2,
        full_overlap=7,
        gold=False,
        cells={
            "ds": Cell(scores=(0.3,), n_scored=100),
            "glad": Cell(scores=(0.1 + 0.2,), n_scored=100),  # 0.1 + 0.2 > 0.3 in floats
        },
    )
    assert tied.best == "ds" and tied.mark("glad") == ""
