"""Next item and skip: handing out items under leases.

The claim walks the partial index `item_serving_order` (job, started desc, priority desc, id) and
stops at the first item that fits the worker: never judged or leased by them, and with a free
slot (accepted judgments + live leases < overlap). It looks at the first `sql.STARTED_WINDOW`
started items, then the fresh ones, then the started ones past the window, so its cost does not
grow with the items the worker already judged (those stay started while they wait for others). On PostgreSQL the row is taken with
`FOR UPDATE SKIP LOCKED`, so concurrent workers pass over each other's rows instead of queueing;
on SQLite every write transaction is `BEGIN IMMEDIATE`, which serializes claims instead. When the
walk finds nothing but an item is left for the worker under another transaction's lock, the claim
says `busy` (ask again), never no_work: a worker's loop ends only when nothing is left. The
statements themselves are in `labeling/sql.py`.

Locking contract: every lease on a regular item is created while its creator holds the item's
row lock, and every judgment on a regular item is accepted under that lock too, so counting
slots under the lock is exact. Gold items have no overlap limit and take no lock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import ApplicationError, Busy, Conflict, NothingLeft, NotFound, NotQualified, PermissionDenied
from marketplace.jobs.models import Item, Job, JobStatus
from marketplace.labeling import gates, sql
from marketplace.labeling.returning import PAGE_LEASES_MAX, lease_page_take, leases_take_back
from marketplace.labeling.models import Lease, LeaseStatus
from marketplace.labeling.selectors import job_missing_requirements, live_lease_q
from marketplace.labeling.serving import jobs_in_serving_order

# Gold draws only decide *when* a gold item is shown; they guard nothing, so `random` will do.
_rng = random.Random()
# A claim found nothing free, but items are left for the worker under other workers' locks.
_BUSY = "Other workers are answering the items left for you at this moment; ask again in a second."
# A re-check fails only when another worker won the same item a moment earlier; after this many
# lost races in one request the job is too busy to promise an item, and the worker may retry.
_MAX_RACES = 20
_LEASE_FIELDS = [
    "id", "job_id", "item_id", "worker_id", "status", "created_at", "expires_at", "finished_at", "page",
]



class ClaimAborted(Conflict):
    """The database refused the claim's lease INSERT (a unique constraint): on PostgreSQL the
    transaction around the claim is aborted and can only roll back, unlike every other refusal."""


_REFUSED = {
    JobStatus.PAUSED: "This job is paused: it hands out no new items until the client resumes it.",
    JobStatus.CANCELLED: "This job was cancelled.",
}


def _insert_lease(
    *, name: str, job: Job, item: Item, worker: User, now: datetime, hold: int | None, page: str | None
) -> Lease | None:
    """Run a lease INSERT (`lease` or `lease_if_free`); None when the re-check refused the item.
    `hold`: a labeling page's first span (its heartbeat renews it), never beyond the job's lease."""
    seconds = job.lease_seconds if hold is None else min(hold, job.lease_seconds)
    expires = now + timedelta(seconds=seconds)
    try:
        row = sql.run(
            name, job=job.pk, item=item.pk, worker=worker.pk, now=now, expires=expires, overlap=job.overlap,
            page=page,
        )
    except IntegrityError:
        # Only the same worker racing itself (two tabs) can hit the one-active-lease constraint.
        raise ClaimAborted("Another request of yours took this item a moment ago; ask again.") from None
    if row is None:
        return None
    lease = Lease.from_db(
        transaction.get_connection().alias, _LEASE_FIELDS,
        [row[0], job.pk, item.pk, worker.pk, LeaseStatus.ACTIVE, now, expires, None, page],
    )
    lease.job, lease.item, lease.worker = job, item, worker
    return lease


def _claim_in(*, job: Job, worker: User, now: datetime, hold: int | None, page: str | None) -> Lease | None:
    """Lease one item of an open job to the worker, or None when nothing is left for them; Busy
    when what is left is held this moment by other workers' requests (ask again shortly).

    Caller holds a transaction, has checked the worker may work on the job and has run the
    `job_for_claim` statement in it (on PostgreSQL that pins the index walk).
    """
    for _ in range(_MAX_RACES):
        # Lock the candidate, skipping rows others hold: concurrent claims never wait or collide.
        item = sql.first(Item, "candidate", job=job.pk, worker=worker.pk, now=now, overlap=job.overlap)
        if item is None:
            _held_check(job=job, worker=worker, now=now)
            return None
        if job.gold_rate > 0 and _rng.random() < float(job.gold_rate) and gates.gold_share_left(job):
            # Some regular work remains (we just found it), so a gold item may be mixed in.
            gold = sql.first(Item, "gold", job=job.pk, worker=worker.pk, fraction=_rng.random())
            if gold is not None:
                return _insert_lease(name="lease", job=job, item=gold, worker=worker, now=now, hold=hold, page=page)
        # Insert only if the item still fits, re-checked by a new statement under our lock; the
        # same statement marks the item started (in progress items are served first).
        lease = _insert_lease(
            name="lease_if_free", job=job, item=item, worker=worker, now=now, hold=hold, page=page
        )
        if lease is not None:
            item.started = True
            return lease
    raise Busy("Every item on offer was taken while we looked; ask again in a moment.")


def _held_check(*, job: Job, worker: User, now: datetime) -> None:
    """The candidate found nothing: raise Busy if that is only because other workers' requests
    hold the rows of items left for this worker (sql.py, candidate_held), so "nothing left"
    (no_work, which ends a worker's loop) is said only when it is true. One more statement on
    that path only, waiting for no lock."""
    if sql.has("candidate_held") and sql.run(
        "candidate_held", job=job.pk, worker=worker.pk, now=now, overlap=job.overlap
    ):
        raise Busy(_BUSY)


def _worker_check(worker: User) -> None:
    if not worker.is_worker:
        raise PermissionDenied("Only worker accounts take items.")
    if worker.suspended_at is not None:
        raise NotQualified("Your account is suspended; contact support.")


def _job_for_claim(*, worker: User, job_id: int, now: datetime) -> Job:
    """The job, every refusal checked in one statement; `own_lease_id`: the worker's live lease,
    `returned_lease_id`: one their closed page returned that still lasts (labeling/returning.py)."""
    job = sql.first(Job, "job_for_claim", job=job_id, worker=worker.pk, now=now)
    if job is None:  # drafts are included here: unpublished jobs do not exist for workers
        raise NotFound("Job not found.")
    if job.blocked:
        raise NotQualified("You are blocked from this job.")
    if job.status == JobStatus.COMPLETED:  # finished, not refused: the crowd simply ran it dry
        raise NothingLeft("This job is completed: every item has its judgments.")
    if job.status != JobStatus.OPEN:
        raise Conflict(_REFUSED.get(job.status, f"This job is {job.status}."))
    if job.unqualified:
        missing = job_missing_requirements(worker=worker, job=job)
        raise NotQualified(
            "This job requires qualifications you do not hold: " + "; ".join(missing) + ".",
            details={"missing": missing},
        )
    return job


@transaction.atomic
def lease_claim(
    *, worker: User, job: Job | int | None = None, ahead_of: int | None = None, hold: int | None = None,
    page: str | None = None,
) -> Lease:
    """Next item: a lease on an item of `job` (or of any open job the worker may work on).

    Idempotent while a lease is live: asking again returns the lease the worker already holds in
    that job, so a page reload does not eat a second slot. Raises NothingLeft (no_work) when no
    regular item is left for this worker; gold is never served on its own. Raises Busy (busy,
    409 with Retry-After) when items are left for the worker but other workers' requests hold
    them this moment (a claim passes over locked rows rather than wait): ask again shortly.

    `ahead_of` (the lease the worker is labeling now, in `job`) asks for the item after it: the
    labeling page fetches it while the worker labels, so the next item shows without a wait. A
    worker then holds at most two live leases in a job; asking again returns the same second one.

    `hold` (seconds): a new lease lives that long at first, not the job's whole lease: the page
    that asked renews it while it is open (leases_extend), so a tab that dies without a word frees
    its items within about `hold` seconds.

    `page`: the labeling page load asking (labeling/returning.py). The lease is that page's, and a
    lease of the worker's that an earlier page gave back as it closed is taken back first.
    """
    lease = _claim(worker=worker, job=job, ahead_of=ahead_of, hold=hold, page=page)
    _planner_restore()
    return lease


@dataclass(frozen=True)
class NextClaim:
    """A submit that carries the worker's next lease asks for lease_claim's choices: the submitted
    lease's job or any job (the serving order), the item after `ahead_of`, `hold` seconds at first,
    for the labeling page load `page`."""

    any_job: bool = False
    ahead_of: int | None = None
    hold: int | None = None
    page: str | None = None


@dataclass(frozen=True)
class NextLease:
    lease: Lease | None  # the worker's next lease, or None and
    refused: ApplicationError | None  # why not, as next-item would refuse


def lease_claim_last(*, worker: User, job_id: int, then: NextClaim) -> NextLease:
    """lease_claim as the last step of the caller's transaction (a submit that carries the worker's
    next lease, flows.work_submit), with no savepoint of its own: one COMMIT serves both.

    Contract: the caller holds a transaction and runs nothing in it after this (on PostgreSQL the
    claim leaves sorts and JIT off until commit, sql.py). Every refusal (NothingLeft, Conflict,
    NotQualified, NotFound) comes after statements that all succeeded and before any write that
    counts (SQLite may have marked an item started), so it is returned and the caller still
    commits what it did before. Busy among them: the items left for the worker are locked by other
    submits in flight (this claim skips them rather than wait while holding the caller's item lock,
    which two submits could do to each other), so the worker asks again once those commit.
    ClaimAborted is raised: the database refused a statement and the transaction can only roll
    back. Locks: after the caller's, a candidate item taken with SKIP
    LOCKED (never waited for), then the gold advisory lock, as in lease_claim.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lease_claim_last runs inside its caller's transaction.")
    try:
        job = None if then.any_job else job_id
        lease = _claim(worker=worker, job=job, ahead_of=then.ahead_of, hold=then.hold, page=then.page)
    except ClaimAborted:
        raise
    except ApplicationError as exc:
        _planner_restore()
        return NextLease(lease=None, refused=exc)
    _planner_restore()
    return NextLease(lease=lease, refused=None)


