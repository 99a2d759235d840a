"""Submitting a judgment on a lease: validate, count it once, complete items and jobs.

Locks are taken lease → item → the worker's tally of the job → job (KEY SHARE), always in that
order, so two submits (or a submit and a claim) can never wait on each other in a cycle. No row
is written by every submit of a job: the counts go to the worker's own JobTally row, and the job
row is only KEY SHARE locked, which submits never conflict on (jobs/models.py says why). The
tally comes before the job so that two submits of one worker (a lease fetched ahead) queue on
their tally before either holds the job lock a completing submit upgrades to FOR UPDATE.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from marketplace.commit import on_commit_robust
from marketplace.accounts.models import User
from marketplace.errors import Conflict, NotFound, NotQualified
from marketplace.jobs.models import GoldAnswer, JobStatus
from marketplace.jobs.services import job_complete_if_done
from marketplace.labeling import sql
from marketplace.labeling.models import Judgment, JudgmentStatus, Lease, LeaseStatus
from marketplace.labeling.answers import Answer, Sent, answer_check, labels_save
from marketplace.labeling.seconds import seconds_clean, seconds_stored
from marketplace.labeling.slots import item_settle, settle_early_askable, slot_was_free

# Dynamic overlap's question, asked under the item lock when an item reaches the judgments it
# asked for: (item_id, judgment_count, max_overlap) -> True to collect one more instead of
# completing it. The flow passes quality's answer in; labeling never imports quality.
MoreWanted = Callable[[int, int, int], bool]
# Completes a job whose every item is complete (job id -> anything), run after the submit
# commits; the flow passes one that also settles the job. See Submission.job_may_be_complete.
CompletionCheck = Callable[[int], object]


def _job_complete_check(job_id: int) -> None:
    job_complete_if_done(job_id=job_id)

_NO_LONGER_NEEDED = "This job is complete; answers are no longer needed. Take the next item."


@dataclass(frozen=True)
class Submission:
    """What a submit did, for flows that act on it (pay once, tell browsers, run consensus)."""

    judgment: Judgment
    created: bool  # False when a retried submit returned the judgment saved the first time
    item_completed: bool = False
    job_completed: bool = False
    # The job's judgments, gold included, as this submit saw them (committed ones and its own),
    # for the consensus trigger; None when the submit read no counts (a retry).
    job_judgments: int | None = None
    # Regular items of the job not complete as this submit saw them (None: not read).
    items_left: int | None = None
    # The job's judgments by other workers as this submit saw them (None: not read): at least as
    # many as the fast rule's peers (quality/fast_rule.py), so it skips its reads below a minimum.
    others_judgments: int | None = None

    @property
    def job_may_be_complete(self) -> bool:
        """This submit completed an item but not the job: a concurrent submit may have completed
        the job's last other item unseen by us (and we by it), so whoever commits last must look
        again after commit (billing.settlement.job_complete_if_done). Only the items completed by
        submits in flight at once can hide from us, and each of those holds a database
        connection: with more items left than PostgreSQL takes connections, no one needs to look."""
        near_the_end = self.items_left is None or self.items_left <= IN_FLIGHT_MAX
        return self.item_completed and not self.job_completed and near_the_end


# More submits than this are never in flight at once: each holds one of PostgreSQL's
# connections, and max_connections is far below it (100 by default).
IN_FLIGHT_MAX = 1_000


class LeaseLost(Conflict):
    """A late submit whose slot went to someone else."""


@dataclass(frozen=True)
class _Lost:
    """The lease expired and its slot went to someone else; recorded, then refused (409)."""


def judgment_submit(
    *, worker: User, lease_id: int, label: str | None, seconds_spent: Any = None,
    labels: list[str] | None = None,
) -> Judgment:
    """Record the worker's label for the item of their lease; see judgment_submit_outcome."""
    return judgment_submit_outcome(
        worker=worker, lease_id=lease_id, label=label, seconds_spent=seconds_spent, labels=labels
    ).judgment


