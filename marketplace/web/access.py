"""Who may open which portal page. Pages answer like the API: an anonymous visitor is sent to
log in; a signed-in user of the wrong role gets a 404, so a worker cannot even learn that a client
or admin page exists. Object scoping (this organization's job, this worker's lease) stays in the
selectors the views call."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from marketplace.accounts.models import User
from marketplace.jobs.models import Job
from marketplace.jobs.staff_looks import job_staff_view_record
from marketplace.realtime.paths import SOCKET_PATHS

View = TypeVar("View", bound=Callable[..., HttpResponse])


def _role_required(check: Callable[[User], bool]) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not check(request.user):  # type: ignore[arg-type]
                # The page any unknown address shows (templates/404.html), rendered here rather
                # than raised: under DEBUG (the demo) Http404 showed Django's technical page.
                return render(request, "404.html", status=404)
            return view(request, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


client_required = _role_required(lambda user: user.is_client)
worker_required = _role_required(lambda user: user.is_worker)
staff_required = _role_required(lambda user: user.is_admin)
# The data browser: the job's client, and admins (who see every organization's jobs).
client_or_admin_required = _role_required(lambda user: user.is_client or user.is_admin)


def staff_look(request: HttpRequest, job: Job) -> bool:
    """Whether this request is an admin looking at another organization's job: such looks are
    read-only, and each is logged (jobs.JobStaffView) and shown to the client on the job page."""
    if not request.user.is_authenticated:
        return False
    return job_staff_view_record(job=job, viewer=request.user, what=request.path) is not None  # type: ignore[arg-type]


# The portal's live-update sockets, from their routes (realtime/routing.py).
CLIENT_SOCKET = SOCKET_PATHS["client"]  # the organization's feed, for its client users
STAFF_SOCKET = SOCKET_PATHS["staff"]  # staff alerts; a page subscribes it to one job's feed


def live_socket(request: HttpRequest) -> str:
    """The live-updates socket of a job's pages for this user: an admin's is the staff socket
    (the page subscribes it to the job's feed), since the client socket refuses them (4403)."""
    return STAFF_SOCKET if getattr(request.user, "is_admin", False) else CLIENT_SOCKET

