"""The data browser over REST: a job's items with their consensus, filtered, a cursor page at a
time; one item with every judgment and its posterior; the filter as CSV; and two actions on a
selection or on the whole filter (more judgments, expert review).

Clients (their organization's jobs) and admins only: workers get 403 from the role check, and
another organization's job or item is a 404 from the selectors. Workers appear under the job's
pseudonym (jobs.exporting.worker_pseudonym), as in every client-facing list.
"""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace import flows_experts, flows_more
from marketplace.api.accounts import validated
from marketplace.api.billing_common import m, money_field
from marketplace.api.common import IdField, accuracy_field, accuracy_out
from marketplace.api.exports import attachment
from marketplace.api.label_quality import prelabels_out
from marketplace.api.permissions import IsClientOrAdmin, StaffLookReadOnly
from marketplace.billing import escrow
from marketplace.errors import ApplicationError
from marketplace.jobs.models import Job
from marketplace.jobs.selectors import job_get_for_owner
from marketplace.quality import browse_params, browsing
from marketplace.quality.browse_model import BrowsedModel
from marketplace.quality.item_details import item_detail

TAG = ["data browser"]
IDEMPOTENCY_KEY_HELP = (
    "Required unless quote; scoped to the job. The same key with the same body does nothing more and "
    "answers the first response again (replayed: true); with another body, or a key another of this "
    "job's idempotent requests used, it is a 409 naming the clash")
SELECTION_MAX = 1_000  # item ids one request may list

_SHARE = {"type": "string", "pattern": r"^(0(\.\d{1,6})?|1(\.0{1,6})?|\.\d{1,6})$"}
_YES_NO = {"type": "string", "enum": ["yes", "no", "any"]}
FILTER_PARAMETERS = [
    OpenApiParameter("label", {"type": "string", "maxLength": 64}, description="Consensus label (a key of the job's labels)"),
    OpenApiParameter("confidence_min", _SHARE, description="Confidence at least this, 0 to 1"),
    OpenApiParameter("confidence_max", _SHARE, description="Confidence at most this, 0 to 1"),
    OpenApiParameter("agreement_below", _SHARE, description="Share of judgments agreeing with the label below this"),
    OpenApiParameter("gold", _YES_NO),
    OpenApiParameter("expert", {"type": "string", "enum": list(browse_params.EXPERT)},
                     description="Expert review: none, open, settled or any"),
    OpenApiParameter("judged", _YES_NO, description=f"Has at least one accepted judgment (each page "
                     f"reads {browsing.SCAN_WINDOW:,} items at most, see searched_to); sort by id"),
    OpenApiParameter("external_id", {"type": "string", "maxLength": browse_params.EXTERNAL_ID_MAX},
                     description="External id starts with this"),
    OpenApiParameter("q", {"type": "string", "maxLength": browse_params.TEXT_MAX},
                     description=f"Text in the item's data (case-insensitive; each page reads "
                     f"{browsing.SCAN_WINDOW:,} items at most, see searched_to); sort by id"),
    OpenApiParameter("sort", {"type": "string", "enum": list(browse_params.SORTS)}),
    OpenApiParameter("model", {"type": "integer", "minimum": 1},
                     description="The model version to compare (its id, see `model` in the page); "
                     "default: the pre-label model, else the one the latest run measured on most items"),
    OpenApiParameter("model_agrees", _YES_NO, description="The model's prediction is (yes) or is not (no) "
                     "the consensus label: only items the model predicted and the latest run labelled"),
]
PAGE_PARAMETERS = [
    OpenApiParameter("cursor", {"type": "string", "maxLength": 200}, description="next_cursor of the previous page"),
    OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": browse_params.PAGE_MAX}),
]


