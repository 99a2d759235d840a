"""Items and gold items of a job over REST: import, list, read, delete (exports: api/exports.py).

Clients (their organization's jobs) and admins only: workers get 403 from the role check before
any lookup, so no worker request ever reaches a gold label. Another organization's job is a 404
from the selectors, exactly like a job that does not exist.

Imports come as a multipart upload (field `file`) or as the raw request body; the format is
?format=, else the file name's extension, else the content type. `?format=` here names a file
format, not a DRF renderer, hence FileFormatNegotiation.
"""

from __future__ import annotations


from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace import flows
from marketplace.api.permissions import IsClientOrAdmin, StaffLookReadOnly
from marketplace.api.common import IdField, Pagination, extend_list_schema
from marketplace.errors import ApplicationError, NotFound
from marketplace.formnul import StrictMultiPartParser
from marketplace.jobs import editing, importing, selectors
from marketplace.jobs.importing import InvalidImport, Problem
from marketplace.jobs.models import Item
from marketplace.jobs.predictions import model_name_check
from marketplace.parsing import StrictJSONParser

# A multipart body carries some framing around the file itself.
_MULTIPART_OVERHEAD = 64 * 1024
_FORMAT_NAMES = {
    "csv": "csv", "json": "json", "jsonl": "jsonl", "ndjson": "jsonl", "label_studio": "label_studio",
}
_CONTENT_TYPES = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/json": "json",
    "application/x-ndjson": "jsonl",
    "application/ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
}


class FileFormatNegotiation(DefaultContentNegotiation):
    """Answer in JSON whatever ?format= says: there it names an import/export file format."""

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        return renderers[0], renderers[0].media_type


class ItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField(allow_null=True)
    data = serializers.JSONField()
    priority = serializers.IntegerField()
    judgment_count = serializers.IntegerField()
    is_complete = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class GoldItemSerializer(ItemSerializer):
    label = serializers.CharField(source="gold.label")
    explanation = serializers.CharField(source="gold.explanation")


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV, a JSON array or JSONL, UTF-8")


class ImportResultSerializer(serializers.Serializer):
    imported = serializers.IntegerField()
    item_count = serializers.IntegerField(help_text="Items in the job now (gold not counted)")
    gold_item_count = serializers.IntegerField()


_IMPORT_FORMAT_PARAM = OpenApiParameter(
    "format", OpenApiTypes.STR, enum=["csv", "json", "jsonl", "label_studio"], required=False,
    description=(
        "File format; by default from the file name's extension or the Content-Type. "
        "label_studio: a JSON array of Label Studio tasks (a .json file shaped so is read as one); "
        "predictions are kept with ?model=, annotations give gold labels on the gold endpoint only."
    ),
)
_MODEL_PARAMS = [
    OpenApiParameter(
        "model", OpenApiTypes.STR, required=False,
        description="The model whose predictions the file's `prediction` / "
        "`prediction_probabilities` fields hold (required when it has any).",
    ),
    OpenApiParameter("model_version", OpenApiTypes.STR, required=False,
                     description="The model's version (with model)."),
]
_IMPORT_SCHEMA = extend_schema(
    parameters=[_IMPORT_FORMAT_PARAM, *_MODEL_PARAMS],
    request={
        "multipart/form-data": UploadSerializer,
        "text/csv": OpenApiTypes.STR,
        "application/json": OpenApiTypes.ANY,
        "application/x-ndjson": OpenApiTypes.STR,
    },
    responses={
        201: ImportResultSerializer,
        400: OpenApiResponse(description="invalid_import: details name the line and the reason"),
        402: OpenApiResponse(description="insufficient_funds: the balance cannot escrow the new items"),
        409: OpenApiResponse(description="The job is completed or cancelled"),
    },
)


def _import_format(requested: str | None, filename: str | None, content_type: str) -> str:
    """The format named by ?format=, else by the file name's extension, else the content type."""
    if requested:
        if requested.strip().lower() not in _FORMAT_NAMES:
            message = f"unknown import format {requested!r}; use csv, json, jsonl or label_studio."
            raise InvalidImport.of([Problem(None, "unknown_format", message)])
        return _FORMAT_NAMES[requested.strip().lower()]
    extension = filename.rsplit(".", 1)[-1].lower() if filename and "." in filename else ""
    media = content_type.split(";")[0].strip().lower()
    fmt = _FORMAT_NAMES.get(extension) or _CONTENT_TYPES.get(media)
    if fmt is None:
        message = (
            "cannot tell the file's format: add ?format=csv|json|jsonl, name the file .csv, .json "
            "or .jsonl, or send Content-Type text/csv, application/json or application/x-ndjson."
        )
        raise InvalidImport.of([Problem(None, "unknown_format", message)])
    return fmt


