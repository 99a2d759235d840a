"""Jobs REST API: create, read, edit or delete while draft, edit a running job's instructions as
a new version, and move through the job's lifecycle."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace import flows
from marketplace.api.permissions import IsClient, IsClientOrAdmin, StaffLookReadOnly
from marketplace.api.common import IdField, Pagination, extend_list_schema
from marketplace.errors import ApplicationError, NotFound
from marketplace.jobs import editing, selectors, services
from marketplace.jobs.models import Job, JobStatus
from marketplace.parsing import decimal_text

# Every action is a flow: each one moves money or tells browsers (live updates, on commit).
ACTIONS = {
    "publish": flows.job_publish,  # escrows the job's maximum cost
    "pause": flows.job_pause,
    "resume": flows.job_resume,
    "cancel": flows.job_cancel,  # checks the quality promise and settles
}


class LabelSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField(required=False)
    shortcut = serializers.CharField(required=False, allow_blank=True)


class RequirementSerializer(serializers.Serializer):
    qualification = IdField()
    min_score = serializers.DecimalField(max_digits=5, decimal_places=4, required=False)


class PrelabelsSerializer(serializers.Serializer):
    model = serializers.CharField(max_length=100)
    model_version = serializers.CharField(max_length=50)


class JobInputSerializer(serializers.Serializer):
    """Documents the input; the service validates every field and rejects unknown ones."""

    title = serializers.CharField()
    instructions = serializers.CharField(required=False, allow_blank=True)
    labels = LabelSerializer(many=True)
    overlap = serializers.IntegerField(required=False)
    reward_per_judgment = serializers.DecimalField(max_digits=12, decimal_places=4, required=False)
    tier = serializers.CharField(required=False)
    gold_rate = serializers.DecimalField(max_digits=5, decimal_places=4, required=False)
    lease_seconds = serializers.IntegerField(required=False)
    priority = serializers.IntegerField(required=False)
    max_overlap = serializers.IntegerField(required=False, allow_null=True)
    target_confidence = serializers.DecimalField(
        max_digits=5, decimal_places=4, required=False, allow_null=True
    )
    quality_rules = serializers.DictField(required=False)
    worker_fields = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=100,
        help_text="The item data fields workers see (names); omitted or empty: every field.",
    )
    multi_label = serializers.BooleanField(
        required=False, help_text="Items take any subset of the labels (submit `labels`, a list).",
    )
    requirements = RequirementSerializer(many=True, required=False)
    show_prelabels = PrelabelsSerializer(
        required=False, allow_null=True,
        help_text="Off (null, the default) or the model version whose label workers see as a "
        "suggestion; set before publishing. Judgments that agree with it are not independent.",
    )


class JobOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    status = serializers.CharField()
    instructions = serializers.CharField()
    instructions_html = serializers.CharField(help_text="The instructions rendered and sanitized when saved.")
    instructions_version = serializers.IntegerField(
        help_text="1 at publish, one more at each edit of the running job's instructions; "
        "each judgment records the version it was made under."
    )
    labels = LabelSerializer(many=True)
    overlap = serializers.IntegerField()
    reward_per_judgment = serializers.DecimalField(max_digits=12, decimal_places=4)
    tier = serializers.CharField()
    gold_rate = serializers.DecimalField(max_digits=5, decimal_places=4)
    lease_seconds = serializers.IntegerField()
    priority = serializers.IntegerField()
    max_overlap = serializers.IntegerField(allow_null=True)
    target_confidence = serializers.DecimalField(max_digits=5, decimal_places=4, allow_null=True)
    quality_rules = serializers.DictField()
    worker_fields = serializers.ListField(
        child=serializers.CharField(), help_text="The item data fields workers see; empty: every field."
    )
    multi_label = serializers.BooleanField()
    requirements = serializers.SerializerMethodField()
    show_prelabels = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_requirements(self, job: Job) -> list[dict[str, Any]]:
        return [
            {"qualification": r.qualification_id, "min_score": str(r.min_score)}
            for r in job.requirements.all()
        ]

    @extend_schema_field(PrelabelsSerializer(allow_null=True))
    def get_show_prelabels(self, job: Job) -> dict[str, str] | None:
        model = job.prelabel_model
        return None if model is None else {"model": model.name, "model_version": model.version}

    def get_counts(self, job: Job) -> dict[str, Any]:
        counts = selectors.job_counts(job=job)
        return {
            "items": counts.items,
            "gold_items": counts.gold_items,
            "judgments": counts.judgments,
            "gold_judgments": counts.gold_judgments,
            "completed_items": counts.completed_items,
            "active_leases": counts.active_leases,
            "progress": round(counts.progress, 4),
        }


class JobSummarySerializer(JobOutputSerializer):
    """A job in a list: everything but the instructions (GET the job itself for those)."""

    instructions = None
    instructions_html = None
    instructions_version = None


def _split_input(data: Any) -> tuple[dict[str, Any], list[services.Requirement] | None]:
    fields = dict(data)  # an object or a form: the parsers refuse any other body
    if fields.get("reward_per_judgment") is not None:  # money: never a float (the service checks the rest)
        fields["reward_per_judgment"] = decimal_text(fields["reward_per_judgment"], "reward_per_judgment")
    raw = fields.pop("requirements", None)
    if raw is None:
        return fields, None
    if not isinstance(raw, list):
        raise ApplicationError("requirements must be a list of {qualification, min_score}.")
    reqs: list[services.Requirement] = []
    for position, entry in enumerate(raw, start=1):
        parsed = RequirementSerializer(data=entry)
        if not parsed.is_valid():
            raise ApplicationError(f"requirements[{position}] needs a qualification id and a min_score 0..1.")
        reqs.append(
            services.Requirement(
                qualification_id=parsed.validated_data["qualification"],
                min_score=parsed.validated_data.get("min_score", 0),
            )
        )
    return fields, reqs


def _present(job: Job) -> dict[str, Any]:
    return JobOutputSerializer(job).data


def _present_summary(job: Job) -> dict[str, Any]:
    return JobSummarySerializer(job).data


class JobListCreate(APIView):
    permission_classes = [IsAuthenticated, IsClientOrAdmin]

    @extend_list_schema(
        JobSummarySerializer, operation_id="v1_jobs_list", summary="List your organization's jobs",
        parameters=[OpenApiParameter("status", str, required=False, enum=list(JobStatus.values))],
    )
    def get(self, request: Request) -> Response:
        jobs = (
            selectors.jobs_for_owner(user=request.user)
            .defer(*selectors.LIST_DEFERRED)
            .select_related("prelabel_model")
            .prefetch_related("requirements")
            .order_by("-id")
        )
        status_filter = request.query_params.get("status")
        if status_filter:
            if status_filter not in JobStatus.values:
                raise ApplicationError(f"status must be one of {', '.join(JobStatus.values)}.")
            jobs = jobs.filter(status=status_filter)
        paginator = Pagination()
        page = paginator.paginate_queryset(jobs, request, view=self)
        return paginator.get_paginated_response([_present_summary(job) for job in page or []])

    @extend_schema(request=JobInputSerializer, responses={201: JobOutputSerializer}, summary="Create a draft job")
    def post(self, request: Request) -> Response:
        if not IsClient().has_permission(request, self):
            raise ApplicationError("Only client accounts create jobs.")
        fields, requirements = _split_input(request.data)
        job = flows.job_create(user=request.user, fields=fields, requirements=requirements or ())
        return Response(_present(job), status=status.HTTP_201_CREATED)


class JobDetail(APIView):
    permission_classes = [IsAuthenticated, IsClientOrAdmin, StaffLookReadOnly]

    @extend_schema(responses=JobOutputSerializer, summary="A job with its live counts")
    def get(self, request: Request, job_id: int) -> Response:
        return Response(_present(selectors.job_get_for_owner(user=request.user, job_id=job_id)))

    @extend_schema(
        request=JobInputSerializer, summary="Edit a draft job",
        responses={200: JobOutputSerializer, 409: OpenApiResponse(description="conflict: the job is no longer a draft")},
    )
    def patch(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get_for_owner(user=request.user, job_id=job_id)
        fields, requirements = _split_input(request.data)
        job = flows.job_update(job=job, user=request.user, fields=fields, requirements=requirements)
        return Response(_present(job))

    @extend_schema(
        request=None, summary="Delete a draft job with its items",
        responses={
            204: OpenApiResponse(description="deleted"),
            409: OpenApiResponse(description="conflict: only a draft is deleted; cancel a published job"),
        },
    )
    def delete(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get_for_owner(user=request.user, job_id=job_id)
        editing.job_delete(job=job)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InstructionsInputSerializer(serializers.Serializer):
    instructions = serializers.CharField(allow_blank=True, help_text="Markdown, within the usual limits.")


class JobInstructionsEdit(APIView):
    permission_classes = [IsAuthenticated, IsClientOrAdmin, StaffLookReadOnly]

    @extend_schema(
        request=InstructionsInputSerializer, summary="Edit a running job's instructions as a new version",
        description="Workers see the new text at once; judgments record the version they were made under.",
        responses={
            200: JobOutputSerializer,
            409: OpenApiResponse(description="conflict: the job is not open or paused (edit a draft with PATCH)"),
        },
    )
    def patch(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get_for_owner(user=request.user, job_id=job_id)
        data = request.data
        if set(data) != {"instructions"}:
            raise ApplicationError("Send {\"instructions\": \"...\"} and nothing else.")
        job = editing.job_instructions_edit(job=job, user=request.user, instructions=data["instructions"])
        return Response(_present(selectors.job_get_for_owner(user=request.user, job_id=job.pk)))


class JobAction(APIView):
    permission_classes = [IsAuthenticated, IsClientOrAdmin, StaffLookReadOnly]

    @extend_schema(
        request=None,
        responses={
            200: JobOutputSerializer,
            402: OpenApiResponse(
                description="insufficient_funds: publishing needs more balance; details say how much is missing"
            ),
            409: OpenApiResponse(description="Illegal transition"),
        },
        summary="publish | pause | resume | cancel",
        description="Publishing moves the job's maximum cost into escrow; cancelling settles it.",
        operation_id="v1_jobs_action",
    )
    def post(self, request: Request, job_id: int, action: str) -> Response:
        if action not in ACTIONS:
            raise NotFound(f"Unknown job action {action!r}; use one of {', '.join(ACTIONS)}.")
        job = selectors.job_get_for_owner(user=request.user, job_id=int(job_id))
        job = ACTIONS[action](job=job, user=request.user)
        return Response(_present(job))


