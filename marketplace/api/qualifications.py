"""Qualifications REST API: list and create, add exam questions, take the exam, grant by hand.

Exam answers reach only the people who wrote them (the owning client, admins) in the response
to adding questions. Nothing a worker can call serializes ExamQuestion.answer, and exam results
say only the score, never which questions were wrong, so retries cannot harvest the key.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.accounts import qualifications as services
from marketplace.accounts import selectors
from marketplace.api.accounts import OrganizationSerializer, validated
from marketplace.accounts.models import ExamAttempt, Qualification, WorkerQualification
from marketplace.api.permissions import IsAdmin, IsClientOrAdmin, IsWorker
from marketplace.api.common import IdField, Pagination, extend_list_schema
from marketplace.errors import ApplicationError, Conflict


class ExamLabelSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField(required=False)
    shortcut = serializers.CharField(required=False, allow_blank=True)


class QualificationInputSerializer(serializers.Serializer):
    """Types only; the service checks every rule (label keys, slug, ranges)."""

    name = serializers.CharField(max_length=120)
    slug = serializers.CharField(required=False, allow_blank=True, default="", max_length=80)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    is_expert = serializers.BooleanField(required=False, default=False)
    exam_labels = serializers.JSONField(
        required=False,
        default=list,
        help_text='Empty (no exam) or 2-50 labels: "cat" or {"key", "name", "shortcut"}.',
    )
    pass_mark = serializers.DecimalField(max_digits=5, decimal_places=4, required=False, default="0.8")
    retry_cooldown_seconds = serializers.IntegerField(required=False, default=3600)


class QualificationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    description = serializers.CharField()
    owner = OrganizationSerializer(allow_null=True, help_text="null: platform-wide")
    is_expert = serializers.BooleanField()
    exam_labels = ExamLabelSerializer(many=True)
    pass_mark = serializers.DecimalField(max_digits=5, decimal_places=4)
    retry_cooldown_seconds = serializers.IntegerField()
    question_count = serializers.IntegerField()
    has_exam = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_has_exam(self, qualification: Qualification) -> bool:
        return qualification.question_count > 0  # type: ignore[attr-defined]


class QuestionInputSerializer(serializers.Serializer):
    data = serializers.JSONField()
    answer = serializers.CharField()


class QuestionsInputSerializer(serializers.Serializer):
    questions = QuestionInputSerializer(many=True)


class QuestionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    data = serializers.JSONField()
    answer = serializers.CharField()


class QuestionsAddedSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    question_count = serializers.IntegerField()
    questions = QuestionOutputSerializer(many=True)


class ExamQuestionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    data = serializers.JSONField()


class AttemptSerializer(serializers.Serializer):
    score = serializers.DecimalField(max_digits=5, decimal_places=4)
    passed = serializers.BooleanField()
    submitted_at = serializers.DateTimeField()


class ExamOutputSerializer(serializers.Serializer):
    qualification = serializers.IntegerField()
    labels = ExamLabelSerializer(many=True)
    pass_mark = serializers.DecimalField(max_digits=5, decimal_places=4)
    question_count = serializers.IntegerField()
    questions = ExamQuestionSerializer(many=True)
    may_take = serializers.BooleanField()
    retry_after = serializers.DateTimeField(allow_null=True)
    held_score = serializers.DecimalField(max_digits=5, decimal_places=4, allow_null=True)
    last_attempt = AttemptSerializer(allow_null=True)


class ExamSubmitInputSerializer(serializers.Serializer):
    answers = serializers.DictField(
        child=serializers.CharField(allow_null=True), help_text='{"<question id>": "<label key>"}'
    )


class ExamResultSerializer(serializers.Serializer):
    score = serializers.DecimalField(max_digits=5, decimal_places=4)
    passed = serializers.BooleanField()
    retry_after = serializers.DateTimeField(
        allow_null=True, help_text="After a failure: when you may retry."
    )


class GrantInputSerializer(serializers.Serializer):
    worker = IdField()
    score = serializers.DecimalField(max_digits=5, decimal_places=4)


class GrantOutputSerializer(serializers.Serializer):
    worker = serializers.IntegerField(source="worker_id")
    qualification = serializers.IntegerField(source="qualification_id")
    score = serializers.DecimalField(max_digits=5, decimal_places=4)
    source = serializers.CharField()
    granted_at = serializers.DateTimeField()


class QualificationBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    is_expert = serializers.BooleanField()


class HeldQualificationSerializer(serializers.Serializer):
    qualification = QualificationBriefSerializer()
    score = serializers.DecimalField(max_digits=5, decimal_places=4)
    source = serializers.CharField()
    granted_at = serializers.DateTimeField()


def _visible(request: Request, qualification_id: int) -> Qualification:
    return selectors.qualification_get_visible(user=request.user, qualification_id=qualification_id)


def _present(qualification: Qualification) -> dict[str, Any]:
    return QualificationOutputSerializer(qualification).data


def _attempt(attempt: ExamAttempt | None) -> dict[str, Any] | None:
    return AttemptSerializer(attempt).data if attempt is not None else None


class QualificationListCreate(APIView):
    permission_classes = [IsAuthenticated]

    @extend_list_schema(
        QualificationOutputSerializer, operation_id="v1_qualifications_list", summary="Qualifications you can see"
    )
    def get(self, request: Request) -> Response:
        paginator = Pagination()
        qs = selectors.qualifications_visible_to(user=request.user)
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response([_present(q) for q in page or []])

    @extend_schema(
        request=QualificationInputSerializer,
        responses={201: QualificationOutputSerializer, 409: OpenApiResponse(description="Slug taken")},
        summary="Create a qualification (admins: platform-wide; clients: your organization's)",
    )
    def post(self, request: Request) -> Response:
        data = validated(QualificationInputSerializer, request.data)
        created = services.qualification_create(user=request.user, **data)
        qualification = _visible(request, created.pk)
        return Response(_present(qualification), status=status.HTTP_201_CREATED)


class QualificationDetail(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=QualificationOutputSerializer, summary="One qualification")
    def get(self, request: Request, qualification_id: int) -> Response:
        qualification = _visible(request, qualification_id)
        return Response(_present(qualification))


class QualificationQuestions(APIView):
    permission_classes = [IsAuthenticated, IsClientOrAdmin]

    @extend_schema(
        request=QuestionsInputSerializer,
        responses={201: QuestionsAddedSerializer},
        summary="Add exam questions (the owning organization or an admin)",
    )
    def post(self, request: Request, qualification_id: int) -> Response:
        qualification = _visible(request, qualification_id)
        raw = request.data.get("questions")
        if not isinstance(raw, list):
            raise ApplicationError('Send {"questions": [{"data": {...}, "answer": "<label>"}, ...]}.')
        created = services.exam_questions_add(
            user=request.user, qualification=qualification, questions=raw
        )
        body = {
            "created": len(created),
            "question_count": qualification.question_count + len(created),  # type: ignore[attr-defined]
            "questions": QuestionOutputSerializer(created, many=True).data,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class QualificationExam(APIView):
    permission_classes = [IsAuthenticated, IsWorker]

    @extend_schema(
        responses={
            200: ExamOutputSerializer,
            409: OpenApiResponse(description="This qualification has no exam"),
        },
        summary="The exam: questions without answers, the labels, and whether you may take it now",
    )
    def get(self, request: Request, qualification_id: int) -> Response:
        qualification = _visible(request, qualification_id)
        exam = selectors.exam_status(worker=request.user, qualification=qualification)
        if exam.question_count == 0:
            raise Conflict("This qualification has no exam; an admin grants it by hand.")
        body = {
            "qualification": qualification.pk,
            "labels": qualification.exam_labels,
            "pass_mark": qualification.pass_mark,
            "question_count": exam.question_count,
            "questions": selectors.exam_questions_for_taking(qualification=qualification),
            "may_take": exam.may_take,
            "retry_after": exam.retry_after,
            "held_score": exam.held_score,
            "last_attempt": _attempt(exam.last_attempt),
        }
        return Response(ExamOutputSerializer(body).data)

    @extend_schema(
        request=ExamSubmitInputSerializer,
        responses={
            201: ExamResultSerializer,
            400: OpenApiResponse(description="Unknown question ids or labels, or a question left unanswered "
                                             "(details.unanswered_questions; not an attempt, no cooldown)"),
            409: OpenApiResponse(description="No exam, or retrying before the cooldown ends"),
        },
        summary="Submit answers; passing grants the qualification at once",
    )
    def post(self, request: Request, qualification_id: int) -> Response:
        qualification = _visible(request, qualification_id)
        answers = request.data.get("answers")
        if not isinstance(answers, dict):
            raise ApplicationError('Send {"answers": {"<question id>": "<label key>"}}.')
        attempt = services.exam_submit(worker=request.user, qualification=qualification, answers=answers)
        body = {
            "score": attempt.score,
            "passed": attempt.passed,
            "retry_after": selectors.retry_after_for(attempt=attempt),
        }
        return Response(ExamResultSerializer(body).data, status=status.HTTP_201_CREATED)


class QualificationGrants(APIView):
    permission_classes = [IsAuthenticated, IsAdmin]

    @extend_schema(request=GrantInputSerializer, responses={201: GrantOutputSerializer},
                   summary="Grant a qualification to a worker by hand, or change its score (admins)")
    def post(self, request: Request, qualification_id: int) -> Response:
        qualification = _visible(request, qualification_id)
        data = validated(GrantInputSerializer, request.data)
        worker = selectors.worker_get(worker_id=data["worker"])
        grant = services.qualification_grant(
            admin=request.user, worker=worker, qualification=qualification, score=data["score"]
        )
        return Response(GrantOutputSerializer(grant).data, status=status.HTTP_201_CREATED)


class QualificationGrantDetail(APIView):
    permission_classes = [IsAuthenticated, IsAdmin]

    @extend_schema(request=None, responses={204: None, 404: OpenApiResponse(description="Not held")},
                   summary="Revoke a worker's qualification (admins)")
    def delete(self, request: Request, qualification_id: int, worker_id: int) -> Response:
        qualification = _visible(request, qualification_id)
        worker = selectors.worker_get(worker_id=worker_id)
        services.qualification_revoke(admin=request.user, worker=worker, qualification=qualification)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeQualifications(APIView):
    permission_classes = [IsAuthenticated, IsWorker]

    @extend_list_schema(
        HeldQualificationSerializer, operation_id="v1_me_qualifications_list", summary="Qualifications you hold, with scores"
    )
    def get(self, request: Request) -> Response:
        paginator = Pagination()
        held: list[WorkerQualification] = paginator.paginate_queryset(
            selectors.worker_qualifications_of(worker=request.user), request, view=self
        ) or []
        return paginator.get_paginated_response(HeldQualificationSerializer(held, many=True).data)