class RowOut(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField(allow_null=True)
    data = serializers.JSONField()
    gold = serializers.BooleanField(source="is_gold")
    judgment_count = serializers.IntegerField(
        help_text="Accepted judgments: towards the overlap for a regular item; for a gold item, its accepted "
        "answers (gold has no overlap target: it is served at the job's gold rate)")
    complete = serializers.BooleanField(source="is_complete", help_text="Always false for a gold item")
    extra_judgments = serializers.IntegerField()
    label = serializers.CharField(allow_null=True, help_text="Consensus label of the latest run")
    confidence = serializers.FloatField(allow_null=True)
    agreement = serializers.FloatField(allow_null=True, help_text="Share of judgments giving the label")
    expert_review = serializers.CharField(source="expert", allow_null=True, help_text="open, settled or null")
    model_label = serializers.CharField(allow_null=True, help_text="The compared model's prediction")
    model_agrees = serializers.BooleanField(
        allow_null=True, help_text="The model's prediction is the consensus label; null without both")


ModelOut = inline_serializer("BrowseModel", {
    "id": serializers.IntegerField(), "name": serializers.CharField(), "version": serializers.CharField(),
    "accuracy": accuracy_field(allow_null=True, help_text="As the latest run measured it against the people "
                               "(an accuracy: a decimal string with 4 places)"),
    "items": serializers.IntegerField(help_text="Items that measure rests on"),
    "agreement": serializers.FloatField(allow_null=True, help_text="Share of its predictions equal to the run's labels"),
    "crowd_accuracy": accuracy_field(allow_null=True, help_text="The run's typical worker, for comparison "
                                     "(an accuracy: a decimal string with 4 places)"),
    "prelabels": serializers.JSONField(allow_null=True, help_text="A job showing this model's pre-labels, on "
                                       "the first page: the anchoring figures, as label-quality's `prelabels`"),
}, allow_null=True)


def _model(model: BrowsedModel | None) -> dict[str, Any] | None:
    if model is None:
        return None
    return {**vars(model), "accuracy": accuracy_out(model.accuracy), "crowd_accuracy": accuracy_out(model.crowd_accuracy),
            "prelabels": prelabels_out(model.prelabels) if model.prelabels else None}


PageOut = inline_serializer("BrowsePage", {
    "results": RowOut(many=True),
    "next_cursor": serializers.CharField(allow_null=True),
    "run": serializers.IntegerField(allow_null=True, help_text="The consensus run the labels come from"),
    "searched_to": serializers.IntegerField(
        allow_null=True, help_text="Under q or judged: the page read items up to this id (-1: to the end)"),
    "model": ModelOut,
})

JudgmentOut = inline_serializer("BrowseJudgment", many=True, fields={
    "worker": serializers.CharField(help_text="A pseudonym, stable within this job"),
    "label": serializers.CharField(),
    "status": serializers.CharField(),
    "created_at": serializers.DateTimeField(),
    "seconds_spent": serializers.FloatField(allow_null=True),
    "worker_gold_accuracy": accuracy_field(allow_null=True),
    "worker_gold_seen": serializers.IntegerField(),
    "worker_consensus_accuracy": accuracy_field(allow_null=True),
})

DetailOut = inline_serializer("BrowseItem", {
    "id": serializers.IntegerField(),
    "external_id": serializers.CharField(allow_null=True),
    "data": serializers.JSONField(),
    "gold": serializers.BooleanField(),
    "gold_label": serializers.CharField(allow_null=True),
    "run": serializers.IntegerField(allow_null=True),
    "label": serializers.CharField(allow_null=True),
    "confidence": serializers.FloatField(allow_null=True),
    "agreement": serializers.FloatField(allow_null=True),
    "probabilities": serializers.DictField(child=serializers.FloatField()),
    "expert_review": serializers.CharField(allow_null=True),
    "expert_label": serializers.CharField(allow_null=True),
    "judgments": JudgmentOut,
    "predictions": inline_serializer("BrowsePrediction", many=True, fields={
        "model_id": serializers.IntegerField(), "name": serializers.CharField(),
        "version": serializers.CharField(), "label": serializers.CharField()}),
})


class SelectionIn(serializers.Serializer):
    items = serializers.ListField(
        child=IdField(), required=False, max_length=SELECTION_MAX,
        help_text="Chosen item ids; or send `filter`",
    )
    filter = serializers.DictField(
        child=serializers.CharField(max_length=200), required=False,
        help_text="The browse filter's parameters (label, confidence_max, ...): every item it shows; "
        "a key that is not a filter parameter is a 400",
    )


class MoreIn(SelectionIn):
    more = serializers.IntegerField(min_value=1, max_value=10)
    quote = serializers.BooleanField(required=False, default=False, help_text="Only say what it would hold")


class ExpertIn(SelectionIn):
    quote = serializers.BooleanField(required=False, default=False, help_text="Only say what it would hold")


class _Endpoint(APIView):
    permission_classes = [IsAuthenticated, IsClientOrAdmin, StaffLookReadOnly]


def _filters(job: Job, params: Any) -> browse_params.BrowseFilter:
    return browse_params.browse_filter_parse(params, labels=job.label_keys)


def _strict(data: Any, serializer: type[serializers.Serializer]) -> dict[str, Any]:
    """validated(), and numbers must be JSON numbers: DRF would take "2" (or true) for 2."""
    if "more" in data and type(data["more"]) is not int:
        raise ApplicationError("more: a whole number (a JSON number).", details={"parameter": "more"})
    items = data.get("items")
    if isinstance(items, list) and any(type(item) is not int for item in items):
        raise ApplicationError("items: item ids (JSON numbers).", details={"parameter": "items"})
    if "quote" in data and type(data["quote"]) is not bool:
        raise ApplicationError("quote: true or false.", details={"parameter": "quote"})
    chosen = data.get("filter")
    if isinstance(chosen, dict) and any(type(value) is not str for value in chosen.values()):
        raise ApplicationError("filter: every value is text, as in a query string.", details={"parameter": "filter"})
    return validated(serializer, data)


def _selection(job: Job, body: dict[str, Any]) -> list[int]:
    """The item ids an action names: the list sent, or every item of the filter sent."""
    if ("items" in body) == ("filter" in body):
        raise ApplicationError("Send either items (ids) or filter.", details={"items": "or filter"})
    if "items" in body:
        return list(body["items"])
    filters = browse_params.browse_filter_parse(body["filter"], labels=job.label_keys, unknown_refused=True)
    return browsing.items_browse_ids(job=job, filters=filters)


class JobBrowse(_Endpoint):
    @extend_schema(
        tags=TAG, operation_id="v1_jobs_browse_list", parameters=FILTER_PARAMETERS + PAGE_PARAMETERS,
        responses=PageOut, summary="A page of the job's items with consensus label, confidence and marks",
        description="Keyset pagination: pass next_cursor back as cursor. A filter on the consensus "
        "(label, confidence, agreement, sort by confidence) shows only items the latest run labelled. "
        "Any other query key is a 400 listing the allowed ones.",
    )
    def get(self, request: Request, job_id: int) -> Response:
        job = job_get_for_owner(user=request.user, job_id=job_id)  # another org's job: 404
        browse_params.browse_keys_check(request.query_params, paged=True)
        filters = _filters(job, request.query_params)
        cursor = browse_params.cursor_parse(request.query_params, sort=filters.sort)
        size = browse_params.page_size_parse(request.query_params)
        page = browsing.items_browse(job=job, filters=filters, cursor=cursor, page_size=size)
        return Response({
            "results": RowOut(page.rows, many=True).data,
            "next_cursor": page.next_cursor.encode() if page.next_cursor else None,
            "run": page.run.pk if page.run else None,
            "searched_to": page.searched_to,
            "model": _model(page.model),
        })


class JobBrowseItem(_Endpoint):
    @extend_schema(
        tags=TAG, operation_id="v1_jobs_browse_item", responses=DetailOut,
        summary="One item: every judgment (pseudonymized), the posterior of every label",
    )
    def get(self, request: Request, job_id: int, item_id: int) -> Response:
        job = job_get_for_owner(user=request.user, job_id=job_id)
        detail = item_detail(job=job, item_id=item_id)
        review = detail.expert
        return Response({
            "id": detail.item.pk, "external_id": detail.item.external_id, "data": detail.item.data,
            "gold": detail.item.is_gold, "gold_label": detail.gold_label,
            "run": detail.run.pk if detail.run else None, "label": detail.label,
            "confidence": detail.confidence, "agreement": detail.agreement,
            "probabilities": detail.probabilities,
            "expert_review": review.status if review else None,
            "expert_label": (review.label or None) if review else None,
            "judgments": [{**vars(j), "worker_gold_accuracy": accuracy_out(j.worker_gold_accuracy),
                           "worker_consensus_accuracy": accuracy_out(j.worker_consensus_accuracy)}
                          for j in detail.judgments],
            "predictions": [vars(p) for p in detail.predictions],
        })


class JobBrowseExport(_Endpoint):
    @extend_schema(
        tags=TAG, operation_id="v1_jobs_browse_export", parameters=FILTER_PARAMETERS,
        responses={(200, "text/csv"): OpenApiTypes.BINARY},
        summary="Exactly the items the filter shows, as CSV (streamed)",
    )
    def get(self, request: Request, job_id: int) -> StreamingHttpResponse:
        job = job_get_for_owner(user=request.user, job_id=job_id)
        browse_params.browse_keys_check(request.query_params)
        filters = _filters(job, request.query_params)  # a bad filter is a 400 before any byte
        chunks = browsing.items_browse_csv(job=job, filters=filters)
        return attachment(request, chunks, "csv", f"job-{job.pk}-items")


class JobBrowseMoreJudgments(_Endpoint):
    @extend_schema(
        tags=TAG, operation_id="v1_jobs_browse_more_judgments", request=MoreIn,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
                                     description=IDEMPOTENCY_KEY_HELP)],
        responses={200: inline_serializer("MoreJudgmentsOut", {
            "items": serializers.IntegerField(help_text="Regular items reopened (gold is passed over)"),
            "judgments": serializers.IntegerField(),
            "hold": money_field(help_text="Moved into the job's escrow: the judgments' worst-case pay"),
            "quote": serializers.BooleanField(),
            "replayed": serializers.BooleanField(help_text="A retry: the first response's figures, nothing more done")}),
            402: OpenApiResponse(description="insufficient_funds: details name the amount missing"),
            409: OpenApiResponse(description="conflict: the job is not open or paused, or the "
                                 "Idempotency-Key made another request (details: differs, first)")},
        summary="Ask for N more judgments on chosen items, holding their worst-case pay in escrow",
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = job_get_for_owner(user=request.user, job_id=job_id)
        body = _strict(request.data, MoreIn)
        ids = _selection(job, body)
        if body["quote"]:
            quote = flows_more.items_more_judgments_quote(
                job=job, user=request.user, items=_regular(job, ids), more=body["more"]
            )
            return Response({"items": quote.items, "judgments": quote.judgments, "hold": m(quote.hold),
                             "quote": True, "replayed": False})
        key = request.headers.get("Idempotency-Key", "")
        if not escrow.KEY.match(key):
            raise ApplicationError(
                "Send an Idempotency-Key header: 1 to 64 letters, digits or ._:-",
                details={"Idempotency-Key": "missing or invalid"},
            )
        done = flows_more.items_more_judgments(job=job, user=request.user, item_ids=ids, more=body["more"], key=key,
                                               request=_sent(body))
        return Response({"items": done.items, "judgments": done.judgments, "hold": m(done.hold),
                         "quote": False, "replayed": done.replayed})