def _claim(
    *, worker: User, job: Job | int | None, ahead_of: int | None, hold: int | None, page: str | None
) -> Lease:
    _worker_check(worker)
    now = timezone.now()
    if job is None:
        return _claim_any(worker=worker, now=now, hold=hold, page=page)
    job_id = job.pk if isinstance(job, Job) else int(job)
    if ahead_of is None:
        return _claim_one(worker=worker, job_id=job_id, now=now, hold=hold, page=page)
    return _claim_ahead(worker=worker, job_id=job_id, current=ahead_of, now=now, hold=hold, page=page)


def _claim_one(*, worker: User, job_id: int, now: datetime, hold: int | None, page: str | None) -> Lease:
    found = _job_for_claim(worker=worker, job_id=job_id, now=now)
    if found.own_lease_id is not None or found.returned_lease_id is not None:
        # The oldest live one: a reloaded page shows the item that was on screen, not the one
        # it had fetched after it (which its next call, `ahead_of` this one, gets again).
        held = (
            Lease.objects.filter(live_lease_q(now=now), worker=worker, job_id=job_id)
            .select_related("job", "item").order_by("pk").first()
        )
        if held is not None and lease_page_take(lease=held, page=page, now=now):
            return held
        # Returned by an earlier page as it closed (maybe a moment ago, after job_for_claim read).
        taken = leases_take_back(job=found, worker=worker, now=now, page=page, most=PAGE_LEASES_MAX)
        if taken is not None:
            return taken
    _served_check(job=found, worker=worker)
    lease = _claim_in(job=found, worker=worker, now=now, hold=hold, page=page)
    if lease is None:
        raise NothingLeft(
            "Nothing left for you in this job: you have seen every item that still needs work."
        )
    return lease