def judgment_submit_outcome(
    *,
    worker: User,
    lease_id: int,
    label: str | None,
    seconds_spent: Any = None,
    labels: list[str] | None = None,
    more_wanted: MoreWanted | None = None,
    completion_check: CompletionCheck = _job_complete_check,
    savepoint: bool = True,
) -> Submission:
    """Record the worker's label for the item of their lease.

    A multi-label job takes `labels` (any subset of its label set, in any order) and no `label`;
    a single-label job the reverse (Answer says what is refused).

    Idempotent: a retry with the same label returns the judgment saved first (created=False);
    with another label it is a Conflict. A late submit (lease expired) counts if the item still
    has a free slot; otherwise the lease becomes `lost` (committed with this call's transaction,
    or with the caller's if there is one) and it is a Conflict.

    When the submit completed an item but not the job, `completion_check(job_id)` runs once it
    commits (transaction.on_commit): the job may be done after all (Submission.job_may_be_complete).

    `savepoint=False` (a caller whose own transaction rolls back whole on any exception, as the
    submit flow's does) spares the savepoint a refusal would otherwise roll back to: two
    statements per judgment.
    """
    seconds = None if seconds_spent is None else seconds_clean(seconds_spent)
    with transaction.atomic(savepoint=savepoint):
        outcome = _submit(
            worker=worker, lease_id=lease_id, sent=Sent(label, labels), seconds=seconds,
            more_wanted=more_wanted,
        )
    if isinstance(outcome, _Lost):
        raise LeaseLost(
            "Your time on this item ran out and it went to someone else, so this answer was not "
            "counted. Take the next item."
        )
    if outcome.job_may_be_complete:
        on_commit_robust(_completion_check_if_done, completion_check, outcome.judgment.job_id)
    return outcome


def _completion_check_if_done(check: CompletionCheck, job_id: int) -> None:
    """Run the completion check once the job looks done. Nearly every completed item leaves its
    job open; one plain read (no transaction) tells so, where the check would open a transaction
    and build ORM queries to find the same. A submit committing after our read runs its own."""
    if sql.run("job_looks_done", job=job_id) is not None:
        check(job_id)


def _submit(
    *, worker: User, lease_id: int, sent: Sent, seconds: Decimal | None, more_wanted: MoreWanted | None
) -> Submission | _Lost:
    now = timezone.now()
    # Lock the lease by moving it active -> submitted (compare-and-set): a retried submit or a
    # skip of the same lease waits for us, then finds it no longer active. Then lock a regular
    # item through the counting UPDATE: its slot count must not move while we decide whether
    # this lease still owns a slot (a complete item has none left). Any refusal below raises,
    # which rolls both back.
    lease, counted = _lease_submit_counted(worker=worker, lease_id=lease_id, now=now)
    if lease is None:
        return _not_active(worker=worker, lease_id=lease_id, sent=sent)
    answer = answer_check(sent, choices=_json(lease.job_labels), multi=bool(lease.job_multi_label))
    label = answer.label
    if lease.job_status == JobStatus.CANCELLED:
        raise Conflict("This job was cancelled; answers are no longer accepted.")
    if lease.job_status == JobStatus.COMPLETED:
        # Only a gold lease can still be held here (every regular item is complete), and the
        # job's account is closed: say so rather than let billing call it a lack of funds.
        raise Conflict(_NO_LONGER_NEEDED)
    if worker.suspended_at is not None:
        raise NotQualified("Your account is suspended; contact support.")
    if lease.blocked:
        raise NotQualified("You are blocked from this job.")
    if lease.item_is_gold:
        return _accept_gold(lease=lease, answer=answer, seconds=seconds, now=now)

    now = timezone.now()  # read under the lock, so any claim that saw this lease expired is visible
    if counted is None or (
        lease.expires_at <= now
        and not slot_was_free(lease=lease, judgments_before=counted[0] - 1, extra=counted[2], now=now)
    ):
        sql.run("lease_finish", lease=lease.pk, status=LeaseStatus.LOST, now=now)
        return _Lost()
    completed = bool(counted[1])
    early = not completed and more_wanted is not None and settle_early_askable(lease=lease, counted=counted, now=now)
    if (completed or early) and more_wanted is not None and lease.job_max_overlap is not None:
        # Dynamic overlap: asked after the judgment is written, so the posterior includes it, and
        # before the tally counts the item complete; still under the lock. `early`: below the
        # minimum, where a trusted model's vote may settle the item (labeling/slots.py).
        judgment = _judgment_create(lease=lease, label=label, seconds=seconds, now=now)
        labels_save(judgment, answer)
        wanted = more_wanted(lease.item_id, counted[0], lease.job_max_overlap)
        if completed and wanted:
            sql.run("item_want_more", item=lease.item_id)
        elif early and not wanted:
            item_settle(item_id=lease.item_id)
        completed = not wanted
        counts = _job_count(
            job_id=lease.job_id, worker_id=lease.worker_id, judgments=1, completed=int(completed)
        )
    else:
        judgment, counts = _judgment_create_counted(
            lease=lease, label=label, seconds=seconds, now=now, judgments=1, completed=int(completed)
        )
        labels_save(judgment, answer)
    return Submission(
        judgment=judgment, created=True, item_completed=completed, job_completed=counts.completed,
        job_judgments=counts.judgments, items_left=counts.items_left, others_judgments=counts.others,
    )


