"""Channel-layer group names: who hears what.

- org-<organization id>: the clients of one organization (their jobs' progress, status, consensus);
- job-<job id>: admins who subscribed to one job's page (clients narrow their org feed instead);
- workers: every signed-in worker (new work);
- staff: every signed-in admin (quality alerts, job status changes);
- user-<user id>: every socket of one user (closed when that user logs out).

Names are built here only, so a typo cannot route one organization's events to another's socket.
"""

from __future__ import annotations

WORKERS = "workers"
STAFF = "staff"


def organization(organization_id: int) -> str:
    return f"org-{int(organization_id)}"


def job(job_id: int) -> str:
    return f"job-{int(job_id)}"


def user(user_id: int) -> str:
    return f"user-{int(user_id)}"
