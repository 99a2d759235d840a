"""A job's per-label precision and recall against gold, for its client (quality/label_quality.py).

Clients (their organization's jobs) and admins only: workers get 403 from the role check (the
figures are built from gold answers), and another organization's job is a 404 like a missing one.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.common import accuracy_field, accuracy_out
from marketplace.api.permissions import IsClientOrAdmin, StaffLookReadOnly
from marketplace.jobs.selectors import job_get_for_owner
from marketplace.quality.label_quality import PrelabelFigures, job_label_quality

_LABEL_FIELDS: dict[str, serializers.Field] = {
    "label": serializers.CharField(),
    "support": serializers.IntegerField(help_text="Gold items whose answer is this label"),
    "predicted": serializers.IntegerField(help_text="Gold items this source gave this label"),
    "correct": serializers.IntegerField(),
    "precision": serializers.FloatField(allow_null=True, help_text="correct / predicted"),
    "recall": serializers.FloatField(allow_null=True, help_text="correct / support"),
}
_SOURCE_FIELDS: dict[str, serializers.Field] = {
    "source": serializers.ChoiceField(choices=["consensus", "model", "judgments"], help_text=(
        "judgments: multi-label jobs only, the workers' accepted gold answers pooled")),
    "name": serializers.CharField(),
    "version": serializers.CharField(allow_blank=True),
    "gold_items": serializers.IntegerField(help_text="Gold items this source labeled"),
    "correct": serializers.IntegerField(),
    "accuracy": accuracy_field(allow_null=True, help_text=(
        "correct / gold_items (multi-label jobs: the share of exact sets); a decimal string with 4 places")),
    "label_accuracy": accuracy_field(allow_null=True, help_text=(
        "Multi-label jobs: the share of right (item, label) decisions; null on single-label jobs")),
    "labels": inline_serializer("LabelFigures", _LABEL_FIELDS, many=True),
    "measure": serializers.CharField(allow_blank=True, help_text=(
        "What this source's label on a gold item is. consensus: its label (multi-label jobs: its "
        "label set) for gold items computed without their known answer, since what it delivers "
        "there is the answer itself")),
}
_OUT = inline_serializer("LabelQuality", {
    "job": serializers.IntegerField(),
    "run": serializers.IntegerField(allow_null=True, help_text="The consensus run measured"),
    "gold_items": serializers.IntegerField(),
    "prelabels_shown": serializers.BooleanField(
        help_text="Workers saw a model's label as a suggestion: its agreement is not independent"
    ),
    "sources": inline_serializer("LabelQualitySource", _SOURCE_FIELDS, many=True),
    "prelabels": inline_serializer("PrelabelFigures", {
        "model": serializers.CharField(),
        "judgments_shown": serializers.IntegerField(
            help_text="Accepted judgments made with the model's label on screen"),
        "judgments_agreeing": serializers.IntegerField(help_text="Of those, the ones that chose it"),
        "judgments_blind": serializers.IntegerField(
            help_text="Accepted judgments of the control group: the suggestion was withheld"),
        "blind_agreeing": serializers.IntegerField(help_text="Of those, the ones that chose the model's label"),
        "blind_share": serializers.FloatField(help_text="Share of (item, worker) pairs held blind"),
        "agreement_shown": serializers.FloatField(allow_null=True),
        "agreement_blind": serializers.FloatField(allow_null=True),
        "anchoring": serializers.FloatField(
            allow_null=True, help_text="agreement_shown - agreement_blind: the pull of the suggestion"),
        "model_accuracy_blind": accuracy_field(
            allow_null=True, help_text="The model's accuracy measured on the blind judgments alone"),
        "model_items_blind": serializers.IntegerField(),
        "model_accuracy_all": accuracy_field(
            allow_null=True, help_text="Measured on every judgment: overstated where people copy it"),
    }, allow_null=True),
})


# The figures that are accuracies: decimal strings (api/common.py); the other shares stay numbers.
_ACCURACIES = ("accuracy", "label_accuracy", "model_accuracy_blind", "model_accuracy_all")


def prelabels_out(figures: PrelabelFigures) -> dict[str, Any]:
    out = {key: accuracy_out(value) if key in _ACCURACIES else _rounded(value)
           for key, value in asdict(figures).items()}
    for name in ("agreement_shown", "agreement_blind", "anchoring"):
        out[name] = _rounded(getattr(figures, name))
    return out


def _rounded(value: Any) -> Any:
    return round(value, 6) if isinstance(value, float) else value


class JobLabelQuality(APIView):
    permission_classes = [IsAuthenticated, IsClientOrAdmin, StaffLookReadOnly]

    @extend_schema(
        operation_id="v1_jobs_label_quality",
        summary="Per-label precision and recall on gold: the delivered labels and each model",
        tags=["quality"],
        responses={200: _OUT, 404: OpenApiResponse(description="not_found: no such job of yours")},
    )
    def get(self, request: Request, job_id: int) -> Response:
        job = job_get_for_owner(user=request.user, job_id=job_id)  # another org's job: 404
        figures = job_label_quality(job=job)
        sources = []
        for source in figures.sources:
            row = {key: accuracy_out(value) if key in _ACCURACIES else _rounded(value)
                   for key, value in asdict(source).items() if key != "labels"}
            row["labels"] = [
                {key: _rounded(value) for key, value in asdict(label).items()}
                for label in source.labels
            ]
            sources.append(row)
        return Response({
            "job": job.pk,
            "run": figures.run_id,
            "gold_items": figures.gold_items,
            "prelabels_shown": figures.prelabels_shown,
            "sources": sources,
            "prelabels": None if figures.prelabels is None else prelabels_out(figures.prelabels),
        })
