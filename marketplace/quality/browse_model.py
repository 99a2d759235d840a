"""The model beside the crowd in the data browser: which model version a page compares with the
consensus, and that model's figures as the latest consensus run measured them.

A job's items may be predicted by several model versions of its organization; a page compares one:
the one asked for (`model=<id>`), else the job's pre-label model, else the one the latest run
measured on the most items, else the newest that predicted an item of the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef

from marketplace.errors import ApplicationError
from marketplace.jobs.models import Job, Prediction, PredictionModel
from marketplace.quality.label_quality import PrelabelFigures, job_prelabel_figures
from marketplace.quality.models import ConsensusRun

MODELS_MAX = 50  # model versions of one organization a job's browser lists


@dataclass(frozen=True)
class BrowsedModel:
    id: int
    name: str
    version: str
    # What the latest run measured (quality/predictions.py), None before a run measured it:
    accuracy: float | None  # its accuracy against the people (gold items: their answer)
    items: int  # items it was measured on
    agreement: float | None  # share of its predictions equal to the run's labels
    crowd_accuracy: float | None  # the run's typical worker, to read the model's accuracy beside
    # A job that shows this model's pre-labels: the figures on the control group's blind
    # judgments (quality/label_quality.py), read on a first page only (they count the judgments).
    prelabels: PrelabelFigures | None = None


def job_models(*, job: Job) -> list[PredictionModel]:
    """The organization's model versions that predicted an item of `job`, newest first (one query:
    an indexed probe of (job, model) per version, never a walk of the predictions)."""
    used = Prediction.objects.filter(job_id=job.pk, model_id=OuterRef("pk"))
    return list(
        PredictionModel.objects.filter(organization_id=job.organization_id)
        .filter(Exists(used)).order_by("-id")[:MODELS_MAX]
    )


def _measured(run: ConsensusRun | None) -> dict[int, dict[str, Any]]:
    parameters = run.parameters if run is not None else None
    raw = parameters.get("models") if isinstance(parameters, dict) else None
    return {
        int(m["model_id"]): m for m in raw or []
        if isinstance(m, dict) and isinstance(m.get("model_id"), int)
    }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def browse_model_choose(
    *, job: Job, model_id: int | None, run: ConsensusRun | None, with_prelabels: bool = False
) -> BrowsedModel | None:
    """The model version a browser page compares (module docstring), with its figures; None when
    no model predicted the job's items. ApplicationError (400) for a `model_id` that did not.
    `with_prelabels`: also the anchoring figures when the job shows this model's pre-labels."""
    models = {m.pk: m for m in job_models(job=job)}
    measured = _measured(run)
    if model_id is not None and model_id not in models:
        raise ApplicationError("model: not a model that predicted this job's items.", details={"parameter": "model"})
    if model_id is None:
        if job.prelabel_model_id in models:
            model_id = job.prelabel_model_id
        elif any(pk in models for pk in measured):
            model_id = max((pk for pk in measured if pk in models), key=lambda pk: int(measured[pk].get("items") or 0))
        elif models:
            model_id = next(iter(models))
        else:
            return None
    model, figures = models[model_id], measured.get(model_id, {})
    crowd = run.parameters.get("crowd") if run is not None and isinstance(run.parameters, dict) else None
    return BrowsedModel(
        id=model.pk, name=model.name, version=model.version,
        accuracy=_number(figures.get("accuracy")), items=int(figures.get("items") or 0),
        agreement=_number(figures.get("agreement")),
        crowd_accuracy=_number(crowd.get("accuracy")) if isinstance(crowd, dict) else None,
        prelabels=job_prelabel_figures(job=job) if with_prelabels and job.prelabel_model_id == model.pk else None,
    )
