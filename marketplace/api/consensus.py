"""Consensus runs over REST: start one, list a job's runs, read one with its workers.

Clients (their organization's jobs) and admins only: workers get 403 from the role check, and
another organization's job or run is a 404 from the selectors. Clients see workers under the
job-scoped pseudonym of the exports (jobs.exporting.worker_pseudonym); admins also see the id.

A run's detail tells how right its labels are as the job page does (quality/estimate.py): measured
on gold items labelled without their answer once there are enough, else the model's own estimate,
named so. Dawid-Skene's confidences run high (S_Rel: 0.75 mean against 0.618 right), so a mean
confidence is never presented as an accuracy; per label, precision and recall on that gold.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.accounts.models import User
from marketplace.api.permissions import IsClientOrAdmin, StaffLookReadOnly
from marketplace.api.common import (
    Pagination,
    accuracy_field,
    accuracy_out,
    extend_list_schema,
    refuse_unknown_fields,
)
from marketplace.errors import ApplicationError
from marketplace.jobs import selectors
from marketplace.consensus import METHODS
from marketplace.jobs.exporting import worker_pseudonym
from marketplace.quality.estimate import (
    BASIS_GOLD, BASIS_HELDOUT, BASIS_MODEL, BASIS_NONE, MIN_HELDOUT_GOLD, AccuracyEstimate,
    job_accuracy_estimate,
)
from marketplace.quality.label_quality import SourceFigures, run_heldout_figures
from marketplace.quality.models import ConsensusRun, WorkerResult
from marketplace.quality.results import run_distribution, run_get_for_owner, runs_for_owner
from marketplace.quality.runs import consensus_run
from marketplace.quality.tasks import consensus_schedule


class RunInputSerializer(serializers.Serializer):
    method = serializers.CharField(
        required=False,
        help_text="quorum (default: the model the job's evidence supports), or one of "
        + ", ".join(sorted(set(METHODS) - {"quorum"})),
    )
    options = serializers.DictField(required=False, help_text="max_rounds, tol, prior_strength")


class RunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    method = serializers.CharField()
    trigger = serializers.CharField()
    status = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    seconds = serializers.FloatField(allow_null=True)
    fit_seconds = serializers.FloatField(allow_null=True)
    judgments = serializers.IntegerField()
    items = serializers.IntegerField()
    workers = serializers.IntegerField()
    gold_items = serializers.IntegerField()
    rounds = serializers.IntegerField()
    converged = serializers.BooleanField()
    error = serializers.CharField()


class LabelShareSerializer(serializers.Serializer):
    items = serializers.IntegerField(help_text=(
        "Regular items the run gave this label (multi-label: whose set holds it); gold items are not "
        "counted, as on the job page: their labels are the known answers"))


class ExpectedAccuracySerializer(serializers.Serializer):
    value = accuracy_field(allow_null=True, help_text=(
        "The share of the delivered labels expected right: the job page's headline for this run "
        "(an accuracy: a decimal string with 4 places)"))
    basis = serializers.ChoiceField(choices=[BASIS_HELDOUT, BASIS_MODEL, BASIS_GOLD, BASIS_NONE], help_text=(
        "gold_heldout: measured on gold items labelled without their answer (heldout_gold_items of "
        "them, at least heldout_gold_needed); model: too little such gold, so the model's own "
        "uncalibrated estimate (model_confidence), no interval; gold / none: most items have a "
        "single judgment, so the workers' accuracy on gold answers (none: no gold either)"))
    interval = serializers.ListField(child=accuracy_field(), min_length=2, max_length=2,
                                     allow_null=True, help_text="90 % interval [low, high] of a measured "
                                     "value; null for the model's own estimate")
    of = serializers.IntegerField(help_text="What value is a share of: gold items, gold answers or label "
                                  "decisions, or regular items (basis model)")
    heldout_gold_items = serializers.IntegerField(help_text="Gold items this run labelled without their answer")
    heldout_gold_needed = serializers.IntegerField(help_text="Held-out gold items needed to measure value")
    model_confidence = serializers.FloatField(allow_null=True, help_text=(
        "The model's raw mean confidence over regular items: its own estimate, not a measurement "
        "(crowd models' confidences run high)"))
    model_items = serializers.IntegerField()


class HeldoutLabelSerializer(serializers.Serializer):
    label = serializers.CharField()
    support = serializers.IntegerField(help_text="Held-out gold items whose answer is this label")
    predicted = serializers.IntegerField(help_text="Held-out gold items the run gave this label")
    correct = serializers.IntegerField()
    precision = serializers.FloatField(allow_null=True, help_text="correct / predicted; null when 0")
    recall = serializers.FloatField(allow_null=True, help_text="correct / support; null when 0")


class HeldoutGoldSerializer(serializers.Serializer):
    items = serializers.IntegerField(help_text="Gold items this run labelled without their answer")
    correct = serializers.IntegerField(help_text="Of those, labelled right (multi-label: the exact set)")
    labels = HeldoutLabelSerializer(many=True, help_text="In the job's label order")


class RunDetailSerializer(RunSerializer):
    parameters = serializers.DictField()
    labels = serializers.ListField(
        child=serializers.CharField(), help_text="Order of confusion rows/columns"
    )
    distribution = serializers.DictField(child=LabelShareSerializer(), help_text=(
        "Per chosen label: the regular items (the job page's distribution; gold left out)"))
    expected_accuracy = ExpectedAccuracySerializer(allow_null=True, help_text=(
        "How right the run's labels are expected to be (quality/estimate.py); null unless it succeeded"))
    heldout_gold = HeldoutGoldSerializer(allow_null=True, help_text=(
        "The run's labels on gold items labelled without their answer, per label; null when it "
        "labelled none so (no gold, or the run did not succeed)"))


class WorkerResultSerializer(serializers.Serializer):
    worker = serializers.CharField(help_text="Pseudonym, stable within the job")
    worker_id = serializers.IntegerField(required=False, help_text="Admins only")
    accuracy = accuracy_field()
    judgments = serializers.IntegerField()
    confusion = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()))


class _Endpoint(APIView):
    permission_classes = [IsAuthenticated, IsClientOrAdmin, StaffLookReadOnly]


class JobConsensusRuns(_Endpoint):
    @extend_list_schema(
        RunSerializer, operation_id="v1_jobs_consensus_list",
        summary="List a job's consensus runs, newest first",
    )
    def get(self, request: Request, job_id: int) -> Response:
        paginator = Pagination()
        page = paginator.paginate_queryset(
            runs_for_owner(user=request.user, job_id=job_id), request, view=self
        )
        return paginator.get_paginated_response(RunSerializer(page or [], many=True).data)

    @extend_schema(
        operation_id="v1_jobs_consensus_create",
        request=RunInputSerializer,
        responses={
            201: RunDetailSerializer,
            202: OpenApiResponse(RunSerializer, description="Queued: poll the run until it ends"),
            409: OpenApiResponse(description="A run of this job is in progress (details.run)"),
            503: OpenApiResponse(description="The task queue is unreachable: the run (details.run) was "
                                             "failed; ask again after Retry-After seconds"),
        },
        summary="Run consensus on the job now",
    )
    def post(self, request: Request, job_id: int) -> Response:
        body = request.data  # an object: the JSON parser refuses anything else
        refuse_unknown_fields(("method", "options"), body)  # "methd" would run the default method
        method, options = body.get("method"), body.get("options")
        if method is not None and not isinstance(method, str):
            raise ApplicationError("method must be a string.")
        if options is not None and not isinstance(options, dict):
            raise ApplicationError("options must be an object.")
        job = selectors.job_get_for_owner(user=request.user, job_id=job_id)
        if settings.QUORUM_TASKS == "inline":
            run = consensus_run(job=job, method=method or "quorum", options=options)
            return Response(_detail(run, request.user), status=status.HTTP_201_CREATED)
        run = consensus_schedule(
            job=job, trigger=ConsensusRun.Trigger.MANUAL, method=method, options=options
        )
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class JobConsensusRunDetail(_Endpoint):
    @extend_schema(
        operation_id="v1_jobs_consensus_retrieve",
        responses=RunDetailSerializer,
        summary="One run: counts, timings, parameters, the per-label distribution, its expected "
        "accuracy and per-label precision and recall on held-out gold",
    )
    def get(self, request: Request, job_id: int, run_id: int) -> Response:
        run = run_get_for_owner(user=request.user, job_id=job_id, run_id=run_id)
        return Response(_detail(run, request.user))


class JobConsensusRunWorkers(_Endpoint):
    @extend_list_schema(
        WorkerResultSerializer, operation_id="v1_jobs_consensus_workers_list",
        summary="Workers of one run: accuracy and confusion matrix (rows = true label)",
    )
    def get(self, request: Request, job_id: int, run_id: int) -> Response:
        run = run_get_for_owner(user=request.user, job_id=job_id, run_id=run_id)
        rows = WorkerResult.objects.filter(run=run).order_by("-judgments", "id")
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self) or []
        admin = request.user.is_admin
        results = [_worker(row, job_id=run.job_id, admin=admin) for row in page]
        return paginator.get_paginated_response(results)


def _worker(row: WorkerResult, *, job_id: int, admin: bool) -> dict[str, Any]:
    shown: dict[str, Any] = {"worker": worker_pseudonym(job_id=job_id, worker_id=row.worker_id)}
    if admin:
        shown["worker_id"] = row.worker_id
    shown.update(accuracy=accuracy_out(row.accuracy), judgments=row.judgments, confusion=row.confusion)
    return shown


def _detail(run: ConsensusRun, user: User) -> dict[str, Any]:
    job = run.job
    labels = [choice["key"] for choice in job.labels]
    data = dict(RunSerializer(run).data)
    # Regular items only, as the job page counts: a gold item's label is its known answer.
    distribution = {label: {"items": n} for label, n in run_distribution(run=run, regular_only=True).items()}
    data.update(parameters=run.parameters, labels=labels, distribution=distribution,
                expected_accuracy=None, heldout_gold=None)
    if run.status == ConsensusRun.Status.SUCCEEDED:  # a running or failed run labelled nothing
        data["expected_accuracy"] = _estimate_out(job_accuracy_estimate(job=job, run=run))
        data["heldout_gold"] = _heldout_out(run_heldout_figures(job=job, run=run))
    return data


def _estimate_out(estimate: AccuracyEstimate) -> dict[str, Any]:
    return {
        "value": accuracy_out(estimate.accuracy),
        "basis": estimate.basis,
        "interval": None if estimate.interval is None else [accuracy_out(v) for v in estimate.interval],
        "of": estimate.trials,
        "heldout_gold_items": estimate.heldout_items,
        "heldout_gold_needed": MIN_HELDOUT_GOLD,
        "model_confidence": _rounded(estimate.model_accuracy),
        "model_items": estimate.model_items,
    }


def _heldout_out(figures: SourceFigures | None) -> dict[str, Any] | None:
    if figures is None:
        return None
    labels = [{key: _rounded(value) for key, value in asdict(label).items()} for label in figures.labels]
    return {"items": figures.gold_items, "correct": figures.correct, "labels": labels}


def _rounded(value: Any) -> Any:
    return round(value, 6) if isinstance(value, float) else value
