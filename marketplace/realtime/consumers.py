"""WebSocket consumers: one socket per role, scoped like the API.

Each socket needs a signed-in session (AuthMiddlewareStack reads the session cookie) of the
right role, else it is refused before the handshake completes: close code 4401 without a
session, 4403 for the wrong role. A socket joins only its own groups (groups.py), so nobody
receives another organization's events; every event arrives through `realtime_event`.

Messages from the browser (optional): {"subscribe": <job id>} narrows a client's feed to one of
its organization's jobs (or, for an admin, adds that job's feed); {"subscribe": null} undoes it.
The job is looked up through the same scoped selector as the API: another organization's job
answers {"type": "error", ...} exactly like a missing one. An admin's subscription to a client's
job is a staff look like opening its page: recorded as a JobStaffView (jobs.services) before the
first event, so the client's "Quorum staff access" list shows it. A job id is a whole number of at most
18 ASCII digits (a JSON number or a string of digits). Any other frame (binary, longer than
MAX_FRAME_CHARS, not JSON, not an object, an id of another kind) answers {"type": "error", ...}
too and the socket stays open: a frame never closes it with 1011 or writes a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from importlib import import_module
from typing import Any

from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import NotFound
from marketplace.jobs.models import Job
from marketplace.jobs.selectors import job_get_for_owner, job_staff_looked_since
from marketplace.jobs.staff_looks import job_staff_view_record
from marketplace.realtime import groups, transport
from marketplace.realtime.events import SESSION_CHANGED, SESSION_ENDED

logger = logging.getLogger(__name__)

UNAUTHENTICATED = 4401
FORBIDDEN = 4403
# The user's password, activity, role or organization changed: reconnect to be checked again
# (static/js/live.js retries any code but 4401 and 4403; a session that ended gets 4401 then).
RECHECK = 4001
# A subscribe message is some 30 characters. The cap answers a long frame before json reads it:
# json refuses integers over 4,300 digits with ValueError and recurses once per nested bracket.
MAX_FRAME_CHARS = 1000
# An admin's look at a job (its page, or its feed) on record this recently covers a new
# subscription to its feed: no second record for the page's own socket or a reconnection.
STAFF_LOOK_COVERS = timedelta(minutes=10)
MAX_JOB_ID = 10**18 - 1  # 18 digits, well inside PostgreSQL's bigint
_JOB_ID_TEXT = re.compile(r"[0-9]{1,18}")  # ASCII only: "²".isdigit() is true, yet int("²") raises
ID_ERROR = "A job id is a whole number of at most 18 digits."


class RoleConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """Checks the session and role, joins the role's groups, forwards events as JSON."""

    def allowed(self, user: User) -> bool:
        raise NotImplementedError

    def groups_for(self, user: User) -> list[str]:
        raise NotImplementedError

    async def connect(self) -> None:
        self.joined: list[str] = []
        self.closing = False
        self.job_filter: int | None = None
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return
        if not self.allowed(user):
            await self.close(code=FORBIDDEN)
            return
        self.user = user
        transport.loop_register(asyncio.get_running_loop())
        for name in [*self.groups_for(user), groups.user(user.pk)]:
            await self._join(name)
        await self.accept()
        if settings.QUORUM_WS_REJOIN_SECONDS:
            self.rejoining = asyncio.create_task(self._rejoin_every(settings.QUORUM_WS_REJOIN_SECONDS))

    async def disconnect(self, code: int) -> None:
        rejoining = getattr(self, "rejoining", None)
        if rejoining is not None:
            rejoining.cancel()
        for name in list(getattr(self, "joined", [])):
            await self.channel_layer.group_discard(name, self.channel_name)
        self.joined = []

    async def _rejoin_every(self, seconds: float) -> None:
        """Add this socket to its groups again, for as long as it is open: the layer drops a
        member after its group_expiry (a day) and every member when Redis restarts, and a page
        left open (a staff dashboard, a job's progress) would go quiet without a word.
        Each round first checks the session again: the close a logout or a new password sends
        (events.session_ended, session_changed) is lost while Redis is away, and the socket
        must not rejoin for a session that has ended since."""
        while True:
            await asyncio.sleep(seconds)
            try:
                code = await self._session_check()
            except Exception:  # database away: the next round asks again
                logger.warning("socket %s could not check its session", self.channel_name, exc_info=True)
                code = None
            if code is not None:
                self.closing = True
                await self.close(code=code)
                return
            for name in list(self.joined):
                try:
                    await self.channel_layer.group_add(name, self.channel_name)
                except Exception:  # Redis away: the next round tries again
                    logger.warning("socket %s could not rejoin %s", self.channel_name, name, exc_info=True)

    async def _session_check(self) -> int | None:
        """None while this socket's session still signs in its user with the groups it joined;
        else the close code: UNAUTHENTICATED when the session ended (logged out, a new password,
        deactivated), RECHECK when the user's role or organization changed."""
        store = import_module(settings.SESSION_ENGINE).SessionStore
        # Read from the store again: the scope's copy is the one loaded at connect.
        user = await get_user({"session": store(self.scope["session"].session_key)})
        if user.pk != self.user.pk:
            return UNAUTHENTICATED
        if not self.allowed(user) or self.groups_for(user) != self.groups_for(self.user):
            return RECHECK
        return None

    async def realtime_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if self.closing:  # events already queued behind the close are not for this session
            return
        if event.get("type") in (SESSION_ENDED, SESSION_CHANGED):
            # Logged out: this socket's session is gone. Changed: it may be (events.session_changed).
            self.closing = True
            await self.close(code=UNAUTHENTICATED if event["type"] == SESSION_ENDED else RECHECK)
            return
        if self.job_filter is not None and event.get("job") not in (None, self.job_filter):
            return
        await self.send_json(event)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None,
                      **kwargs: Any) -> None:
        """Read one frame from the browser; a malformed one gets an error frame, never an
        exception (the base class raises on binary frames and on anything json refuses)."""
        if not text_data:
            await self._error("Send text frames of JSON.")
            return
        if len(text_data) > MAX_FRAME_CHARS:
            await self._error(f"A message is at most {MAX_FRAME_CHARS} characters.")
            return
        try:
            content = await self.decode_json(text_data)
        except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
            await self._error("This message is not JSON.")
            return
        await self.receive_json(content, **kwargs)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict) or "subscribe" not in content:
            await self._error('Send {"subscribe": <job id>} or {"subscribe": null}.')
            return
        if content["subscribe"] is None:
            await self.unsubscribe()
            await self.send_json({"type": "subscribed", "job": None})
            return
        job_id = _job_id(content["subscribe"])
        if job_id is None:
            await self._error(ID_ERROR)
            return
        if not await self._may_see(job_id):
            await self._error("Job not found.")
            return
        await self.subscribe(job_id)
        await self.send_json({"type": "subscribed", "job": job_id})

    async def _error(self, message: str) -> None:
        await self.send_json({"type": "error", "message": message})

    async def subscribe(self, job_id: int) -> None:
        await self.send_json({"type": "error", "message": "This socket has no per-job feed."})

    async def unsubscribe(self) -> None:
        self.job_filter = None

    @database_sync_to_async
    def _may_see(self, job_id: int) -> bool:
        try:
            job = job_get_for_owner(user=self.user, job_id=job_id)
        except NotFound:
            return False
        self.seeing(job)
        return True

    def seeing(self, job: Job) -> None:
        """The user is about to subscribe to `job`, which they may see (database thread, before
        any of its events reach them)."""

    async def _join(self, name: str) -> None:
        await self.channel_layer.group_add(name, self.channel_name)
        self.joined.append(name)

    async def _leave(self, name: str) -> None:
        await self.channel_layer.group_discard(name, self.channel_name)
        self.joined.remove(name)