def _claim_ahead(
    *, worker: User, job_id: int, current: int, now: datetime, hold: int | None, page: str | None
) -> Lease:
    found = _job_for_claim(worker=worker, job_id=job_id, now=now)
    held = (
        Lease.objects.filter(live_lease_q(now=now), worker=worker, job_id=job_id)
        .exclude(pk=current)
        .select_related("job", "item")
        .order_by("-expires_at")
        .first()
    )
    # The one fetched ahead already (or, if `current` ran out, the live one).
    if held is not None and lease_page_take(lease=held, page=page, now=now):
        return held
    if held is not None or found.returned_lease_id is not None:  # one an earlier page fetched ahead
        taken = leases_take_back(job=found, worker=worker, now=now, page=page, most=1, leave=current)
        if taken is not None:
            return taken
    _served_check(job=found, worker=worker)
    # The candidate query skips every item this worker ever leased, `current`'s included.
    lease = _claim_in(job=found, worker=worker, now=now, hold=hold, page=page)
    if lease is None:
        raise NothingLeft("Nothing after this item for you in this job.")
    return lease


def _served_check(*, job: Job, worker: User) -> None:
    """A gate (labeling/gates.py) turns the worker away from this job for now: nothing to claim
    here, as when they have seen every item; they may come back later."""
    if not gates.worker_served(job=job, worker_id=worker.pk):
        raise NothingLeft(
            "Nothing in this job for you right now: it is collecting its remaining judgments from "
            "workers whose answers have agreed more with its consensus. Other jobs may have work."
        )


