"""Consensus runs over REST: start one, list a job's runs, read one with its workers.

Clients (their organization's jobs) and admins only: workers get 403 from the role check, and
another organization's job or run is a 404 from the selectors. Clients see workers under the
job-scoped pseudonym of the exports (jobs.exporting.worker_pseudonym); admins also see the id.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.accounts.models import User
from marketplace.api.permissions import IsClientOrAdmin
from marketplace.api.common import Pagination, extend_list_schema, refuse_unknown_fields
from marketplace.errors import ApplicationError
from marketplace.jobs import selectors
from marketplace.consensus import METHODS
from marketplace.jobs.exporting import worker_pseudonym
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
    items = serializers.IntegerField()
    mean_confidence = serializers.FloatField()


class RunDetailSerializer(RunSerializer):
    parameters = serializers.DictField()
    labels = serializers.ListField(
        child=serializers.CharField(), help_text="Order of confusion rows/columns"
    )
    distribution = serializers.DictField(child=LabelShareSerializer(), help_text="Per chosen label")


class WorkerResultSerializer(serializers.Serializer):
    worker = serializers.CharField(help_text="Pseudonym, stable within the job")
    worker_id = serializers.IntegerField(required=False, help_text="Admins only")
    accuracy = serializers.FloatField()
    judgments = serializers.IntegerField()
    confusion = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()))


class _Endpoint(APIView):
    permission_classes = [IsAuthenticated, IsClientOrAdmin]


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
        summary="One run: counts, timings, parameters and the per-label distribution",
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
    shown.update(accuracy=row.accuracy, judgments=row.judgments, confusion=row.confusion)
    return shown


def _detail(run: ConsensusRun, user: User) -> dict[str, Any]:
    labels = [choice["key"] for choice in run.job.labels]
    data = dict(RunSerializer(run).data)
    data.update(parameters=run.parameters, labels=labels, distribution=run_distribution(run=run))
    return data
