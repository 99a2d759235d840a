"""Live events: the only module the apps call to tell browsers something changed.

Every function here is called inside the caller's transaction and sends nothing until it
commits (`transaction.on_commit`): a rolled-back action is never shown. The message is built
after the commit from the committed rows (marketplace/realtime/payloads.py), so callers pass ids
and the few values only they know. Publishing never raises: a failure is logged and the action
that caused it stands (a submit must not fail because Redis blinked).

Who hears what (groups.py): a job's progress, status and consensus go to its organization's
clients and to admins subscribed to the job; status changes also go to all admins; new work goes
to all workers; quality alerts go to admins. Message shapes are the contract in the module
docstrings of payloads.py and in notes/helper-common.md.

job.progress is throttled per job (transport.Coalescer): at most one message per
QUORUM_LIVE_PROGRESS_SECONDS (default 0.5 s, so ~2/s) per job, the first at once and a trailing
one carrying the latest counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Mapping
from functools import partial
from typing import Any

from django.conf import settings

from marketplace.commit import on_commit_robust
from marketplace.realtime import groups, payloads, transport

logger = logging.getLogger(__name__)

DEFAULT_PROGRESS_SECONDS = 0.5


def job_progress(*, job_id: int) -> None:
    """The job's counters or cost changed (a judgment accepted, items imported or reopened)."""
    _on_commit(partial(_progress.request, job_id))


def job_status(*, job_id: int, status: str) -> None:
    """The job moved to `status` (publish, pause, resume, complete, cancel); its progress follows."""
    _on_commit(partial(_status_send, job_id, status))
    job_progress(job_id=job_id)


def job_consensus(*, run_id: int, estimate: Mapping[str, Any]) -> None:
    """A consensus run succeeded and its results are stored; `estimate` is the job's expected
    accuracy as its page shows it (quality/estimate.py AccuracyEstimate.as_event)."""
    _on_commit(partial(_consensus_send, run_id, dict(estimate)))


def work_available(*, job_id: int) -> None:
    """A job opened to workers (published or resumed); sent only if it is still open then."""
    _on_commit(partial(_work_send, job_id))


def session_ended(*, user_id: int) -> None:
    """The user logged out: their open sockets close (a socket outliving its session would keep
    receiving the organization's events)."""
    _on_commit(partial(transport.group_send, [groups.user(user_id)], {"type": SESSION_ENDED}))


def session_changed(*, user_id: int) -> None:
    """The user's password changed (which ends their other sessions), or an admin deactivated,
    deleted or moved them (accounts/access.py calls this): every open socket of theirs closes.
    A socket checks its session only when it connects; the browser reconnects, and only a
    session that still stands (the one the new password was set in) gets back in, with the
    groups of the user's new role and organization."""
    _on_commit(partial(transport.group_send, [groups.user(user_id)], {"type": SESSION_CHANGED}))


def quality_alert(
    *,
    worker_id: int,
    job_id: int | None,
    action: str,
    reason: str | None = None,
    username: str | None = None,
) -> None:
    """A quality action on a worker ("blocked", "unblocked", "flagged"), for admins. Without a
    reason, the reason of the matching QualityEvent is sent (the rule's own words)."""
    _on_commit(
        partial(
            _alert_send, worker_id=worker_id, job_id=job_id, action=action, reason=reason,
            username=username,
        )
    )


def throttle_reset() -> None:
    """Forget the progress throttle's windows (tests start each from a quiet state)."""
    _progress.reset()


SESSION_ENDED = "session.ended"
SESSION_CHANGED = "session.changed"


def _on_commit(send: Callable[[], None]) -> None:
    try:
        on_commit_robust(_guarded, send)
    except Exception:  # e.g. called while a broken transaction is being rolled back
        logger.exception("live event not queued")


def _guarded(send: Callable[[], None]) -> None:
    try:
        send()
    except Exception:
        logger.exception("live event not built")


def _progress_send(job_id: Hashable) -> None:
    # Runs in the committing thread (leading edge) or a throttle timer (trailing edge).
    try:
        built = payloads.job_progress(job_id=int(job_id))  # type: ignore[arg-type]
        if built is None:
            return
        organization_id, message = built
        targets = [groups.organization(organization_id), groups.job(message["job"])]
        transport.group_send(targets, message)
    except Exception:
        logger.exception("job.progress of job %s not sent", job_id)


def _status_send(job_id: int, status: str) -> None:
    message = payloads.job_status(job_id=job_id, status=status)
    organization_id = payloads.job_organization(job_id=job_id)
    targets = [groups.STAFF]  # subscribed admins hear it here: no duplicate through job-<id>
    if organization_id is not None:
        targets.insert(0, groups.organization(organization_id))
    transport.group_send(targets, message)


def _consensus_send(run_id: int, estimate: Mapping[str, Any]) -> None:
    built = payloads.job_consensus(run_id=run_id, estimate=estimate)
    if built is not None:
        organization_id, job_id, message = built
        transport.group_send([groups.organization(organization_id), groups.job(job_id)], message)


def _work_send(job_id: int) -> None:
    message = payloads.work_available(job_id=job_id)
    if message is not None:
        transport.group_send([groups.WORKERS], message)


def _alert_send(
    *, worker_id: int, job_id: int | None, action: str, reason: str | None, username: str | None
) -> None:
    message = payloads.quality_alert(
        worker_id=worker_id, job_id=job_id, action=action, reason=reason, username=username
    )
    transport.group_send([groups.STAFF], message)


def _progress_seconds() -> float:
    return float(getattr(settings, "QUORUM_LIVE_PROGRESS_SECONDS", DEFAULT_PROGRESS_SECONDS))


_progress = transport.Coalescer(send=_progress_send, interval=_progress_seconds)