def _planner_restore() -> None:
    """The claim turned sorts and JIT off for its transaction (see sql.py). If that transaction is
    a caller's, which goes on after us, turn them back on. (A failed lease_claim needs nothing:
    its savepoint's rollback undoes the settings.) lease_claim_last's caller commits next, which
    ends them, unless its own transaction is nested in another (tests)."""
    if len(transaction.get_connection().atomic_blocks) > 1:
        sql.run("planner_reset")


def _claim_any(*, worker: User, now: datetime, hold: int | None, page: str | None) -> Lease:
    """Across jobs, in the serving order (labeling/serving.py): a live lease the worker holds in
    an open job first, then one their page returned (taken back where it may be), then priority, then the organization and the job with the fewest workers
    busy on them now."""
    busy: Busy | None = None
    for candidate in jobs_in_serving_order(worker=worker, now=now):
        if candidate.own_lease_id is not None:
            return Lease.objects.select_related("job", "item").get(pk=candidate.own_lease_id)
        # Re-read through the one-statement check: it also pins the index walk on PostgreSQL.
        job = sql.first(Job, "job_for_claim", job=candidate.job_id, worker=worker.pk, now=now)
        if job is None or job.status != JobStatus.OPEN or job.blocked or job.unqualified:
            continue  # it changed since the list was read
        if candidate.returned_lease_id is not None:  # their page's, returned as it closed
            taken = leases_take_back(job=job, worker=worker, now=now, page=page, most=PAGE_LEASES_MAX)
            if taken is not None:
                return taken
        if not gates.worker_served(job=job, worker_id=worker.pk):
            continue  # this job passes the worker over for now (labeling/gates.py)
        try:
            lease = _claim_in(job=job, worker=worker, now=now, hold=hold, page=page)
        except Busy as exc:  # its items are held this moment: another job may have a free one
            busy = exc
            continue
        if lease is not None:
            return lease
    if busy is not None:
        raise busy
    raise NothingLeft(
        "Nothing left for you right now: no open job you qualify for has items you have not seen."
    )


@transaction.atomic
def lease_release(*, worker: User, lease_id: int) -> Lease:
    """Skip: give the item back at once. Releasing twice is harmless; a finished lease is 409."""
    # Lock the lease: a submit of the same lease must not slip between our check and our write.
    lease = Lease.objects.select_for_update().filter(pk=lease_id, worker=worker).first()
    if lease is None:
        raise NotFound("Lease not found.")
    if lease.status == LeaseStatus.RELEASED:
        return lease
    if lease.status == LeaseStatus.SUBMITTED:
        raise Conflict("This item is already submitted; there is nothing to skip.")
    if lease.status == LeaseStatus.LOST:
        raise Conflict("This lease expired and its item went to someone else.")
    lease.status = LeaseStatus.RELEASED
    lease.finished_at = timezone.now()
    lease.save(update_fields=["status", "finished_at"])
    # Its slot is free now: the claim's first walks may offer the item again (sql.py, full_until).
    Item.objects.filter(pk=lease.item_id, full_until__isnull=False).update(full_until=None)
    return lease


def leases_extend(*, worker: User, lease_ids: list[int], hold: int) -> dict[int, datetime]:
    """An open labeling page's heartbeat: each of the worker's live leases among `lease_ids` lives
    `hold` seconds more from now, never past its job's whole lease from when it was taken (a page
    left open does not keep an item for ever). A lease that already ran out is not revived: its
    slot may be someone else's. Compare-and-set per lease (still active and live), so a submit or
    skip in flight wins. {lease id: its new end} of those extended."""
    now = timezone.now()
    live = (
        Lease.objects.filter(live_lease_q(now=now), worker=worker, pk__in=lease_ids[:PAGE_LEASES_MAX])
        .values_list("pk", "created_at", "expires_at", "job__lease_seconds")
    )
    ends: dict[int, datetime] = {}
    for pk, created_at, expires_at, lease_seconds in live:
        end = max(expires_at, min(now + timedelta(seconds=hold), created_at + timedelta(seconds=lease_seconds)))
        if Lease.objects.filter(live_lease_q(now=now), pk=pk).update(expires_at=end):
            ends[pk] = end
    return ends


def lease_mark_lost(*, worker: User, lease_id: int) -> bool:
    """Record that an expired lease lost its slot, when a caller's rollback undid our marking.

    Compare-and-set: only a still-active, expired lease of this worker changes; True if it did.
    """
    now = timezone.now()
    changed = Lease.objects.filter(
        pk=lease_id, worker=worker, status=LeaseStatus.ACTIVE, expires_at__lte=now
    ).update(status=LeaseStatus.LOST, finished_at=now)
    return bool(changed)