def _regular(job: Job, ids: list[int]) -> int:
    """Regular items among `ids` (a filter may include gold items, which take no more judgments)."""
    return job.items.filter(pk__in=ids, is_gold=False).count()


def _sent(body: dict[str, Any]) -> dict[str, Any]:
    """The request an Idempotency-Key names: the body as sent (a filter, not the items it finds
    now, which change as judgments arrive), without `quote`."""
    return {name: value for name, value in body.items() if name != "quote"}


def _key(request: Request) -> str:
    key = request.headers.get("Idempotency-Key", "")
    if not escrow.KEY.match(key):
        raise ApplicationError(
            "Send an Idempotency-Key header: 1 to 64 letters, digits or ._:-",
            details={"Idempotency-Key": "missing or invalid"},
        )
    return key


class JobBrowseExpertReview(_Endpoint):
    @extend_schema(
        tags=TAG, operation_id="v1_jobs_browse_expert_review", request=ExpertIn,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
                                     description=IDEMPOTENCY_KEY_HELP)],
        responses={200: inline_serializer("ExpertReviewOut", {
            "queued": serializers.IntegerField(help_text="Items sent to review (gold and items already there are passed over)"),
            "price": money_field(help_text="Per review (QUORUM_EXPERT_REVIEW_PRICE)"),
            "hold": money_field(help_text="queued × price, moved into the job's escrow; charged per review settled "
                                "before the job settles, the rest refunded then"),
            "quote": serializers.BooleanField(),
            "replayed": serializers.BooleanField(help_text="A retry: the first response's figures, nothing more done")}),
            402: OpenApiResponse(description="insufficient_funds: details name the amount missing; no item is queued"),
            409: OpenApiResponse(description="conflict: a draft, cancelled or settled job, or the "
                                 "Idempotency-Key made another request (details: differs, first)")},
        summary="Send chosen items to expert review, holding their price in the job's escrow",
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = job_get_for_owner(user=request.user, job_id=job_id)
        body = _strict(request.data, ExpertIn)
        ids = _selection(job, body)
        if body["quote"]:
            quote = flows_experts.expert_reviews_quote(job=job, user=request.user, item_ids=ids)
            return Response({"queued": quote.items, "price": m(quote.price), "hold": m(quote.hold),
                             "quote": True, "replayed": False})
        done = flows_experts.expert_reviews_ask(job=job, user=request.user, item_ids=ids, key=_key(request),
                                                request=_sent(body))
        return Response({"queued": done.items, "price": m(done.price), "hold": m(done.hold),
                         "quote": False, "replayed": done.replayed})
