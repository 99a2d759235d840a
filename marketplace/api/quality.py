"""Worker quality API: admins review and block, clients see their job's crowd, workers see
themselves.

Every response is an explicit dict. Clients get workers under a per-job pseudonym (no names or
emails); workers see their own figures, never gold answers nor the evidence of their events
(it lists gold items with their right labels).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace import flows
from marketplace.accounts.models import Role, User
from marketplace.api.permissions import IsAdmin, IsClientOrAdmin, IsWorker, StaffLookReadOnly
from marketplace.api.common import Pagination, accuracy_field, accuracy_out, extend_list_schema
from marketplace.errors import ApplicationError, NotFound
from marketplace.limits import MAX_REASON_CHARS
from marketplace.parsing import id_parse
from marketplace.jobs.exporting import worker_pseudonym
from marketplace.jobs.models import Job
from marketplace.jobs.selectors import job_get_for_owner
from marketplace.quality import selectors, services
from marketplace.quality.evidence import evidence_read
from marketplace.quality.models import QualityEvent
from marketplace.quality.scoring import GoldEstimate, gold_estimate
from marketplace.quality.selectors import WorkerQuality

TAG = ["quality"]
ORDERS = ("gold", "-gold", "judgments", "-judgments", "worker")

_GOLD = inline_serializer("GoldEstimate", {
    "seen": serializers.IntegerField(), "correct": serializers.IntegerField(),
    "smoothed": accuracy_field(help_text="The gold accuracy, (correct + 1) / (seen + 2): a decimal string with 4 places"),
    "interval_90": serializers.ListField(child=accuracy_field(), help_text="90% credible interval, as two accuracies"),
})
_QUALITY_FIELDS: dict[str, serializers.Field] = {
    "job": serializers.IntegerField(allow_null=True),
    "judgments": serializers.IntegerField(),
    "gold": _GOLD,
    "ds_accuracy": accuracy_field(allow_null=True),
    "confusion": serializers.ListField(child=serializers.ListField(child=serializers.FloatField()), allow_null=True),
    "confusion_labels": serializers.ListField(child=serializers.CharField(), allow_null=True),
    "agreement": serializers.FloatField(allow_null=True, help_text=(
        "Share of `agreement_judgments` equal to the latest consensus run's label; null while there are none.")),
    "agreement_judgments": serializers.IntegerField(help_text=(
        "The worker's answers among those `judgments` counts (regular, not undone; never check items) on items "
        "the latest run labelled, so never more than `judgments`.")),
    "median_seconds": serializers.FloatField(allow_null=True),
    "flagged_fast_at": serializers.DateTimeField(allow_null=True),
    "blocked": serializers.BooleanField(),
    "gold_exact_sets": inline_serializer("GoldExactSets", {
        "seen": serializers.IntegerField(), "correct": serializers.IntegerField(),
        "smoothed": accuracy_field(), "interval_90": serializers.ListField(child=accuracy_field()),
    }, allow_null=True, help_text=(
        "Multi-label jobs only (else null): gold answers with every label right. There `gold` "
        "counts label decisions (each label of an answer right or wrong), the measure the rules read.")),
    "counted_before": serializers.DateTimeField(allow_null=True, help_text=(
        "Your own figures only (/me/quality/), in a job that hides gold feedback: the counts (gold and "
        "answers), agreement and median time take in only your answers given before this time, which moves once an hour "
        "(QUORUM_GOLD_FIGURES_LAG_SECONDS), so they never tell which answer was a check item. Null: "
        "every answer so far (jobs that show gold feedback, and what admins and clients read).")),
}
_EVENT = inline_serializer("QualityEventOut", {
    "id": serializers.IntegerField(), "job": serializers.IntegerField(allow_null=True),
    "kind": serializers.CharField(), "automatic": serializers.BooleanField(),
    "actor": serializers.CharField(allow_null=True), "reason": serializers.CharField(),
    "evidence": serializers.JSONField(), "created_at": serializers.DateTimeField(),
})
_REASON = inline_serializer("QualityReason", {"reason": serializers.CharField(
    max_length=MAX_REASON_CHARS, help_text=f"Required; at most {MAX_REASON_CHARS:,} characters (a longer one is a 400)")})


def _bool_param(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in {"1", "true", "yes"}:
        return True
    if raw.lower() in {"0", "false", "no"}:
        return False
    raise ApplicationError(f"{name} must be true or false.")


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    return id_parse(raw, name)


def _worker_get(worker_id: int) -> User:
    worker = User.objects.filter(pk=worker_id, role=Role.WORKER).first()
    if worker is None:
        raise NotFound("Worker not found.")
    return worker


def _gold_out(estimate: GoldEstimate) -> dict[str, Any]:
    return {"seen": estimate.seen, "correct": estimate.correct, "smoothed": accuracy_out(estimate.smoothed),
            "interval_90": [accuracy_out(estimate.low), accuracy_out(estimate.high)]}


def _figures(quality: WorkerQuality) -> dict[str, Any]:
    """A worker's figures as the API writes them: accuracies as decimal strings (api/common.py)."""
    exact = quality.gold_exact_sets
    return {**quality.as_dict(), "gold": _gold_out(quality.gold), "ds_accuracy": accuracy_out(quality.ds_accuracy),
            "gold_exact_sets": None if exact is None else _gold_out(exact)}