def _lease_submit_counted(
    *, worker: User, lease_id: int, now: datetime
) -> tuple[Lease | None, tuple[Any, ...] | None]:
    """The submitted lease and, for a regular item with a slot left, (judgments, complete, extra)
    after counting ours: one statement on PostgreSQL (sql.py), two on SQLite."""
    if not sql.has("lease_submit_count"):
        lease = sql.first(Lease, "lease_submit", lease=lease_id, worker=worker.pk, now=now)
        if lease is None or lease.item_is_gold:
            return lease, None
        return lease, sql.run("item_count", item=lease.item_id, overlap=lease.job_overlap)
    lease = sql.first(Lease, "lease_submit_count", lease=lease_id, worker=worker.pk, now=now)
    if lease is None or lease.item_judgments is None:
        return lease, None
    return lease, (lease.item_judgments, lease.item_complete, lease.item_extra)


def _not_active(*, worker: User, lease_id: int, sent: Sent) -> Submission | _Lost:
    """The lease is not the worker's, or already finished (its status no longer changes)."""
    lease = Lease.objects.select_related("job").filter(pk=lease_id, worker=worker).first()
    if lease is None:
        raise NotFound("Lease not found.")
    answer = answer_check(sent, choices=lease.job.labels, multi=lease.job.multi_label)
    if lease.status == LeaseStatus.SUBMITTED:
        return _resubmitted(lease=lease, answer=answer)
    if lease.status == LeaseStatus.RELEASED:
        raise Conflict("You skipped this item; it can no longer be submitted.")
    if lease.status == LeaseStatus.RETURNED:
        raise Conflict("This item was given back when its page closed; it can no longer be submitted here.")
    return _Lost()


