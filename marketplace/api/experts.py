"""Expert review API: experts take and settle reviews; a job's client sees how many and why.

Responses are explicit dicts. An expert sees the crowd's judgments under pseudonyms ("Worker 1"),
never worker ids; a client sees counts per label and the expert's label, never who settled it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace import flows_experts
from marketplace.api.permissions import IsClientOrAdmin, StaffLookReadOnly
from marketplace.api.common import PAGE_PARAMETERS, IdField, Pagination, refuse_numbers_as_text
from marketplace.errors import ApplicationError
from marketplace.jobs.selectors import job_get_for_owner
from marketplace.quality import experts
from marketplace.quality.models import ExpertReview

TAG = ["expert review"]
_EXPERT_ERRORS = {
    403: OpenApiResponse(description="permission_denied: you are not an expert, or judged the item"),
    404: OpenApiResponse(description="not_found, or no_work when no review is waiting"),
    409: OpenApiResponse(description="conflict: settled already, or held by another expert"),
}


class IsExpert(BasePermission):
    message = "Only experts and admins review items."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and experts.is_expert(user))


# --- shapes (documentation for /api/schema/)


class ExpertLabelSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()


class ExpertJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    instructions_html = serializers.CharField()
    labels = ExpertLabelSerializer(many=True)


class CrowdJudgmentSerializer(serializers.Serializer):
    worker = serializers.CharField(help_text="A pseudonym, the same within this item only.")
    label = serializers.CharField()


class CrowdSerializer(serializers.Serializer):
    judgments = CrowdJudgmentSerializer(many=True)
    counts = serializers.DictField(child=serializers.IntegerField())


class ExpertReviewSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    reason = serializers.CharField()
    confidence = serializers.FloatField(help_text="The crowd's consensus confidence when queued.")
    assigned_until = serializers.DateTimeField(allow_null=True)
    label = serializers.CharField(allow_null=True)
    job = ExpertJobSerializer()
    item = serializers.DictField(help_text="{id, data}")
    crowd = CrowdSerializer()


class NextReviewInputSerializer(serializers.Serializer):
    job = IdField(required=False, allow_null=True, help_text="Omit for any job.")


class SettleInputSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=64)


class ReasonCountSerializer(serializers.Serializer):
    reason = serializers.CharField()
    open = serializers.IntegerField()
    settled = serializers.IntegerField()


class ReviewCountsSerializer(serializers.Serializer):
    open = serializers.IntegerField()
    settled = serializers.IntegerField()
    total = serializers.IntegerField()


class JobReviewRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    item = serializers.DictField(help_text="{id, external_id}")
    status = serializers.CharField()
    reason = serializers.CharField()
    confidence = serializers.FloatField()
    crowd = serializers.DictField(child=serializers.IntegerField(), help_text="Judgments per label.")
    label = serializers.CharField(allow_null=True, help_text="The expert's label once settled.")
    queued_at = serializers.DateTimeField()
    settled_at = serializers.DateTimeField(allow_null=True)


class JobReviewListSerializer(serializers.Serializer):
    job = serializers.IntegerField()
    counts = ReviewCountsSerializer()
    reasons = ReasonCountSerializer(many=True)
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = JobReviewRowSerializer(many=True)


def _parse(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data={} if data in (None, "") else data)
    refuse_numbers_as_text(serializer, data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _when(value: Any) -> Any:
    return None if value is None else serializers.DateTimeField().to_representation(value)


def present_review(review: ExpertReview) -> dict[str, Any]:
    job, crowd = review.job, experts.crowd_view(review=review)
    return {
        "id": review.pk,
        "status": review.status,
        "reason": review.reason,
        "confidence": round(review.confidence, 4),
        "assigned_until": _when(review.assigned_until),
        "label": review.label or None,
        "job": {
            "id": job.pk,
            "title": job.title,
            "instructions_html": job.instructions_html,
            "labels": [{"key": c["key"], "name": c.get("name") or c["key"]} for c in job.labels],
        },
        "item": {"id": review.item_id, "data": review.item.data},
        "crowd": {"judgments": crowd.judgments, "counts": crowd.counts},
    }


# --- views


class ExpertNext(APIView):
    permission_classes = [IsAuthenticated, IsExpert]

    @extend_schema(
        tags=TAG, request=NextReviewInputSerializer, responses={200: ExpertReviewSerializer, **_EXPERT_ERRORS},
        summary="Take the next item waiting for expert review", operation_id="v1_expert_next",
        description="Asking again while your assignment is live returns the same review.",
    )
    def post(self, request: Request) -> Response:
        job_id = _parse(NextReviewInputSerializer, request.data).get("job")
        review = experts.expert_review_claim(expert=request.user, job_id=job_id)
        review = experts.expert_review_get(expert=request.user, review_id=review.pk)
        return Response(present_review(review))


class ExpertReviewDetail(APIView):
    permission_classes = [IsAuthenticated, IsExpert]

    @extend_schema(
        tags=TAG, responses={200: ExpertReviewSerializer, 403: _EXPERT_ERRORS[403], 404: _EXPERT_ERRORS[404]},
        summary="One review, with the item and the crowd's judgments", operation_id="v1_expert_review",
    )
    def get(self, request: Request, review_id: int) -> Response:
        return Response(present_review(experts.expert_review_get(expert=request.user, review_id=review_id)))


class ExpertReviewSettle(APIView):
    permission_classes = [IsAuthenticated, IsExpert]

    @extend_schema(
        tags=TAG, request=SettleInputSerializer, responses={200: ExpertReviewSerializer, **_EXPERT_ERRORS},
        summary="Settle the item with your label", operation_id="v1_expert_review_settle",
        description="A worker expert earns the review pay (QUORUM_EXPERT_REVIEW_PAY) once, however often "
        "the settle is retried; an admin earns nothing.",
    )
    def post(self, request: Request, review_id: int) -> Response:
        label = _parse(SettleInputSerializer, request.data)["label"]
        flows_experts.expert_review_settle(expert=request.user, review_id=review_id, label=label)
        return Response(present_review(experts.expert_review_get(expert=request.user, review_id=review_id)))


class JobExpertReviews(APIView):
    permission_classes = [IsAuthenticated, IsClientOrAdmin, StaffLookReadOnly]

    @extend_schema(
        tags=["jobs"], responses=JobReviewListSerializer, operation_id="v1_jobs_expert_reviews",
        summary="Items of the job that went to expert review: how many, why, and how settled",
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter("status", str, required=False, enum=list(ExpertReview.Status.values)),
        ],
    )
    def get(self, request: Request, job_id: int) -> Response:
        job = job_get_for_owner(user=request.user, job_id=job_id)
        status_filter = request.query_params.get("status") or None
        if status_filter is not None and status_filter not in ExpertReview.Status.values:
            raise ApplicationError(f"status must be one of {', '.join(ExpertReview.Status.values)}.")
        summary = experts.job_review_summary(job=job)
        paginator = Pagination()
        reviews = experts.job_reviews(job=job, status=status_filter)
        page = list(paginator.paginate_queryset(reviews, request, view=self) or [])
        crowd = experts.crowd_counts(item_ids=[review.item_id for review in page])
        return Response(
            {
                "job": job.pk,
                "counts": {"open": summary.open, "settled": summary.settled, "total": summary.total},
                "reasons": summary.reasons,
                "count": paginator.page.paginator.count,
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
                "results": [
                    {
                        "id": review.pk,
                        "item": {"id": review.item_id, "external_id": review.item.external_id},
                        "status": review.status,
                        "reason": review.reason,
                        "confidence": round(review.confidence, 4),
                        "crowd": crowd.get(review.item_id, {}),
                        "label": review.label or None,
                        "queued_at": _when(review.created_at),
                        "settled_at": _when(review.settled_at),
                    }
                    for review in page
                ],
            }
        )
