"""A job's model predictions as consensus votes: read them, score each model version in a run.

Each model version is one more worker (jobs.models.PredictionModel; its pseudo-worker id is
negative, never a user's). A run fits the people first, then each model against the people's
posteriors (consensus.model_worker: on gold items that is the known answer), and combines the
models' votes into the items' labels. A model is never paid (predictions are not judgments,
and only judgments earn), never blocked (quality rules read people's judgments and results), and
never folded into anyone's skill: what a run learned of it is kept in the run's parameters
(`models`), where the job page, the results and dynamic overlap read it. In a job that shows
pre-labels, each model is also measured on the control group's blind judgments alone
(consensus/blind.py; `models[].blind`), which dynamic overlap then goes by.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from django.db.models import Exists, OuterRef

from marketplace.consensus.blind import BlindFit, blind_fit
from marketplace.consensus.model_worker import ModelFit, with_models
from marketplace.consensus.types import ConsensusResult
from marketplace.jobs.models import Prediction, PredictionModel, PrelabelShown
from marketplace.labeling.models import Judgment, JudgmentStatus


@dataclass(frozen=True)
class PredictionArrays:
    items: npt.NDArray[np.int64]
    models: npt.NDArray[np.int64]  # PredictionModel ids
    codes: npt.NDArray[np.int64]  # index into the label set passed in


def prediction_arrays(*, job_id: int, label_set: Sequence[str]) -> PredictionArrays:
    """The job's predictions whose label is in `label_set` (one row per item and model)."""
    position = {label: k for k, label in enumerate(label_set)}
    rows = Prediction.objects.filter(job_id=job_id, label__in=list(label_set)).values_list(
        "item_id", "model_id", "label"
    )
    items, models, codes = [], [], []
    for item_id, model_id, label in rows.iterator(chunk_size=20_000):
        items.append(item_id)
        models.append(model_id)
        codes.append(position[label])
    as_array = np.asarray
    return PredictionArrays(
        as_array(items, dtype=np.int64), as_array(models, dtype=np.int64),
        as_array(codes, dtype=np.int64),
    )


def run_with_models(
    *, job_id: int, result: ConsensusResult, gold: Mapping[int, str] | None = None
) -> tuple[ConsensusResult, list[dict[str, Any]]]:
    """The people's run with the job's models' votes, and what the run learned of each model
    (for the run's parameters); the run unchanged when the job has no predictions. `gold`
    (item id -> label) also measures the models on gold items nobody judged."""
    arrays = prediction_arrays(job_id=job_id, label_set=result.labels)
    if not len(arrays.items):
        return result, []
    position = {label: k for k, label in enumerate(result.labels)}
    coded = {item: position[label] for item, label in (gold or {}).items() if label in position}
    combined, fits = with_models(result, arrays.items, arrays.models, arrays.codes, gold=coded)
    names = dict(
        (pk, (name, version))
        for pk, name, version in PredictionModel.objects.filter(pk__in=list(fits)).values_list(
            "pk", "name", "version"
        )
    )
    blind = blind_votes(job_id=job_id, label_set=result.labels)
    summaries = []
    for pk, fit in fits.items():
        mine = arrays.models == pk
        measured = blind_fit(result, blind, arrays.items[mine], arrays.codes[mine]) if blind else None
        summaries.append(_summary(pk, names.get(pk, ("?", "?")), fit, measured))
    return combined, summaries


def blind_votes(*, job_id: int, label_set: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The job's accepted judgments made blind to a pre-label (the control group: jobs.
    PrelabelShown with `blind`) as (items, workers, codes); None when the job has none."""
    if not PrelabelShown.objects.filter(job_id=job_id, blind=True).exists():
        return None  # the common case: one indexed probe
    position = {label: k for k, label in enumerate(label_set)}
    pair = PrelabelShown.objects.filter(
        job_id=job_id, blind=True, item_id=OuterRef("item_id"), worker_id=OuterRef("worker_id")
    )
    rows = list(
        Judgment.objects.filter(job_id=job_id, status=JudgmentStatus.ACCEPTED, label__in=list(label_set))
        .filter(Exists(pair)).values_list("item_id", "worker_id", "label")
    )
    return (
        np.asarray([r[0] for r in rows], dtype=np.int64), np.asarray([r[1] for r in rows], dtype=np.int64),
        np.asarray([position[r[2]] for r in rows], dtype=np.int64),
    )


def _summary(model_id: int, name: tuple[str, str], fit: ModelFit, blind: BlindFit | None = None) -> dict[str, Any]:
    agreement = None if np.isnan(fit.agreement) else round(fit.agreement, 6)
    measured = None
    if blind is not None:  # a job with pre-labels: the same measure on the control group alone
        measured = _summary(model_id, name, blind.fit)
        measured = {key: measured[key] for key in ("accuracy", "items", "agreement", "confusion")}
        measured["judgments"] = blind.judgments
    return {
        "blind": measured,
        "model_id": model_id,
        "worker_id": -model_id,
        "name": name[0],
        "version": name[1],
        "accuracy": round(fit.accuracy, 6),
        "items": fit.items,
        "agreement": agreement,
        "confusion": [[round(float(p), 6) for p in row] for row in fit.confusion],
    }