def _json(value: Any) -> Any:
    """JSON read by raw SQL arrives as text (Django decodes it in the field, not the driver)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def _resubmitted(*, lease: Lease, answer: Answer) -> Submission:
    """A retry: the judgment saved the first time, unless the label differs."""
    judgment = Judgment.objects.get(lease_id=lease.pk)
    if answer.labels is not None and judgment.labels != answer.labels:
        raise Conflict(
            f"This item is already submitted with the labels {judgment.labels!r}.",
            details={"judgment": judgment.pk},
        )
    if judgment.label != answer.label:
        raise Conflict(
            f"This item is already submitted with the label {judgment.label!r}.",
            details={"judgment": judgment.pk},
        )
    return Submission(judgment=judgment, created=False)


_JUDGMENT_FIELDS = [
    "id", "job_id", "item_id", "worker_id", "lease_id", "label", "is_gold", "is_correct",
    "status", "seconds_spent", "created_at", "instructions_version",
]


def _judgment_create(
    *, lease: Lease, label: str, seconds: Decimal | None, now: datetime, is_correct: bool | None = None
) -> Judgment:
    """Insert the judgment (the lease is already marked submitted); returns the saved Judgment."""
    params = _judgment_params(lease=lease, label=label, seconds=seconds, now=now, is_correct=is_correct)
    (judgment_id,) = _judgment_insert("judgment", params)
    return _judgment_saved(judgment_id, params)


def _judgment_create_counted(
    *, lease: Lease, label: str, seconds: Decimal | None, now: datetime, is_correct: bool | None = None,
    judgments: int = 0, gold_judgments: int = 0, completed: int = 0,
) -> tuple[Judgment, _Counts]:
    """_judgment_create, then _job_count with these counts: one round trip on PostgreSQL."""
    if not sql.has("judgment_tally_job_status"):
        judgment = _judgment_create(lease=lease, label=label, seconds=seconds, now=now, is_correct=is_correct)
        return judgment, _job_count(
            job_id=lease.job_id, worker_id=lease.worker_id, judgments=judgments,
            gold_judgments=gold_judgments, completed=completed,
        )
    params = _judgment_params(lease=lease, label=label, seconds=seconds, now=now, is_correct=is_correct)
    row = _judgment_insert("judgment_tally_job_status", {
        **params, "shard": lease.worker_id, "judgments": judgments, "gold_judgments": gold_judgments,
        "completed": completed,
    })
    return _judgment_saved(row[0], params), _counts(row[1:], job_id=lease.job_id, completed=completed)


def _judgment_params(
    *, lease: Lease, label: str, seconds: Decimal | None, now: datetime, is_correct: bool | None
) -> dict[str, Any]:
    return {
        "job": lease.job_id, "item": lease.item_id, "worker": lease.worker_id, "lease": lease.pk,
        "label": label, "is_gold": bool(lease.item_is_gold), "is_correct": is_correct,
        "seconds": seconds_stored(seconds, start=lease.created_at, now=now), "now": now,
        # The version the lease was claimed under (sql.py stamps it): what the worker was shown.
        "version": lease.instructions_version,
    }


def _judgment_insert(name: str, params: dict[str, Any]) -> tuple[Any, ...]:
    try:
        row = sql.run(name, **params)
    except IntegrityError:
        # (item, worker) is unique: claims never hand an item back to whoever judged it, so this
        # is a judgment that arrived some other way; refuse rather than count it twice.
        raise Conflict("You already judged this item.") from None
    if row is None:  # only the merged statement can return nothing: the job row is gone
        raise Conflict("This job was cancelled; answers are no longer accepted.")
    return row


def _judgment_saved(judgment_id: int, p: dict[str, Any]) -> Judgment:
    return Judgment.from_db(
        transaction.get_connection().alias, _JUDGMENT_FIELDS,
        [judgment_id, p["job"], p["item"], p["worker"], p["lease"], p["label"], p["is_gold"],
         p["is_correct"], JudgmentStatus.ACCEPTED, p["seconds"], p["now"], p["version"]],
    )


def _accept_gold(*, lease: Lease, answer: Answer, seconds: Decimal | None, now: datetime) -> Submission:
    """Gold has no overlap limit, so no item lock: score it now and count it apart.

    A multi-label gold answer is a set; the judgment is correct when it decides every label right
    (ticks exactly the gold set). README "Multi-label jobs" says how accuracy reads per label."""
    label = answer.label
    if answer.labels is None:
        known = GoldAnswer.objects.filter(item_id=lease.item_id).values_list("label", flat=True).first()
        correct = None if known is None else label == known
    else:
        gold = GoldAnswer.objects.filter(item_id=lease.item_id).values_list("labels", flat=True).first()
        correct = None if gold is None else set(answer.labels) == set(gold)
    judgment, counts = _judgment_create_counted(
        lease=lease, label=label, seconds=seconds, now=now, is_correct=correct, gold_judgments=1
    )
    labels_save(judgment, answer)
    return Submission(
        judgment=judgment, created=True, job_judgments=counts.judgments, others_judgments=counts.others
    )


@dataclass(frozen=True)
class _Counts:
    completed: bool  # this submit completed the job
    judgments: int  # the job's judgments, gold included, as we see them
    items_left: int  # regular items not complete, as we see them
    others: int | None = None  # judgments of other workers, as we see them (None: not read)


def _job_count(
    *, job_id: int, worker_id: int, judgments: int = 0, gold_judgments: int = 0, completed: int = 0
) -> _Counts:
    """Add to the worker's tally of the job (see jobs.models.JobTally): whether that completed
    the job, with the job's counts as we see them. Locks, after lease → item: the worker's tally row (through the upsert), then the job
    row in KEY SHARE mode, which no other submit's lock conflicts with."""
    # One statement on PostgreSQL (sql.py): the upsert, then KEY SHARE (not an UPDATE) on the
    # job: a cancel or completion (FOR UPDATE) waits for us, and we read the status it left, not
    # the one the lease read before it committed.
    row = sql.run(
        "tally_add_job_status", job=job_id, shard=worker_id, judgments=judgments,
        gold_judgments=gold_judgments, completed=completed,
    )
    return _counts(row, job_id=job_id, completed=completed)


def _counts(row: tuple[Any, ...] | None, *, job_id: int, completed: int) -> _Counts:
    """What the tally statement read (the job's status, size, items completed, judgments seen)."""
    if row is None or row[0] == JobStatus.CANCELLED:
        raise Conflict("This job was cancelled; answers are no longer accepted.")
    status, items, completed_items, seen = row[:4]
    others = int(seen) - int(row[4]) if len(row) > 4 else None  # SQLite's two statements: not read
    if status == JobStatus.COMPLETED:
        # Only gold gets here: the submit that completed the job committed while we waited for
        # its lock (our first read still saw it open). Its escrow is settled; refuse as above.
        raise Conflict(_NO_LONGER_NEEDED)
    if not (completed and status == JobStatus.OPEN):
        return _Counts(False, int(seen), items - completed_items, others)
    # Committed tallies plus ours. Two submits completing the last two items at once each miss
    # the other's (uncommitted) item, so neither completes the job here: the flow re-checks after
    # commit (Submission.job_may_be_complete; billing.settlement.job_complete_if_done).
    if completed_items < items:
        return _Counts(False, int(seen), items - completed_items, others)
    # Every item is complete: close the job. Its FOR UPDATE waits for the submits in flight (they
    # hold KEY SHARE only, and none of them can also see the job complete: each still lacks the
    # item we just completed), keeps imports out until we commit, and sums again after the wait
    # (a block committed meanwhile may have reopened items).
    return _Counts(job_complete_if_done(job_id=job_id), int(seen), items - completed_items, others)

