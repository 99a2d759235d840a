"""Downloads from a job's page with the portal's session: the raw judgments in crowd-kit's shape.

The same stream as the API's /api/v1/jobs/<id>/judgments/export/ (jobs.exporting), for the job's
client and for admins; another organization's job is a 404 like a missing one. Results downloads
link to the API itself, which accepts the session too.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse

from marketplace.errors import ApplicationError, NotFound
from marketplace.jobs import exporting, selectors
from marketplace.web.access import client_or_admin_required, staff_look


@client_or_admin_required
def judgments_download(request: HttpRequest, job_id: int) -> HttpResponse:
    """/portal/jobs/<id>/judgments/?format=csv|jsonl|json: accepted judgments as task,worker,label,
    workers pseudonymized per job; machine-readable, so CSV cells go out unguarded (jobs.exporting)."""
    try:
        job = selectors.job_get_for_owner(user=request.user, job_id=job_id)  # type: ignore[arg-type]
    except NotFound:
        raise Http404("No such job.") from None
    staff_look(request, job)
    try:
        fmt = exporting.export_format_check(request.GET.get("format"))
    except ApplicationError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(
        exporting.judgments_export(job=job, fmt=fmt), content_type=exporting.CONTENT_TYPES[fmt]
    )
    response["Content-Disposition"] = f'attachment; filename="job-{job.pk}-judgments.{fmt}"'
    response["Cache-Control"] = "no-store"  # client data: no shared cache keeps a copy
    return response
