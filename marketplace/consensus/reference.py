"""crowd-kit's DawidSkene run directly on the raw values, for checks and benchmarks only.

Tests and the benchmark compare `aggregate` against crowd-kit used the way its documentation
shows (a DataFrame of the original ids and string labels), without our encoding in between.
They come here for it because no module outside this package may import crowd-kit.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from crowdkit.aggregation import DawidSkene

from marketplace.consensus.types import FloatArray, IdArray, Votes


def _raw_frame(votes: Votes) -> pd.DataFrame:
    labels = np.asarray(votes.label_set, dtype=object)[votes.codes]
    return pd.DataFrame({"task": votes.items, "worker": votes.workers, "label": labels})


def crowdkit_ds_labels(
    votes: Votes,
    *,
    gold: Mapping[Hashable, str] | None = None,
    n_iter: int = 100,
    tol: float = 1e-5,
) -> dict[Any, str]:
    """{item: label} from `DawidSkene(n_iter, tol).fit_predict(frame, true_labels)`."""
    true_labels = pd.Series(dict(gold), dtype=object) if gold else None
    found = DawidSkene(n_iter=n_iter, tol=tol).fit_predict(_raw_frame(votes), true_labels)
    return {key: str(value) for key, value in found.items()}


def crowdkit_ds_probabilities(
    votes: Votes, *, n_iter: int, tol: float
) -> tuple[IdArray, FloatArray, int]:
    """(sorted items, items x label_set posteriors, rounds run) from crowd-kit's DawidSkene.

    `tol=-inf` makes it run exactly `n_iter` rounds (its stop needs a gain below `tol`).
    """
    model = DawidSkene(n_iter=n_iter, tol=tol).fit(_raw_frame(votes))
    probas = model.probas_.sort_index().reindex(columns=list(votes.label_set), fill_value=0.0)
    return probas.index.to_numpy(), probas.to_numpy(dtype=np.float64), len(model.loss_history_)


def crowdkit_ds_runner(votes: Votes) -> Callable[[], int]:
    """Build the DataFrame now and return a call that only runs `DawidSkene().fit_predict` on
    it (returning the EM rounds it ran), so a benchmark times crowd-kit alone."""
    frame = _raw_frame(votes)

    def run() -> int:
        model = DawidSkene()
        model.fit_predict(frame)
        return len(model.loss_history_)

    return run
