"""A fit's cost before it runs (consensus/cost.py): judgments x labels x rounds at the method's
worst measured rate, MACE's rounds as its restarts of at most 50 iterations, one pass for the
voting methods, and MMSR bounded by its workers, whose pairs its memory squares."""

from __future__ import annotations

import pytest

from marketplace.consensus import METHODS
from marketplace.consensus.cost import MMSR_MAX_WORKERS, fit_cost


def _cost(method: str, **sizes: int) -> float:
    base = {"judgments": 100_000, "labels": 10, "workers": 50, "items": 30_000, "max_rounds": 100}
    return fit_cost(method, **{**base, **sizes}).seconds


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_has_a_cost_that_grows_with_its_judgments_and_labels(method: str) -> None:
    assert 0 < _cost(method) < _cost(method, judgments=200_000) < _cost(method, judgments=200_000, labels=20)


def test_iterative_fits_cost_their_rounds_and_mace_at_most_fifty_a_restart() -> None:
    assert _cost("glad", max_rounds=1_000) == pytest.approx(10 * _cost("glad", max_rounds=100))
    assert _cost("mace", max_rounds=1_000) == _cost("mace", max_rounds=50) == 5 * _cost("mace", max_rounds=10)
    assert _cost("mv", max_rounds=1_000) == _cost("mv", max_rounds=1)


def test_the_default_method_fits_a_million_judgments_with_fifty_labels_within_the_default_limit() -> None:
    assert _cost("quorum", judgments=1_000_000, labels=50) <= 600


def test_mmsr_is_refused_past_its_worker_bound_and_no_other_method_is() -> None:
    assert fit_cost("mmsr", judgments=1_000, labels=3, workers=MMSR_MAX_WORKERS, items=300, max_rounds=100).refused == ""
    too_many = fit_cost("mmsr", judgments=1_000, labels=3, workers=MMSR_MAX_WORKERS + 1, items=300, max_rounds=100)
    assert f"at most {MMSR_MAX_WORKERS} workers" in too_many.refused
    assert all(fit_cost(m, judgments=1_000, labels=3, workers=10_000, items=300, max_rounds=100).refused == ""
               for m in METHODS if m != "mmsr")