def _import_payload(request: Request) -> tuple[importing.Payload, str]:
    """The uploaded file or the raw body, and its format; oversized bodies are refused unread."""
    limit: int = settings.QUORUM_MAX_IMPORT_BYTES
    media = (request.content_type or "").split(";")[0].strip().lower()
    requested = request.query_params.get("format")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit + (_MULTIPART_OVERHEAD if media == "multipart/form-data" else 0):
        message = f"the file is over the {limit:,} bytes allowed."
        raise InvalidImport.of([Problem(None, "too_large", message)])  # the whole body: no line to name
    if media == "multipart/form-data":
        upload = request.FILES.get("file")
        if upload is None:
            message = "send the file in a multipart field named 'file'."
            raise InvalidImport.of([Problem(None, "missing_file", message)])
        return upload, _import_format(requested, upload.name, upload.content_type or "")
    # No stream at all when the body is empty: an empty file, refused as such by the parser.
    return (request.stream or b""), _import_format(requested, None, media)


def _import(request: Request, job_id: int, *, gold: bool) -> Response:
    job = selectors.job_get_for_owner(user=request.user, job_id=job_id)
    payload, fmt = _import_payload(request)
    name, version = request.query_params.get("model"), request.query_params.get("model_version")
    model = None if name is None and version is None else model_name_check(name, version)
    # Through the flow: new items of an open or paused job are escrowed with the import.
    imported = flows.items_import(job=job, payload=payload, fmt=fmt, gold=gold, model=model)
    job.refresh_from_db(fields=["item_count", "gold_item_count"])
    counts = {"item_count": job.item_count, "gold_item_count": job.gold_item_count}
    return Response({"imported": imported, **counts}, status=status.HTTP_201_CREATED)


def _items(request: Request, job_id: int, *, gold: bool) -> QuerySet[Item]:
    items = selectors.items_for_owner(user=request.user, job_id=job_id).filter(is_gold=gold)
    return items if gold else items.select_related(None)  # plain items have no gold row to join


def _page(
    view: APIView, request: Request, items: QuerySet[Item], serializer: type[ItemSerializer]
) -> Response:
    paginator = Pagination()
    page = paginator.paginate_queryset(items.order_by("id"), request, view=view)
    return paginator.get_paginated_response(serializer(page or [], many=True).data)


def _one(request: Request, job_id: int, item_id: int, *, gold: bool) -> Item:
    item = selectors.item_get_for_owner(user=request.user, job_id=job_id, item_id=item_id)
    if item.is_gold != gold:  # gold items live under /gold/, plain ones under /items/
        raise NotFound("Item not found.")
    return item


# A job's client (or an admin), answering files as well as JSON (no docstring: it would become
# every operation's description in the schema).
class ClientEndpoint(APIView):
    permission_classes = [IsAuthenticated, IsClientOrAdmin, StaffLookReadOnly]
    renderer_classes = [JSONRenderer]
    parser_classes = [StrictMultiPartParser]  # raw bodies are read from request.stream, never parsed
    content_negotiation_class = FileFormatNegotiation


_DELETE_SCHEMA = extend_schema(
    request=None,
    responses={
        204: OpenApiResponse(description="deleted"),
        409: OpenApiResponse(description="conflict: items are deleted only while the job is a draft"),
    },
)


def _delete_one(request: Request, job_id: int, item_id: int, *, gold: bool) -> Response:
    item = _one(request, job_id, item_id, gold=gold)
    editing.items_delete(job=item.job, item_ids=[item.pk])
    return Response(status=status.HTTP_204_NO_CONTENT)


class ItemsDeleteSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=IdField(), required=False,
        help_text=f"Items (plain or gold) to delete, at most {editing.MAX_ITEM_IDS:,}.",
    )
    all = serializers.BooleanField(required=False, help_text="Delete every plain item instead of naming ids.")
    include_gold = serializers.BooleanField(required=False, help_text="With all: the gold items too.")


class ItemsDeleteResultSerializer(serializers.Serializer):
    deleted = serializers.IntegerField()
    item_count = serializers.IntegerField()
    gold_item_count = serializers.IntegerField()


class JobItemsDelete(APIView):
    """Delete chosen items of a draft, or all of them to upload a new file in their place."""

    permission_classes = [IsAuthenticated, IsClientOrAdmin, StaffLookReadOnly]
    parser_classes = [StrictJSONParser]  # the body limit and refusals of every JSON body

    @extend_schema(
        request=ItemsDeleteSerializer, summary="Delete a draft's items: chosen ids, or all",
        operation_id="v1_jobs_items_delete_many",
        responses={
            200: ItemsDeleteResultSerializer,
            409: OpenApiResponse(description="conflict: items are deleted only while the job is a draft"),
        },
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get_for_owner(user=request.user, job_id=job_id)
        data = request.data
        if set(data) - {"ids", "all", "include_gold"}:
            raise ApplicationError("Send {\"ids\": [...]} or {\"all\": true, \"include_gold\": false}.")
        if ("ids" in data) == (data.get("all") is True):
            raise ApplicationError("Name the items to delete (ids) or send all: true, not both.")
        include_gold = data.get("include_gold", False)
        if not isinstance(include_gold, bool):
            raise ApplicationError("include_gold must be true or false.")
        deleted = editing.items_delete(job=job, item_ids=data.get("ids"), include_gold=include_gold)
        job.refresh_from_db(fields=["item_count", "gold_item_count"])
        return Response(
            {"deleted": deleted, "item_count": job.item_count, "gold_item_count": job.gold_item_count}
        )


class JobItems(ClientEndpoint):
    @extend_list_schema(
        ItemSerializer, operation_id="v1_jobs_items_list",
        summary="List a job's items (not gold)",
    )
    def get(self, request: Request, job_id: int) -> Response:
        return _page(self, request, _items(request, job_id, gold=False), ItemSerializer)

    @_IMPORT_SCHEMA
    @extend_schema(operation_id="v1_jobs_items_import", summary="Import items: all or nothing")
    def post(self, request: Request, job_id: int) -> Response:
        return _import(request, job_id, gold=False)


class JobItemDetail(ClientEndpoint):
    @extend_schema(
        operation_id="v1_jobs_items_retrieve", responses=ItemSerializer, summary="One item"
    )
    def get(self, request: Request, job_id: int, item_id: int) -> Response:
        return Response(ItemSerializer(_one(request, job_id, item_id, gold=False)).data)

    @_DELETE_SCHEMA
    @extend_schema(operation_id="v1_jobs_items_destroy", summary="Delete one item of a draft")
    def delete(self, request: Request, job_id: int, item_id: int) -> Response:
        return _delete_one(request, job_id, item_id, gold=False)


class JobGoldItems(ClientEndpoint):
    @extend_list_schema(
        GoldItemSerializer, operation_id="v1_jobs_gold_list",
        summary="List gold items, answers too",
    )
    def get(self, request: Request, job_id: int) -> Response:
        return _page(self, request, _items(request, job_id, gold=True), GoldItemSerializer)

    @_IMPORT_SCHEMA
    @extend_schema(
        operation_id="v1_jobs_gold_import",
        summary="Import gold items (each with `label`, optional `explanation`)",
    )
    def post(self, request: Request, job_id: int) -> Response:
        return _import(request, job_id, gold=True)


class JobGoldItemDetail(ClientEndpoint):
    @extend_schema(
        operation_id="v1_jobs_gold_retrieve", responses=GoldItemSerializer, summary="One gold item"
    )
    def get(self, request: Request, job_id: int, item_id: int) -> Response:
        return Response(GoldItemSerializer(_one(request, job_id, item_id, gold=True)).data)

    @_DELETE_SCHEMA
    @extend_schema(operation_id="v1_jobs_gold_destroy", summary="Delete one gold item of a draft")
    def delete(self, request: Request, job_id: int, item_id: int) -> Response:
        return _delete_one(request, job_id, item_id, gold=True)