def _event(event: QualityEvent, *, with_evidence: bool) -> dict[str, Any]:
    return {
        "id": event.pk, "job": event.job_id, "kind": event.kind, "automatic": event.automatic,
        "actor": event.actor.username if event.actor else None, "reason": event.reason,
        "evidence": evidence_read(event.evidence) if with_evidence else {}, "created_at": event.created_at,
    }


class WorkerQualityList(APIView):
    permission_classes = [IsAuthenticated, IsAdmin]

    @extend_list_schema(
        inline_serializer("WorkerQualityRow", {
            "worker": serializers.IntegerField(), "username": serializers.CharField(),
            "jobs": serializers.IntegerField(), "judgments": serializers.IntegerField(), "gold": _GOLD,
            "flagged_jobs": serializers.IntegerField(), "blocked_jobs": serializers.IntegerField(),
            "in_job": inline_serializer("WorkerQualityInJob", _QUALITY_FIELDS, allow_null=True),
        }),
        tags=TAG, operation_id="quality_workers_list", summary="Workers by quality (admins)",
        parameters=[
            OpenApiParameter("job", int, required=False, description="Only this job's figures"),
            OpenApiParameter("flagged", bool, required=False, description="Flagged for fast answers"),
            OpenApiParameter("blocked", bool, required=False, description="Blocked from a job"),
            OpenApiParameter("ordering", str, required=False, enum=ORDERS, description="gold = smoothed accuracy"),
        ],
    )
    def get(self, request: Request) -> Response:
        job_id = _int_param(request, "job")
        ordering = request.query_params.get("ordering", "gold")
        if ordering not in ORDERS:
            raise ApplicationError(f"ordering must be one of {', '.join(ORDERS)}.")
        rows = selectors.workers_overview(
            job_id=job_id, flagged=_bool_param(request, "flagged"), blocked=_bool_param(request, "blocked"),
            order=ordering,
        )
        paginator = Pagination()
        page = list(paginator.paginate_queryset(rows, request, view=self) or [])
        ids = [row["worker_id"] for row in page]
        names = selectors.usernames(worker_ids=ids)
        in_job = {}
        if job_id is not None:
            in_job = {q.worker_id: _figures(q) for q in selectors.job_worker_quality(job_id=job_id, worker_ids=ids)}
        return paginator.get_paginated_response([
            {
                "worker": row["worker_id"], "username": names.get(row["worker_id"], ""), "jobs": row["jobs"],
                "judgments": row["regular"],
                "gold": _gold_out(gold_estimate(correct=row["correct"], seen=row["seen"])),
                "flagged_jobs": row["flagged_jobs"], "blocked_jobs": row["blocked_jobs"],
                "in_job": in_job.get(row["worker_id"]),
            }
            for row in page
        ])


class WorkerQualityDetail(APIView):
    permission_classes = [IsAuthenticated, IsAdmin]

    @extend_schema(
        tags=TAG, operation_id="quality_workers_retrieve", summary="One worker's quality, per job, with events",
        responses={200: inline_serializer("WorkerQualityDetailOut", {
            "worker": serializers.IntegerField(), "username": serializers.CharField(),
            "suspended_at": serializers.DateTimeField(allow_null=True),
            "overall": inline_serializer("WorkerQualityOverall", _QUALITY_FIELDS),
            "jobs": inline_serializer("WorkerQualityPerJob", {**_QUALITY_FIELDS, "title": serializers.CharField()}, many=True),
            "events": _EVENT,
        }), 404: OpenApiResponse(description="not_found")},
    )
    def get(self, request: Request, worker_id: int) -> Response:
        worker = _worker_get(worker_id)
        per_job = selectors.worker_quality_by_job(worker_id=worker.pk)
        titles = dict(Job.objects.filter(pk__in=[q.job_id for q in per_job]).values_list("pk", "title"))
        return Response({
            "worker": worker.pk, "username": worker.username, "suspended_at": worker.suspended_at,
            "overall": _figures(selectors.worker_quality_overall(worker_id=worker.pk)),
            "jobs": [{**_figures(q), "title": titles.get(q.job_id, "")} for q in per_job],
            "events": [_event(e, with_evidence=True) for e in selectors.quality_events(worker_id=worker.pk)],
        })


