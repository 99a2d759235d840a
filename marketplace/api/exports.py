"""A job's files over REST: its results (the latest consensus run's labels, experts' settled
items marked so) and its raw judgments, streamed in batches.

The plain JobResults streams items without consensus (jobs/exporting.py takes a lookup);
JobResultsWithConsensus, routed at jobs/<id>/results/ in its place, supplies the lookup from
quality (quality/results.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.request import Request

from marketplace.api.items import ClientEndpoint
from marketplace.jobs import exporting, label_studio, selectors
from marketplace.jobs.models import Job
from marketplace.quality.results import consensus_lookup_for

_EXPORT_FORMAT_PARAM = OpenApiParameter(
    "format", OpenApiTypes.STR, enum=list(exporting.FORMATS), required=False,
    description="File format (csv by default).",
)
_RESULTS_PARAMS = [
    OpenApiParameter(
        "format", OpenApiTypes.STR, enum=list(exporting.RESULT_FORMATS), required=False,
        description="File format (csv by default); label_studio: Label Studio tasks, the consensus "
        "label as each task's annotation.",
    ),
    OpenApiParameter(
        "layout", OpenApiTypes.STR, enum=list(exporting.LAYOUTS), required=False,
        description="CSV only. nested (default): the item's data as one JSON cell; flat: one "
        "data.<field> column per data field.",
    ),
    OpenApiParameter(
        "from_name", OpenApiTypes.STR, required=False,
        description="label_studio only: the Choices tag's name (default label).",
    ),
    OpenApiParameter(
        "to_name", OpenApiTypes.STR, required=False,
        description="label_studio only: the object tag's name (default text).",
    ),
]
_END = object()


async def _async_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """The export's batches, each read in the request's sync thread (its database connection).
    Under ASGI Django would otherwise drain a sync iterator into a list before sending a byte."""
    read = sync_to_async(next, thread_sensitive=True)
    while (chunk := await read(chunks, _END)) is not _END:
        yield chunk  # type: ignore[misc]


def attachment(request: Request, chunks: Iterator[bytes], fmt: str, name: str) -> StreamingHttpResponse:
    """A streamed file: an async stream under ASGI (daphne), the plain generator under WSGI."""
    asgi = isinstance(request._request, ASGIRequest)
    body = _async_chunks(iter(chunks)) if asgi else chunks
    response = StreamingHttpResponse(body, content_type=exporting.CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{name}.{exporting.EXTENSIONS[fmt]}"'
    response["Cache-Control"] = "no-store"  # client data: no shared cache keeps a copy
    return response


_FILE_RESPONSE = {
    (200, "text/csv"): OpenApiTypes.BINARY,
    # format=json is one JSON array of row objects: a client parses it, so document it as such.
    (200, "application/json"): {"type": "array", "items": {"type": "object"}},
    (200, "application/x-ndjson"): OpenApiTypes.BINARY,
}


class JobResults(ClientEndpoint):
    source_column = False  # JobResultsWithConsensus adds the column saying consensus or expert

    def consensus_lookup(self, job: Job) -> exporting.ConsensusLookup | None:
        """The seam for JobResultsWithConsensus, routed in this one's place: it returns the lookup."""
        return None

    @extend_schema(
        operation_id="v1_jobs_results_export",
        parameters=_RESULTS_PARAMS,
        responses=_FILE_RESPONSE,
        summary="Stream the results",
    )
    def get(self, request: Request, job_id: int) -> StreamingHttpResponse:
        job = selectors.job_get_for_owner(user=request.user, job_id=job_id)
        query = request.query_params
        fmt = exporting.export_format_check(query.get("format"), allowed=exporting.RESULT_FORMATS)
        names = {
            "from_name": label_studio.control_name_check(
                query.get("from_name"), name="from_name", default=label_studio.DEFAULT_FROM_NAME),
            "to_name": label_studio.control_name_check(
                query.get("to_name"), name="to_name", default=label_studio.DEFAULT_TO_NAME),
        }
        lookup = self.consensus_lookup(job)
        chunks = exporting.results_export(
            job=job, fmt=fmt, consensus_lookup=lookup, source_column=self.source_column,
            layout=query.get("layout") or "nested", **names,
        )
        response = attachment(request, chunks, fmt, f"job-{job.pk}-results")
        if job.prelabel_model is not None:
            # The results' metadata says workers saw a model's labels as suggestions (anchoring).
            model = job.prelabel_model
            response["Quorum-Prelabels"] = f"{model.name} {model.version}"
        return response


class JobJudgmentsExport(ClientEndpoint):
    @extend_schema(
        operation_id="v1_jobs_judgments_export",
        parameters=[_EXPORT_FORMAT_PARAM],
        responses=_FILE_RESPONSE,
        summary="Stream accepted judgments as task,worker,label (workers pseudonymized)",
        description="crowd-kit's input shape, for programs: CSV cells are written exactly as "
        "stored (no apostrophe before text starting with = + - @, unlike the results CSV), so "
        "`task` joins a truth file on the item's external_id. Do not open it in a spreadsheet "
        "unless you trust the items' external ids and the labels.",
    )
    def get(self, request: Request, job_id: int) -> StreamingHttpResponse:
        job = selectors.job_get_for_owner(user=request.user, job_id=job_id)
        fmt = exporting.export_format_check(request.query_params.get("format"))
        chunks = exporting.judgments_export(job=job, fmt=fmt)
        return attachment(request, chunks, fmt, f"job-{job.pk}-judgments")


@extend_schema_view(
    get=extend_schema(
        summary="Stream the results: latest consensus run, expert-settled items marked source=expert"
    )
)
class JobResultsWithConsensus(JobResults):
    """jobs' results export with the latest run's labels and a `source` column."""

    source_column = True

    def consensus_lookup(self, job: Job) -> exporting.ConsensusLookup | None:
        return consensus_lookup_for(job=job)
