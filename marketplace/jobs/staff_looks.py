"""Staff looks at a client's job: who of Quorum's staff looked, when, at what (the client's "Quorum
staff access" list), and the one rule that a staff look is read-only."""

from __future__ import annotations

from marketplace.accounts.models import User
from marketplace.jobs.models import Job, JobStaffView

# The longest path kept for a staff view (JobStaffView.what).
STAFF_VIEW_WHAT_MAX = 200


# What a write from a staff look answers (the portal's message, the API's 403): staff see a
# client's job but do not act for the client.
STAFF_READ_ONLY = "Staff views of a client's job are read-only: only the client's own users can change it."


def job_staff_view_record(*, job: Job, viewer: User, what: str) -> JobStaffView | None:
    """Log an admin's look at a client's job; None when it is no staff look. Clients looking at
    their own jobs are not logged; neither is an admin who belongs to the job's organization (it is
    their own data). The one rule of both the portal (web.access.staff_look) and the API
    (api.permissions.StaffLookReadOnly): a staff look is read-only."""
    if not viewer.is_admin or viewer.organization_id == job.organization_id:
        return None
    return JobStaffView.objects.create(job=job, viewer=viewer, what=what[:STAFF_VIEW_WHAT_MAX])
