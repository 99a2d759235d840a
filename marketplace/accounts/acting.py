"""Staff never act as a client or a worker: the check each such flow makes itself.

The portal and the API refuse staff on a client's or a worker's routes first (role-scoped views,
api.permissions.StaffLookReadOnly: staff see a client's job, they never change it). The flows check
again (defence in depth), so a new view, a command or a shell cannot have an admin publish,
cancel or fund a client's job, nor answer, get paid for and undo a worker's judgments.
"""

from __future__ import annotations

from marketplace.accounts.models import User
from marketplace.errors import PermissionDenied

STAFF_CLIENT_ACTION = "Staff cannot act for a client: only the client's own users can change its jobs."
STAFF_WORKER_ACTION = "Staff accounts do not label: only worker accounts answer, and are paid for, work."


def _staff(user: User) -> bool:
    return bool(user.is_admin or user.is_staff)


def client_action_check(*, user: User) -> None:
    """Refuse (403) a staff user performing a client's action."""
    if _staff(user):
        raise PermissionDenied(STAFF_CLIENT_ACTION)


def worker_action_check(*, worker: User) -> None:
    """Refuse (403) a staff user performing a worker's action."""
    if _staff(worker):
        raise PermissionDenied(STAFF_WORKER_ACTION)
