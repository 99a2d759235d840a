"""A model's predictions for existing items over REST: add or replace, in batches, each entry
optionally with the item's serving priority (or a priority alone: an active-learning loop
reordering the items still pending).

Clients (their organization's jobs) and admins only: workers get 403 from the role check, and
another organization's job is a 404 from the selectors, like a job that does not exist. Items are
named by id or external id and looked up inside the job only. A batch is checked whole before
anything is written: one bad prediction (unknown label or item, probabilities that are not a
distribution) is a 400 naming its index, and nothing changes.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.common import IdField
from marketplace.api.permissions import IsClientOrAdmin, StaffLookReadOnly
from marketplace.errors import ApplicationError
from marketplace.jobs import selectors
from marketplace.jobs.predicting import PredictionEntry, predictions_set
from marketplace.jobs.predictions import (
    MAX_PREDICTIONS_PER_REQUEST,
    PredictionError,
    model_name_check,
    prediction_check,
)
from marketplace.jobs.importing_rows import MAX_EXTERNAL_ID, PRIORITY_RANGE
from marketplace.parsing import ID_RULE, id_or_none

_ENTRY_KEYS = {"item_id", "external_id", "label", "probabilities", "priority"}


class PredictionInSerializer(serializers.Serializer):
    item_id = IdField(required=False, help_text="The item's id (or external_id)")
    external_id = serializers.CharField(required=False, max_length=MAX_EXTERNAL_ID)
    label = serializers.CharField(
        required=False, help_text="A label key of the job (or give probabilities)"
    )
    probabilities = serializers.DictField(
        child=serializers.FloatField(), required=False,
        help_text="Each label's probability; they sum to 1 (within 0.01), labels left out are 0",
    )
    priority = serializers.IntegerField(
        required=False, min_value=PRIORITY_RANGE[0], max_value=PRIORITY_RANGE[1],
        help_text="The item's serving priority, highest first (e.g. the model's uncertainty)",
    )


class PredictionsInSerializer(serializers.Serializer):
    model = serializers.CharField(max_length=100, help_text="The model's name, e.g. spam-bert")
    model_version = serializers.CharField(max_length=50, help_text="Its version, e.g. 3")
    predictions = PredictionInSerializer(
        many=True, help_text=f"At most {MAX_PREDICTIONS_PER_REQUEST:,}; one per item"
    )


class PredictionsOutSerializer(serializers.Serializer):
    saved = serializers.IntegerField(help_text="Predictions added or replaced")
    prioritized = serializers.IntegerField(help_text="Items whose priority was set")
    model = serializers.CharField()
    model_version = serializers.CharField()
    worker_id = serializers.IntegerField(
        help_text="The model's id among the job's workers in consensus results (negative)"
    )


def _entries(raw: Any, label_keys: list[str]) -> list[PredictionEntry]:
    """Each entry checked by hand (shape, then jobs.predictions): one error format, with its index."""
    if not isinstance(raw, list):
        raise ApplicationError("predictions must be a list.", details={"reason": "invalid"})
    if len(raw) > MAX_PREDICTIONS_PER_REQUEST:
        raise ApplicationError(
            f"At most {MAX_PREDICTIONS_PER_REQUEST:,} predictions per request; send batches.",
            details={"reason": "too_many_predictions"},
        )
    entries = []
    for index, entry in enumerate(raw):
        where = f"predictions[{index}]"
        if not isinstance(entry, dict) or set(entry) - _ENTRY_KEYS:
            raise ApplicationError(
                f"{where}: an object with item_id or external_id, label and/or probabilities.",
                details={"index": index, "reason": "invalid"},
            )
        item_id, external_id = entry.get("item_id"), entry.get("external_id")
        if (item_id is None) == (external_id is None):
            raise ApplicationError(
                f"{where}: name the item by item_id or by external_id (one of them).",
                details={"index": index, "reason": "missing_item"},
            )
        if item_id is not None and (type(item_id) is not int or id_or_none(item_id) is None):
            raise ApplicationError(f"{where}: item_id must be {ID_RULE}.",
                                   details={"index": index, "reason": "invalid_item_id"})
        if external_id is not None and (
            not isinstance(external_id, str) or len(external_id) > MAX_EXTERNAL_ID
        ):
            raise ApplicationError(
                f"{where}: external_id must be a string of at most {MAX_EXTERNAL_ID} characters.",
                details={"index": index, "reason": "invalid_external_id"},
            )
        try:
            if isinstance(entry.get("probabilities"), str):  # JSON text is for CSV cells only
                raise PredictionError("invalid_probabilities", "probabilities must be an object.")
            checked = prediction_check(
                entry.get("label"), entry.get("probabilities"), label_keys=label_keys
            )
        except PredictionError as exc:
            raise ApplicationError(f"{where}: {exc.message}",
                                   details={"index": index, "reason": exc.reason}) from None
        priority = entry.get("priority")
        low, high = PRIORITY_RANGE
        if priority is not None and (
            isinstance(priority, bool) or not isinstance(priority, int) or not low <= priority <= high
        ):
            raise ApplicationError(
                f"{where}: priority must be a whole number from {low} to {high}.",
                details={"index": index, "reason": "invalid_priority"},
            )
        if checked is None and priority is None:
            raise ApplicationError(f"{where}: give a label, probabilities or a priority.",
                                   details={"index": index, "reason": "missing_prediction"})
        entries.append(PredictionEntry(prediction=checked, item_id=item_id,
                                       external_id=external_id, priority=priority))
    return entries


class JobPredictions(APIView):
    permission_classes = [IsAuthenticated, IsClientOrAdmin, StaffLookReadOnly]

    @extend_schema(
        operation_id="v1_jobs_predictions_set",
        summary="Add or replace a model's predictions for items: all or nothing",
        request=PredictionsInSerializer,
        responses={
            200: PredictionsOutSerializer,
            400: OpenApiResponse(description="invalid: details name the entry (index) and reason"),
            409: OpenApiResponse(description="conflict: the job is completed or cancelled"),
        },
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get_for_owner(user=request.user, job_id=job_id)
        data = request.data
        if set(data) - {"model", "model_version", "predictions"}:
            raise ApplicationError(
                'Send {"model": ..., "model_version": ..., "predictions": [...]}.',
                details={"reason": "invalid"},
            )
        model = model_name_check(data.get("model"), data.get("model_version"))
        entries = _entries(data.get("predictions"), job.label_keys)
        done = predictions_set(job=job, model=model, entries=entries)
        body = {"saved": done.saved, "prioritized": done.prioritized, "model": model.name,
                "model_version": model.version, "worker_id": done.worker_id}
        return Response(body, status=status.HTTP_200_OK)