def _job_id(value: Any) -> int | None:
    """The job id in a subscribe message, or None when it is not one: a JSON integer or a string
    of ASCII digits ("12" from a form; "0012" reads as 12), 0 to MAX_JOB_ID. Booleans (ints to
    Python), floats, negative numbers and "1e3" are not ids."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= MAX_JOB_ID else None
    if isinstance(value, str) and _JOB_ID_TEXT.fullmatch(value):
        return int(value)
    return None


class ClientConsumer(RoleConsumer):
    """/ws/client/: the client's organization's jobs; subscribing narrows it to one of them."""

    def allowed(self, user: User) -> bool:
        return bool(user.is_client and user.organization_id)

    def groups_for(self, user: User) -> list[str]:
        return [groups.organization(user.organization_id)]

    async def subscribe(self, job_id: int) -> None:
        self.job_filter = job_id


class WorkerConsumer(RoleConsumer):
    """/ws/worker/: new work (work.available) for every worker."""

    def allowed(self, user: User) -> bool:
        return bool(user.is_worker)

    def groups_for(self, user: User) -> list[str]:
        return [groups.WORKERS]


class StaffConsumer(RoleConsumer):
    """/ws/staff/: quality alerts and status changes; subscribing adds one job's progress feed."""

    def allowed(self, user: User) -> bool:
        return bool(user.is_admin)

    def groups_for(self, user: User) -> list[str]:
        return [groups.STAFF]

    def seeing(self, job: Job) -> None:
        # Clients are promised that every staff look at their job is on record (README, "Quorum
        # staff access"), and a live feed of its progress is one, as its page is; recorded first,
        # so a failed record subscribes nothing. An admin of the job's own organization is not a
        # staff look (the service records nothing then).
        # A look at the job in the last minutes covers its feed (the page opened it, or the socket
        # reconnected): one look for the client to read, not one per page load and reconnection.
        if job_staff_looked_since(job=job, viewer_id=self.user.pk, since=timezone.now() - STAFF_LOOK_COVERS):
            return
        job_staff_view_record(job=job, viewer=self.user, what=f"{self.scope['path']} (live feed)")

    async def subscribe(self, job_id: int) -> None:
        await self.unsubscribe()
        await self._join(groups.job(job_id))

    async def unsubscribe(self) -> None:
        for name in [n for n in self.joined if n.startswith("job-")]:
            await self._leave(name)
