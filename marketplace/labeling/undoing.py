"""Undoing a worker's last answer: the judgment is withdrawn and its lease is theirs again.

Allowed for QUORUM_UNDO_SECONDS after the answer, while its item is still open: a complete item
(whoever's answer completed it) may already be in results the client reads, so it stays as it
is. A gold item never completes, yet its answers are refused as often and in the same words
(_gold_refusal): a worker told "complete" must not learn that the item was a regular one. The
withdrawn judgment keeps its row (status `withdrawn`, no lease): its earning names it, and the
ledger may have moved its pay already, which the flow sends back (billing/reversals.py).
Every count the submit added comes off again: the item's judgment_count, the worker's tally of
the job. The lease goes back to `active` with a fresh span, handed to the page that undid (its
`page`), so the item is on the worker's screen again and their next answer is an ordinary submit.

Locks, in the submit's order (labeling/submitting.py): the lease, the item (regular only), the
worker's tally row, then the job in KEY SHARE mode, and only then the judgment's row (by its
compare-and-set), as a block takes items → tally → job → judgments; the flow then takes
billing's and quality's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import ApplicationError, Conflict, NotFound
from marketplace.jobs.models import Item, JobStatus
from marketplace.labeling import sql
from marketplace.labeling.models import Judgment, JudgmentStatus, Lease, LeaseStatus

# An answer in a job in these statuses can be undone: its items still take answers (paused: once
# resumed), and the job's escrow is open to take the pay back.
_UNDOABLE_JOB = frozenset({JobStatus.OPEN, JobStatus.PAUSED})


@dataclass(frozen=True)
class Withdrawal:
    """What an undo did: the judgment (now withdrawn, as it was before) and the lease given back."""

    judgment: Judgment
    lease: Lease


def _window_check(judgment: Judgment) -> None:
    window = settings.QUORUM_UNDO_SECONDS
    if timezone.now() - judgment.created_at > timedelta(seconds=window):
        raise Conflict(
            f"Too late to undo: an answer can be undone for {window} seconds after it is sent.",
            details={"judgment": judgment.pk, "undo_seconds": window},
        )


def _judgment_for_undo(*, worker: User, judgment_id: int) -> Judgment:
    """The worker's own judgment (anyone else's is not found), checked before anything is locked
    and again under the locks."""
    judgment = Judgment.objects.filter(pk=judgment_id, worker=worker).first()
    if judgment is None:
        raise NotFound("Judgment not found.")
    if judgment.status == JudgmentStatus.WITHDRAWN:
        raise Conflict("This answer was undone already.", details={"judgment": judgment.pk})
    if judgment.status == JudgmentStatus.DROPPED:
        raise Conflict("This answer was dropped by a quality block; it cannot be undone.")
    if judgment.lease_id is None:
        raise Conflict("This answer has no lease to return to; it cannot be undone.")
    _window_check(judgment)
    return judgment


@transaction.atomic
def judgment_withdraw(
    *, worker: User, judgment_id: int, hold: int | None = None, page: str | None = None
) -> Withdrawal:
    """Withdraw the worker's last answer in its job and give them its lease back (see the module).

    Refused (409) after QUORUM_UNDO_SECONDS, for an answer not the worker's latest in the job,
    once the item is complete (a gold one: see _gold_refusal), and in a completed or cancelled job;
    404 for anyone else's.
    `hold` (seconds): the lease's new span, as a claim's (the page's heartbeat renews it); never
    beyond the job's whole lease. `page`: the labeling page load that asked (None: an API client);
    the lease is that page's now, as a claim's is, so its beacon (and no other page's) gives it
    back (labeling/returning.py). Counts only: the flow withdraws the pay and the quality figures.
    """
    judgment = _judgment_for_undo(worker=worker, judgment_id=judgment_id)
    # The lease first, as a submit locks it: a second undo (another tab) waits here, then finds
    # the judgment withdrawn below.
    lease = Lease.objects.select_for_update().get(pk=judgment.lease_id)
    # Read again, not locked: a block drops judgments under the item and tally locks, which we
    # take next; the compare-and-set below is what settles a race with one.
    judgment = Judgment.objects.get(pk=judgment.pk)
    if judgment.status != JudgmentStatus.ACCEPTED or lease.status != LeaseStatus.SUBMITTED:
        raise Conflict("This answer was undone already.", details={"judgment": judgment.pk})
    later = Judgment.objects.filter(
        job_id=judgment.job_id, worker=worker, status=JudgmentStatus.ACCEPTED, pk__gt=judgment.pk
    )
    if later.exists():
        raise Conflict("Only your last answer in this job can be undone.", details={"judgment": judgment.pk})
    # The item's row lock (regular only): no answer may complete it, nor a claim count its slots,
    # meanwhile.
    item_complete = not judgment.is_gold and Item.objects.select_for_update().get(pk=judgment.item_id).is_complete
    # The worker's tally, then the job KEY SHARE: the submit's order. A status move (FOR UPDATE)
    # waits for us, and we read the status it left.
    sql.run(
        "tally_add", job=judgment.job_id, shard=worker.pk, judgments=-int(not judgment.is_gold),
        gold_judgments=-int(judgment.is_gold), completed=0,
    )
    status, lease_seconds, overlap = _job_row(judgment.job_id, key_share=True)
    refusal = _item_or_job_refusal(judgment, item_complete=item_complete, status=status, overlap=overlap)
    if refusal is not None:
        raise Conflict(refusal, details={"judgment": judgment.pk})
    if not judgment.is_gold:
        # Our judgment's count comes off; the item was not complete, so it stays open.
        Item.objects.filter(pk=judgment.item_id).update(judgment_count=F("judgment_count") - 1)
    # Compare-and-set: a block that dropped it (gold takes no item lock) got there first.
    if not Judgment.objects.filter(pk=judgment.pk, status=JudgmentStatus.ACCEPTED).update(
        status=JudgmentStatus.WITHDRAWN, lease=None  # the lease will carry the next answer's judgment
    ):
        raise Conflict("This answer was dropped by a quality block; it cannot be undone.")
    judgment.status, judgment.lease_id = JudgmentStatus.WITHDRAWN, None
    now = timezone.now()
    seconds = lease_seconds if hold is None else min(hold, lease_seconds)
    # Handed out afresh, to the page that asked: the worker gets the item's time again, as from
    # a claim, and another tab that showed the item before cannot give it back as it closes.
    lease.status, lease.finished_at, lease.page = LeaseStatus.ACTIVE, None, page
    lease.created_at, lease.expires_at = now, now + timedelta(seconds=seconds)
    lease.save(update_fields=["status", "finished_at", "created_at", "expires_at", "page"])
    return Withdrawal(judgment=judgment, lease=lease)


def judgment_undo_refusal(*, worker: User, judgment_id: int) -> str | None:
    """The refusal judgment_withdraw would give this answer now, or None if it would undo it:
    the same checks in the same order, read without its locks (so a race may still refuse).

    The labeling page asks right after a submit and offers Undo only where a click would not be
    refused. It learns nothing a click would not tell: a gold answer is refused in groups of the
    job's overlap, as a regular one (_gold_refusal), in the same words."""
    try:
        judgment = _judgment_for_undo(worker=worker, judgment_id=judgment_id)
    except ApplicationError as exc:
        return exc.message
    if judgment.status != JudgmentStatus.ACCEPTED or not Lease.objects.filter(
        pk=judgment.lease_id, status=LeaseStatus.SUBMITTED
    ).exists():
        return "This answer was undone already."
    later = Judgment.objects.filter(
        job_id=judgment.job_id, worker=worker, status=JudgmentStatus.ACCEPTED, pk__gt=judgment.pk
    )
    if later.exists():
        return "Only your last answer in this job can be undone."
    item_complete = not judgment.is_gold and Item.objects.filter(pk=judgment.item_id, is_complete=True).exists()
    status, _, overlap = _job_row(judgment.job_id, key_share=False)
    return _item_or_job_refusal(judgment, item_complete=item_complete, status=status, overlap=overlap)


def _item_or_job_refusal(judgment: Judgment, *, item_complete: bool, status: str, overlap: int) -> str | None:
    """Why the answer stays for its item or its job, or None. A complete item first, before the
    job's status, and a gold answer in the very words of a regular one (_gold_refusal)."""
    if judgment.is_gold:
        refusal = _gold_refusal(judgment, overlap=overlap, job_completed=status == JobStatus.COMPLETED)
        if refusal is not None:
            return refusal
    elif item_complete:
        return _completed_message(judgment, _last_answerer(judgment.item_id))
    if status not in _UNDOABLE_JOB:
        return f"This job is {JobStatus(status).label.lower()}; its answers can no longer be undone."
    return None


def _job_row(job_id: int, *, key_share: bool) -> tuple[str, int, int]:
    """The job's status, lease length and overlap; `key_share`: read under KEY SHARE (PostgreSQL;
    SQLite serializes writers already), the lock a submit takes, which only a status move waits for."""
    on_pg = transaction.get_connection().vendor == "postgresql"
    lock = " FOR KEY SHARE" if key_share and on_pg else ""
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(f"SELECT status, lease_seconds, overlap FROM jobs_job WHERE id = %s{lock}", [job_id])
        status, lease_seconds, overlap = cursor.fetchone()
    return str(status), int(lease_seconds), int(overlap)


def _gold_refusal(judgment: Judgment, *, overlap: int, job_completed: bool) -> str | None:
    """A regular answer's refusal for a gold one, when its item would be complete; else None.
    A regular item completes at its overlap-th answer, so a gold item's accepted answers, in the
    order they came, are read as groups of `overlap`, each a regular item: the answer's group is
    complete once its overlap-th answer came, and that answer's worker completed it. In a
    completed job every regular item is complete, so every gold answer's is too (another's)."""
    accepted = Judgment.objects.filter(item_id=judgment.item_id, status=JudgmentStatus.ACCEPTED)
    place = accepted.filter(pk__lte=judgment.pk).count()  # 1 for the item's first answer
    last = -(-place // overlap) * overlap  # the place of the group's last answer
    completer = next(iter(accepted.order_by("id").values_list("worker_id", flat=True)[last - 1:last]), None)
    if completer is None and not job_completed:
        return None
    return _completed_message(judgment, completer)


def _last_answerer(item_id: int) -> int | None:
    """The worker whose answer is the item's latest (the one that completed it)."""
    return (
        Judgment.objects.filter(item_id=item_id, status=JudgmentStatus.ACCEPTED)
        .order_by("-id").values_list("worker_id", flat=True).first()
    )


def _completed_message(judgment: Judgment, completer: int | None) -> str:
    """Why a complete item's answer stays: whose answer completed it."""
    if completer == judgment.worker_id:
        return "Your answer completed this item, so it can no longer be undone."
    return "Another worker's answer completed this item since, so yours can no longer be undone."
