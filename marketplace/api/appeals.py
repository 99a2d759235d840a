"""Appeals API for workers: list your appeals and file one (quality.appeals.appeal_file).

The decision is made on the portal pages (the job's client, or an admin); a worker sees it here."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api.accounts import validated
from marketplace.api.common import IdField, Pagination, extend_list_schema
from marketplace.api.permissions import IsWorker
from marketplace.quality import appeal_reads
from marketplace.quality.appeals import appeal_file
from marketplace.quality.models import APPEAL_REASON_MAX, Appeal

TAG = ["quality"]

_APPEAL = inline_serializer("MyAppealOut", {
    "id": serializers.IntegerField(), "job": serializers.IntegerField(),
    "kind": serializers.ChoiceField(choices=Appeal.Kind.values),
    "judgment": serializers.IntegerField(allow_null=True, help_text="The gold answer appealed (kind gold)"),
    "reason": serializers.CharField(), "status": serializers.ChoiceField(choices=Appeal.Status.values),
    "decision_note": serializers.CharField(), "gold_action": serializers.CharField(),
    "created_at": serializers.DateTimeField(), "decided_at": serializers.DateTimeField(allow_null=True),
})


class AppealIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Appeal.Kind.values)
    job = IdField(required=False, help_text="The job whose automatic block you appeal (kind block)")
    judgment = IdField(required=False, help_text="Your missed gold answer (kind gold)")
    reason = serializers.CharField(max_length=APPEAL_REASON_MAX)


def _appeal(appeal: Appeal) -> dict[str, Any]:
    return {
        "id": appeal.pk, "job": appeal.job_id, "kind": appeal.kind, "judgment": appeal.judgment_id,
        "reason": appeal.reason, "status": appeal.status, "decision_note": appeal.decision_note,
        "gold_action": appeal.gold_action, "created_at": appeal.created_at, "decided_at": appeal.decided_at,
    }


class MyAppeals(APIView):
    permission_classes = [IsAuthenticated, IsWorker]

    @extend_list_schema(_APPEAL, tags=TAG, operation_id="me_appeals_list", summary="Your appeals, open ones first")
    def get(self, request: Request) -> Response:
        paginator = Pagination()
        page = paginator.paginate_queryset(appeal_reads.appeals_of_worker(worker=request.user), request, view=self)
        return paginator.get_paginated_response([_appeal(a) for a in page or []])

    @extend_schema(
        tags=TAG, operation_id="me_appeals_create", summary="Appeal an automatic block or a missed gold answer",
        description="Within QUORUM_APPEAL_DAYS (7) days: `kind` block with the `job` you are blocked from "
        "by a quality rule, or `kind` gold with your missed gold `judgment` (in jobs that show gold "
        "feedback). One open appeal per block or gold item.",
        request=AppealIn,
        responses={201: _APPEAL,
                   400: OpenApiResponse(description="invalid: reason missing or too long, too late, an admin's block"),
                   404: OpenApiResponse(description="not_found: no such block or missed gold answer of yours"),
                   409: OpenApiResponse(description="conflict: you already have an open appeal about it")},
    )
    def post(self, request: Request) -> Response:
        data = validated(AppealIn, request.data)
        appeal = appeal_file(worker=request.user, kind=data["kind"], reason=data["reason"],  # type: ignore[arg-type]
                             job_id=data.get("job"), judgment_id=data.get("judgment"))
        return Response(_appeal(appeal), status=status.HTTP_201_CREATED)
