"""DRF permission classes by role. Object scoping is the selectors' job, not these; a staff look at
a client's job is read-only and on record (StaffLookReadOnly)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from marketplace.jobs.models import Job
from marketplace.jobs.staff_looks import STAFF_READ_ONLY, job_staff_view_record
from marketplace.limits import MAX_ID


class IsClient(BasePermission):
    message = "Only client accounts can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_client)


class IsWorker(BasePermission):
    message = "Only worker accounts can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_worker)


class IsAdmin(BasePermission):
    message = "Only admins can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_admin)


class IsClientOrAdmin(BasePermission):
    message = "Only client or admin accounts can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and (user.is_client or user.is_admin))


class StaffLookReadOnly(BasePermission):
    """A job's routes (a `job_id` in the path): an admin on another organization's job reads it as
    on the portal. Every request is a look on the client's record of staff access (the service the
    portal's web.access.staff_look calls, jobs.JobStaffView, listed on the client's job page), and
    any write is refused: staff see a client's job, they never act for the client. Clients and
    unknown ids pass through to the view's own scoping (another organization's job: 404)."""

    message = STAFF_READ_ONLY

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        job_id = _path_id(view.kwargs.get("job_id"))
        if job_id is None or not (user and user.is_authenticated and user.is_admin):
            return True
        job = Job.objects.filter(pk=job_id).only("pk", "organization_id").first()
        if job is None or job_staff_view_record(job=job, viewer=user, what=request.path) is None:
            return True  # no such job (the view answers its 404), or no staff look by the service's rule
        return request.method in SAFE_METHODS


def _path_id(value: Any) -> int | None:
    """A path's job id as an int: `<id:>` routes give one, the `re_path` ones (job actions) digits
    of any length, which name no job beyond MAX_ID (19 digits; int() refuses 4,300 and more)."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= len(str(MAX_ID)):
        number = int(value)
        return number if 1 <= number <= MAX_ID else None
    return None
