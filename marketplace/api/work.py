"""Worker REST API: the jobs open to me, next item, submit, skip, my lease, my judgments.

A submit may ask for the next item too (`"next": true`), so a client needs one request per
judgment: POST work/next/ once, then submit-with-next until `next` comes back null. With
`"next_from": "any"` that next item may come from another job, in the fair serving order
(labeling/serving.py), as POST work/next/ without a job would choose it.

Every response is built from an explicit dict, so nothing the worker must not see (external_id,
is_gold, gold answers, is_correct, other workers) can leak through a serializer's defaults. A
gold item's lease has exactly the shape of any other lease.

No worker payload carries the item's id: gold is imported apart, so its ids form a block that
would tell a worker which items to answer with care. The lease id names what a worker acts on.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace import flows
from marketplace.api.permissions import IsWorker
from marketplace.api.common import IdField, Pagination, extend_list_schema
from marketplace.api.common import refuse_numbers_as_text, refuse_unknown_fields
from marketplace.api.fastinput import flat_validated
from marketplace.api.work_present import labels_of, present_judgment, present_lease, present_work_job
from marketplace.errors import ApplicationError
from marketplace.labeling import selectors, services
from marketplace.labeling.models import Lease
from marketplace.parsing import id_parse
from marketplace.labelsets import MAX_LABELS

TAG = ["work"]
_MULTI = "Present (true) on multi-label jobs only: submit `labels`, not `label`."
_ERRORS = {
    403: OpenApiResponse(description="not_qualified: missing qualification, blocked or suspended"),
    404: OpenApiResponse(description="not_found, or no_work when nothing is left for you"),
    409: OpenApiResponse(description="conflict: job paused/closed, lease lost, already submitted"),
}
_BUSY = (
    "busy: items are left for you, but other workers' answers hold them this moment; ask again "
    "after `Retry-After` (`details.retry_after`) seconds. Only no_work means nothing is left."
)
_NEXT_ERRORS = {**_ERRORS, 409: OpenApiResponse(description="conflict: job paused or closed; " + _BUSY)}


# --- output shapes (documentation for /api/schema/; responses are built by the functions below)


class WorkLabelSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    shortcut = serializers.CharField(allow_blank=True)


class WorkJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    instructions_html = serializers.CharField()
    labels = WorkLabelSerializer(many=True)
    multi_label = serializers.BooleanField(required=False, help_text=_MULTI)
    reward_per_judgment = serializers.CharField(help_text="Currency units per accepted judgment.")
    lease_seconds = serializers.IntegerField()


class LeaseJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    labels = WorkLabelSerializer(many=True)
    multi_label = serializers.BooleanField(required=False, help_text=_MULTI)
    instructions_html = serializers.CharField()


class LeaseItemSerializer(serializers.Serializer):
    data = serializers.JSONField(
        help_text="The fields the job shows workers. No id: the lease names the item (see the module).",
    )


class SuggestionSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()


class LeaseSerializer(serializers.Serializer):
    lease = serializers.IntegerField()
    status = serializers.CharField()
    expires_at = serializers.DateTimeField()
    job = LeaseJobSerializer()
    item = LeaseItemSerializer()
    suggestion = SuggestionSerializer(
        required=False,
        help_text="Only in jobs whose client shows pre-labels: a model's label for the item, a "
        "suggestion (you still choose). Absent otherwise: workers never see predictions.",
    )


class NextErrorSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="What POST /work/next/ would answer: no_work (nothing left for you), busy (items are "
        "left but held by other workers' answers this moment: ask POST /work/next/ again after "
        "`details.retry_after` seconds), conflict, not_qualified..."
    )
    message = serializers.CharField()
    details = serializers.DictField()


class SubmittedSerializer(serializers.Serializer):
    judgment = serializers.IntegerField()
    lease = serializers.IntegerField()
    label = serializers.CharField(help_text="Single-label jobs; empty on multi-label ones.")
    labels = serializers.ListField(
        child=serializers.CharField(), required=False,
        help_text="Multi-label jobs only: the labels you ticked, in the job's label order.",
    )
    submitted_at = serializers.DateTimeField()
    feedback = serializers.DictField(
        allow_null=True,
        help_text="After a missed check item, where the job shows it: the right label and why. "
        "On a multi-label job also the sets (correct_labels, your_labels) and wrong_labels: each label "
        "decided wrong, {key, name, should_be: ticked|unticked}.",
    )
    # Present only when the submit asked for `next`; omitted otherwise (the two-request flow).
    next = LeaseSerializer(
        required=False, allow_null=True,
        help_text="Your next lease in the same job, exactly as POST /work/next/ gives it; null when "
        "there is none (next_error says why).",
    )
    next_error = NextErrorSerializer(
        required=False, allow_null=True,
        help_text="Why `next` is null, as POST /work/next/ would refuse; null when `next` is a lease.",
    )


class ReleasedSerializer(serializers.Serializer):
    lease = serializers.IntegerField()
    status = serializers.CharField()


class MyJudgmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    job = serializers.IntegerField()
    lease = serializers.IntegerField(allow_null=True)
    label = serializers.CharField()
    labels = serializers.ListField(child=serializers.CharField(), required=False, help_text="Multi-label jobs only.")
    seconds_spent = serializers.CharField(allow_null=True)
    submitted_at = serializers.DateTimeField()


# --- input shapes


class NextInputSerializer(serializers.Serializer):
    job = IdField(required=False, allow_null=True, help_text="Omit for any job.")


class SubmitInputSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=64, required=False, help_text="Single-label jobs.")
    labels = serializers.ListField(
        child=serializers.CharField(max_length=64, allow_blank=True), max_length=MAX_LABELS, required=False,
        help_text="Multi-label jobs: the labels that apply, any subset of the job's (may be empty).",
    )
    seconds_spent = serializers.DecimalField(
        max_digits=9, decimal_places=3, min_value=0, required=False, allow_null=True,
        help_text="Seconds you spent. The server measures each answer from the lease's start to "
        "this submit; a figure sent here can lower that measure (a page that times from when it "
        "showed the item), never raise it: the stored time is the smaller of the two.",
    )
    next = serializers.BooleanField(
        required=False, default=False,
        help_text="Also take your next item of the same job: the answer carries it as `next` "
        "(one request per judgment instead of two).",
    )
    next_from = serializers.ChoiceField(
        choices=["job", "any"], required=False, default="job",
        help_text="With `next`: `job` (default) keeps to this lease's job; `any` takes your next item "
        "from any job you may work on, as POST /work/next/ without a job does (the fair serving "
        "order: priority, then the organization with the fewest workers busy now).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "label" not in attrs and "labels" not in attrs:  # as when `label` was the only way
            raise serializers.ValidationError({"label": [serializers.Field.default_error_messages["required"]]})
        return attrs


def _parse(serializer_class: type[serializers.Serializer], data: Any, *,
           unknown_refused: bool = False) -> dict[str, Any]:
    """The body, validated (fast when valid, by the serializer otherwise: one answer either way).
    `unknown_refused`: a key that is no field is a 400, checked before both paths."""
    if unknown_refused:
        refuse_unknown_fields(serializer_class._declared_fields, data)
    valid = flat_validated(serializer_class, data)  # without building the serializer's fields
    if valid is not None:
        return valid
    if data is None or data == "":
        data = {}
    serializer = serializer_class(data=data)
    refuse_numbers_as_text(serializer, data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- views


class WorkerView(APIView):
    permission_classes = [IsAuthenticated, IsWorker]


class WorkJobList(WorkerView):
    @extend_list_schema(WorkJobSerializer, tags=TAG, operation_id="v1_work_jobs_list", summary="Open jobs you can work on")
    def get(self, request: Request) -> Response:
        jobs = selectors.jobs_open_to(worker=request.user).defer("instructions")
        paginator = Pagination()
        page = paginator.paginate_queryset(jobs, request, view=self)
        return paginator.get_paginated_response([present_work_job(job) for job in page or []])


class WorkNext(WorkerView):
    @extend_schema(
        tags=TAG, request=NextInputSerializer, responses={200: LeaseSerializer, **_NEXT_ERRORS},
        summary="Take the next item (of one job, or of any job you qualify for)",
        description=(
            "Asking again while your lease is live returns the same lease. 404 no_work: nothing is "
            "left for you. 409 busy: items are left for you but other workers' answers hold them "
            "this moment (a claim never waits for them); ask again after `Retry-After` seconds."
        ),
    )
    def post(self, request: Request) -> Response:
        # {"jobs": [2]} (a typo) must not mean "any job"; submit bodies keep ignoring extra keys.
        job_id = _parse(NextInputSerializer, request.data, unknown_refused=True).get("job")
        lease = services.lease_claim(worker=request.user, job=job_id)
        return Response(present_lease(lease))


class LeaseDetail(WorkerView):
    @extend_schema(tags=TAG, responses={200: LeaseSerializer, 404: _ERRORS[404]}, summary="One of your leases")
    def get(self, request: Request, lease_id: int) -> Response:
        lease = selectors.lease_get_for_worker(worker=request.user, lease_id=lease_id)
        return Response(present_lease(lease))


class LeaseSubmit(WorkerView):
    @extend_schema(
        tags=TAG, request=SubmitInputSerializer,
        responses={201: SubmittedSerializer, 200: SubmittedSerializer, **_ERRORS},
        summary="Submit your label for a lease's item (and take the next one)",
        description=(
            "201 when saved; 200 when this exact submit was already saved (a safe retry).\n\n"
            "With `\"next\": true` the answer also carries `next`, your next lease in the same job "
            "(in any job with `\"next_from\": \"any\"`; the shape POST /work/next/ answers), or "
            "null and `next_error` saying why (no_work when nothing is left for you; busy when items "
            "are left but other workers' answers hold them this moment: ask POST /work/next/ again "
            "after `next_error.details.retry_after` seconds; conflict when the job is paused, "
            "not_qualified when blocked). The item is taken after your answer is "
            "saved, so a refusal never undoes the answer; a retried submit gives back the lease you "
            "already hold, never a second one. A refused submit (4xx) takes no item."
        ),
    )
    def post(self, request: Request, lease_id: int) -> Response:
        data = _parse(SubmitInputSerializer, request.data)
        then = services.NextClaim(any_job=data["next_from"] == "any") if data["next"] else None
        outcome = flows.work_submit(
            worker=request.user, lease_id=lease_id, label=data.get("label"),
            seconds_spent=data.get("seconds_spent"), labels=data.get("labels"), then=then,
        )
        judgment = outcome.judgment
        body = {
            "judgment": judgment.pk,
            "lease": lease_id,
            "label": judgment.label,
            **labels_of(judgment),
            "submitted_at": serializers.DateTimeField().to_representation(judgment.created_at),
            "feedback": outcome.feedback,
        }
        if outcome.next is not None:
            body.update(_next_body(outcome.next))
        code = status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK
        return Response(body, status=code)


def _next_body(following: services.NextLease) -> dict[str, Any]:
    """The next lease the submit claimed in its own transaction (flows.work_submit), or why none."""
    if following.lease is not None:
        return {"next": present_lease(following.lease), "next_error": None}
    exc = following.refused or ApplicationError("No next item.")  # NothingLeft (no_work), usually
    return {"next": None, "next_error": {"code": exc.code, "message": exc.message, "details": exc.details}}


class LeaseRelease(WorkerView):
    @extend_schema(
        tags=TAG, request=None, responses={200: ReleasedSerializer, 404: _ERRORS[404], 409: _ERRORS[409]},
        summary="Skip: give the item back now",
    )
    def post(self, request: Request, lease_id: int) -> Response:
        lease = services.lease_release(worker=request.user, lease_id=lease_id)
        return Response({"lease": lease.pk, "status": lease.status})


class UndoneSerializer(serializers.Serializer):
    judgment = serializers.IntegerField()
    status = serializers.CharField(help_text="withdrawn")
    lease = LeaseSerializer(help_text="The lease given back: submit it again to answer anew.")


class JudgmentUndo(WorkerView):
    @extend_schema(
        tags=TAG, request=None, responses={200: UndoneSerializer, 404: _ERRORS[404], 409: _ERRORS[409]},
        summary="Undo your last answer (within QUORUM_UNDO_SECONDS, while its item is open)",
        description=(
            "The judgment is withdrawn: it no longer counts, its pay goes back to the job, and its "
            "lease is yours again for the job's lease_seconds, so you can submit the item anew. "
            "409 when too late, when it is not your latest answer in the job, when the item is "
            "complete (yours or another worker's answer completed it), when the job is completed "
            "or cancelled, or after a check item's feedback showed you the right answer."
        ),
    )
    def post(self, request: Request, judgment_id: int) -> Response:
        withdrawal = flows.work_undo(worker=request.user, judgment_id=judgment_id)
        lease = Lease.objects.select_related("job", "item").get(pk=withdrawal.lease.pk)
        return Response({
            "judgment": withdrawal.judgment.pk, "status": withdrawal.judgment.status,
            "lease": present_lease(lease),
        })


class MyJudgmentList(WorkerView):
    @extend_list_schema(
        MyJudgmentSerializer, tags=TAG, operation_id="v1_work_judgments_list", summary="Your judgments, newest first",
        parameters=[OpenApiParameter("job", int, required=False, description="Only this job's")],
    )
    def get(self, request: Request) -> Response:
        raw_job = request.query_params.get("job")
        job_id = id_parse(raw_job, "job") if raw_job is not None else None
        judgments = selectors.judgments_of(worker=request.user, job_id=job_id)
        paginator = Pagination()
        page = paginator.paginate_queryset(judgments, request, view=self)
        return paginator.get_paginated_response([present_judgment(j) for j in page or []])