class WorkerBlockAction(APIView):
    """POST /jobs/{job}/workers/{worker}/block/ or /unblock/ with a reason (admins)."""

    permission_classes = [IsAuthenticated, IsAdmin]

    @extend_schema(
        tags=TAG, operation_id="job_worker_block_action", request=_REASON,
        summary="Block a worker from a job (a running job: drops their judgments, reopens items; one that "
        "ended drops nothing) or unblock",
        responses={200: _EVENT, 400: OpenApiResponse(description="invalid: reason missing or too long"),
                   404: OpenApiResponse(description="not_found"), 409: OpenApiResponse(description="conflict")},
    )
    def post(self, request: Request, job_id: int, worker_id: int, action: str) -> Response:
        reason = request.data.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ApplicationError("A reason is required.")
        job = job_get_for_owner(user=request.user, job_id=int(job_id))
        worker = _worker_get(int(worker_id))
        if action == "block":
            # The flow also withdraws the pending pay of the judgments the block drops.
            flows.worker_block(job=job, worker=worker, reason=reason, actor=request.user)
        else:
            flows.worker_unblock(job=job, worker=worker, reason=reason, actor=request.user)
        event = selectors.quality_events(worker_id=worker.pk, job_id=job.pk, limit=10)
        latest = next(e for e in event if e.kind in {QualityEvent.Kind.BLOCKED, QualityEvent.Kind.UNBLOCKED})
        return Response(_event(latest, with_evidence=True))


class JobWorkerList(APIView):
    permission_classes = [IsAuthenticated, IsClientOrAdmin, StaffLookReadOnly]

    @extend_list_schema(
        inline_serializer("JobWorkerRow", {**_QUALITY_FIELDS, "worker": serializers.CharField(
            help_text="A pseudonym stable within this job")}),
        tags=TAG, operation_id="job_workers_list", summary="The crowd of your job, pseudonymized",
    )
    def get(self, request: Request, job_id: int) -> Response:
        job = job_get_for_owner(user=request.user, job_id=job_id)  # another org's job: 404
        rows = selectors.job_worker_quality(job_id=job.pk)
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self) or []  # type: ignore[arg-type]
        return paginator.get_paginated_response([_pseudonymized(job.pk, q) for q in page])


def _pseudonymized(job_id: int, quality: WorkerQuality) -> dict[str, Any]:
    out = _figures(quality)
    out["worker"] = worker_pseudonym(job_id=job_id, worker_id=quality.worker_id)
    return out


class MyQuality(APIView):
    permission_classes = [IsAuthenticated, IsWorker]

    @extend_schema(
        tags=TAG, operation_id="me_quality_retrieve", summary="Your quality figures, overall and per job",
        responses=inline_serializer("MyQualityOut", {
            "overall": inline_serializer("MyQualityOverall", _QUALITY_FIELDS),
            "jobs": inline_serializer("MyQualityPerJob", {**_QUALITY_FIELDS, "title": serializers.CharField()}, many=True),
            "events": inline_serializer("MyQualityEvent", {
                "job": serializers.IntegerField(allow_null=True), "kind": serializers.CharField(),
                "reason": serializers.CharField(), "created_at": serializers.DateTimeField()}, many=True),
            "policy": serializers.CharField(),
        }),
    )
    def get(self, request: Request) -> Response:
        worker = request.user
        # As the worker may see them: late in jobs that hide gold feedback (quality/own_figures.py).
        per_job = selectors.worker_quality_by_job(worker_id=worker.pk, as_shown=True)
        titles = dict(Job.objects.filter(pk__in=[q.job_id for q in per_job]).values_list("pk", "title"))
        events = selectors.quality_events(worker_id=worker.pk, limit=50)
        return Response({
            "overall": _figures(selectors.worker_quality_overall(worker_id=worker.pk, as_shown=True)),
            "jobs": [{**_figures(q), "title": titles.get(q.job_id, "")} for q in per_job],
            # No evidence: it lists gold items with their right labels.
            "events": [
                {"job": e.job_id, "kind": e.kind, "reason": e.reason, "created_at": e.created_at} for e in events
            ],
            "policy": services.DROP_POLICY,
        })
