"""Flows: one user action that touches several apps, told top to bottom in one transaction.

Apps depend one way (accounts ← jobs ← labeling ← quality ← billing); a flow sits above them all
and calls each app's services in order, so no app imports a later one and no signal hides a step.
Views call a flow where an action crosses apps, and a service where it does not. Pause and
resume move no money but are flows too: browsers hear of them (marketplace/realtime, on commit).

Money (billing) rides along with the action that causes it, in the same transaction:
- publish opens the job's escrow (items × price); without the funds nothing changes (402);
- importing items into an open or paused job escrows the new items;
- asking for more judgments on chosen items (the data browser) escrows their worst-case pay
  (flows_more.py);
- each new judgment earns its pay before quality assesses it, so a block the assessment
  triggers withdraws that pay too; a retried submit pays nothing (the first one paid, and
  judgment_pay is idempotent per judgment anyway). The pay is owed from the escrow, which
  publishing filled for every item's worst case; billing/posting.py moves it into the ledger in
  batches, so no two submits of a job write one row;
- completion and cancellation check the tier's quality promise on held-out gold (a shortfall
  credits the client) and settle the job (charge completed items − credit, + expert reviews
  and more judgments the client asked for and got; refund the rest);
- blocking a worker (automatic or by an admin) withdraws the pending pay of the dropped judgments
  (a rule's block at most QUORUM_WITHDRAW_REVIEW_SHARE of it without an admin: flows_appeals.py).

The client hears of it in the same transaction too (marketplace/notifications: webhooks and
e-mail, queued in an outbox and sent once it commits): published, paused, resumed, completed,
cancelled, and a missed quality promise. (Final results, job.consensus_ready, follow from the
notifications sweep: the completion run executes outside any flow.)

A job without a budget cannot pay: billing.judgment_pay raises FundsExhausted ("no open budget")
rather than let work go unpaid, and the submit flow then pauses the job like any exhausted one.
Every publish goes through job_publish, so only a job published before billing existed can meet
this; `job_escrow_open` gives it a budget (seed_demo does so for the demo's job).

Locks follow one order everywhere: lease → item → the worker's job tally → job → budget →
earnings → ledger accounts (billing/services.py says how each money service keeps it). A submit
holds the job in KEY SHARE mode only, which no other submit waits for, and takes no budget, no
account and only its own worker's pay; status moves (publish, pause, cancel, completion) take
the job FOR UPDATE and so wait for the submits in flight. A submit that carries the worker's
next lease claims it last, in the same transaction: a candidate item with SKIP LOCKED (it never
waits, so it may come after the job), the new lease, and the gold advisory lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from marketplace.commit import on_commit_robust
from marketplace.accounts.acting import client_action_check, worker_action_check
from marketplace.accounts.models import User
from marketplace.billing import holding, restoring, reversals, settlement
from marketplace.billing import selectors as billing_selectors
from marketplace.billing import services as billing
from marketplace.billing.models import Tier
from marketplace.billing.services import FundsExhausted
from marketplace.errors import ApplicationError, Conflict, NotFound
from marketplace.jobs import importing
from marketplace.jobs.models import Job, JobStatus
from marketplace.jobs.predictions import ModelName
from marketplace.jobs import services as job_services
from marketplace.jobs.requirements import job_reach_check
from marketplace.jobs.services import Requirement, job_terms_fix, job_transition
from marketplace.labeling.models import Judgment, Lease
from marketplace.labeling.services import (
    LeaseLost, NextClaim, NextLease, Withdrawal, judgment_submit_outcome, judgment_withdraw,
    lease_claim_last, lease_mark_lost,
)
from marketplace.notifications import job_events
from marketplace.quality import appeals, overlap
from marketplace.quality import services as quality
from marketplace.quality import tasks
from marketplace.quality.rules import rules_merge
from marketplace.quality.services import BlockOutcome
from marketplace.realtime import events

# Statuses whose jobs hold an open escrow that new items must be added to.
_ESCROWED = (JobStatus.OPEN, JobStatus.PAUSED)


def _owner_check(*, job: Job, user: User) -> None:
    client_action_check(user=user)  # staff see a client's job, never act on it (accounts/acting.py)
    # The views already scope the lookup; a flow called from elsewhere must not cross tenants.
    if user.organization_id != job.organization_id:
        raise NotFound("Job not found.")


def _tier_check(fields: dict[str, Any]) -> None:
    """Only a tier the marketplace offers (billing's tiers); unknown ones would fail at publish."""
    if "tier" not in fields or fields["tier"] in (None, ""):
        return  # the default tier
    offered = [tier.slug for tier in billing_selectors.tier_list()]
    if str(fields["tier"]).strip() not in offered:
        raise ApplicationError(f"Unknown tier {str(fields['tier'])[:40]!r}; choose one of {', '.join(offered)}.")


def _pay_check(job: Job, fields: dict[str, Any]) -> None:
    """The pay is checked against the job's tier whenever either is set, not first at publish: a
    draft moved to a dearer tier keeps its pay, which may now be under that tier's (the portal's
    wizard sets the tier's pay along with the tier)."""
    if "reward_per_judgment" not in fields and "tier" not in fields:
        return
    tier = Tier.objects.filter(slug=job.tier).first()
    if tier is not None:
        billing.job_pay_check(job=job, tier=tier)


@transaction.atomic
def job_create(*, user: User, fields: dict[str, Any], requirements: Sequence[Requirement] = ()) -> Job:
    """A draft job (jobs.services.job_create), its tier checked against the tiers on offer and
    its pay against the tier's."""
    client_action_check(user=user)
    _tier_check(fields)
    job = job_services.job_create(user=user, fields=fields, requirements=requirements)
    _pay_check(job, fields)
    return job


@transaction.atomic
def job_update(
    *, job: Job, user: User, fields: dict[str, Any], requirements: Sequence[Requirement] | None = None
) -> Job:
    """Edit a draft (jobs.services.job_update), its tier checked against the tiers on offer and
    its pay against the tier's."""
    client_action_check(user=user)
    _tier_check(fields)
    job = job_services.job_update(job=job, user=user, fields=fields, requirements=requirements)
    _pay_check(job, fields)
    return job


def job_publish(*, job: Job, user: User) -> Job:
    """Open a draft job to workers and move its maximum cost from the balance into escrow.

    All or nothing: InsufficientFunds (402, details name the amount missing) leaves the job a
    draft and the balance untouched. Lock order: job (transition) → budget → accounts.
    """
    _owner_check(job=job, user=user)
    # A job gated on a qualification nobody holds and nobody can earn (no exam) is refused here.
    job_reach_check(job=job)
    with transaction.atomic():
        job = job_transition(job=job, to=JobStatus.OPEN, expected_from=frozenset({JobStatus.DRAFT}))
        budget = billing.job_escrow_open(job=job)
        _job_terms_fix(job=job, tier=budget.tier)
        job_events.job_published_record(job=job)
        # Live updates go out on commit (marketplace/realtime/events.py): never a rolled-back state.
        events.job_status(job_id=job.pk, status=job.status)
        events.work_available(job_id=job.pk)
    return job


def _job_terms_fix(*, job: Job, tier: Tier) -> None:
    """Fix the promise and quality rules at publish, as price and pay are (on the budget): the
    tier's defaults, the admin's edits of the tier, then the job's own overrides."""
    rules = rules_merge(tier=job.tier, overrides={**(tier.quality_rules or {}), **job.quality_rules})
    job_terms_fix(job=job, promised_accuracy=tier.promised_accuracy, rules=rules.as_dict())
    job.refresh_from_db(fields=["promised_accuracy", "rules_at_publish"])


def job_cancel(*, job: Job, user: User) -> Job:
    """Cancel a job and settle it: completed items are charged, the unspent escrow returns."""
    _owner_check(job=job, user=user)
    with transaction.atomic():
        job = job_transition(job=job, to=JobStatus.CANCELLED)
        settlement.job_finalize(job=job)  # a draft has no budget: nothing to settle
        if job.published_at is not None:  # a draft's cancellation is nobody's news
            job_events.job_ended_record(job_id=job.pk)
        events.job_status(job_id=job.pk, status=job.status)
    if job.published_at is not None:
        # The client paid for the items completed so far: their labels get a final run as a
        # completed job's do (nothing runs for a job that collected no judgment).
        tasks.consensus_on_completion(job_id=job.pk)
    return job


def job_pause(*, job: Job, user: User) -> Job:
    """Pause an open job. No money moves; it is a flow because browsers hear of it (on commit)."""
    _owner_check(job=job, user=user)
    with transaction.atomic():
        job = job_transition(job=job, to=JobStatus.PAUSED, expected_from=frozenset({JobStatus.OPEN}))
        job_events.job_paused_record(job=job, reason="client")
        events.job_status(job_id=job.pk, status=job.status)
    return job


def job_resume(*, job: Job, user: User) -> Job:
    """Resume a paused job; workers hear of the work again (on commit)."""
    _owner_check(job=job, user=user)
    with transaction.atomic():
        job = job_transition(job=job, to=JobStatus.OPEN, expected_from=frozenset({JobStatus.PAUSED}))
        job_events.job_resumed_record(job=job)
        events.job_status(job_id=job.pk, status=job.status)
        events.work_available(job_id=job.pk)
    return job


def items_import(
    *, job: Job, payload: importing.Payload, fmt: str, gold: bool, model: ModelName | None = None
) -> int:
    """Import a file into a job; new regular items of an open or paused job are escrowed at once,
    in the same transaction, so an import the balance cannot cover (402) adds nothing.

    The file is parsed before any query of this transaction, so no lock is held while parsing;
    item_bulk_create then takes the job lock, which keeps the status read below current.
    """
    with transaction.atomic():
        imported = importing.items_import(
            job=job, payload=payload, fmt=fmt, gold=gold, model=model
        )
        status = Job.objects.values_list("status", flat=True).get(pk=job.pk)
        if imported and not gold and status in _ESCROWED:
            billing.job_escrow_open(job=job)
        if imported and not gold:
            events.job_progress(job_id=job.pk)  # items_total (and the budget) changed
    return imported


@dataclass(frozen=True)
class WorkSubmitted:
    """What a worker's submit did, for the response."""

    judgment: Judgment
    created: bool  # False for a retried submit that returned the first answer
    feedback: dict[str, Any] | None  # a missed gold item's right answer, where the job shows it
    next: NextLease | None = None  # asked for (`then`): the next lease, or why there is none


def work_submit(
    *, worker: User, lease_id: int, label: str | None, seconds_spent: Any = None,
    labels: list[str] | None = None, then: NextClaim | None = None,
) -> WorkSubmitted:
    """A worker submits a label: count it, pay it, score it, act on quality rules, settle.

    FundsExhausted (the job has no open budget to pay from) rolls the whole submit back, pauses the
    job in a transaction of its own, and reaches the worker as 409 funds_exhausted.

    `then` also claims the worker's next lease, last, in the same transaction: one COMMIT per
    judgment. Only a submit that got this far claims (every refusal above rolls back first), and
    a refused claim (nothing left, the job paused or completed, blocked by this very answer) is
    returned without undoing the answer (labeling.claiming.lease_claim_last, which says its locks).
    """
    worker_action_check(worker=worker)
    try:
        with transaction.atomic():
            judge = overlap.OverlapJudge()
            submission = judgment_submit_outcome(
                worker=worker, lease_id=lease_id, label=label, seconds_spent=seconds_spent,
                labels=labels, more_wanted=judge.more_wanted, completion_check=_job_complete_after_commit,
                savepoint=False,  # any refusal rolls this whole transaction back anyway
            )
            judgment = submission.judgment
            if submission.created:
                # Pay first: a block the assessment triggers then withdraws this pay as well.
                # fresh: our submit created the judgment and holds the worker's tally row.
                billing.judgment_pay(judgment=judgment, fresh=True)
                # Gold score, quality rules (blocks drop judgments and reopen items), answer speed.
                assessment = quality.judgment_assess(
                    judgment=judgment, others_judgments=submission.others_judgments
                )
                if assessment.blocked:
                    _blocked_pay_reverse(job_id=judgment.job_id, worker_id=judgment.worker_id)
                    events.quality_alert(  # reason: the block's QualityEvent, read after commit
                        worker_id=worker.pk, job_id=judgment.job_id, action="blocked",
                        username=worker.username,
                    )
                if assessment.flagged:
                    events.quality_alert(
                        worker_id=worker.pk, job_id=judgment.job_id, action="flagged",
                        username=worker.username,
                    )
                # Items that hit maximum overlap still uncertain go to expert review.
                judge.queue_uncertain()
                tasks.consensus_after_submit(submission=submission)
                if submission.job_completed:
                    settlement.job_finalize(job=Job.objects.get(pk=judgment.job_id))
                    job_events.job_ended_record(job_id=judgment.job_id)
                    events.job_status(job_id=judgment.job_id, status=JobStatus.COMPLETED)
                events.job_progress(job_id=judgment.job_id)  # throttled per job, sent on commit
                feedback = assessment.feedback
            else:
                # A retry: the first submit paid in its own transaction; nothing more to pay.
                feedback = quality.gold_feedback_for(judgment=judgment)
            following = (  # last: nothing may run between the claim and the commit
                None if then is None else lease_claim_last(worker=worker, job_id=judgment.job_id, then=then)
            )
    except LeaseLost:
        # The refusal rolled the transaction back; record the lost lease on its own.
        lease_mark_lost(worker=worker, lease_id=lease_id)
        raise
    except FundsExhausted as exc:
        _job_pause_exhausted(job_id=exc.details.get("job") or _lease_job_id(lease_id))
        raise
    return WorkSubmitted(judgment=judgment, created=submission.created, feedback=feedback, next=following)


def work_undo(*, worker: User, judgment_id: int, hold: int | None = None, page: str | None = None) -> Withdrawal:
    """A worker undoes their last answer (labeling/undoing.py says when it may): the judgment is
    withdrawn, its counts come off, its pay goes back to the escrow through the ledger (billing
    reversals), it leaves the worker's quality figures, and the lease is theirs again for `hold`
    seconds, the labeling page `page`'s. All or nothing: any refusal (409) leaves everything as it was.

    Locks: lease → item → the worker's tally → job (KEY SHARE) → budget → earning → accounts →
    the worker's quality rows: the submit's order, with billing's between."""
    worker_action_check(worker=worker)
    with transaction.atomic():
        withdrawal = judgment_withdraw(worker=worker, judgment_id=judgment_id, hold=hold, page=page)
        reversals.judgment_pay_withdraw(judgment=withdrawal.judgment)
        quality.judgment_unassess(judgment=withdrawal.judgment)
        events.job_progress(job_id=withdrawal.judgment.job_id)  # one judgment fewer, sent on commit
    return withdrawal


def _job_complete_after_commit(job_id: int) -> None:
    """A submit completed an item but could not see its job complete; another submit completing
    the last other item at once could not either (each missed the other's uncommitted item). So
    each checks again once committed, in a new transaction: the last to commit sees every item.
    Completes and settles the job if it is done (billing.settlement) and queues job.completed in
    that transaction, then tells browsers."""
    if settlement.job_complete_if_done(job_id=job_id, then=job_events.job_ended_record):
        events.job_status(job_id=job_id, status=JobStatus.COMPLETED)  # autocommit: sent at once
        tasks.consensus_on_completion(job_id=job_id)


def _blocked_pay_reverse(*, job_id: int, worker_id: int) -> None:
    """The assessment blocked the worker: withdraw the pay of what it dropped, now and again
    after commit (the block drops judgments on items other submits held, once they commit;
    this callback is registered after the block's, so it runs after it)."""
    # Capped (QUORUM_WITHDRAW_REVIEW_SHARE): a larger withdrawal waits for an admin's review.
    restoring.rule_pay_reverse(job_id=job_id, worker_id=worker_id)
    on_commit_robust(_pay_reverse_after_commit, job_id=job_id, worker_id=worker_id)


def _pay_reverse_after_commit(*, job_id: int, worker_id: int) -> None:
    with transaction.atomic():
        restoring.rule_pay_reverse(job_id=job_id, worker_id=worker_id)


def _lease_job_id(lease_id: int) -> int | None:
    return Lease.objects.filter(pk=lease_id).values_list("job_id", flat=True).first()


def _job_pause_exhausted(*, job_id: int | None) -> None:
    """Pause a job whose escrow ran out (compare-and-set OPEN → PAUSED): the first refused submit
    pauses it; later ones (leases handed out before the pause) find it paused already. The
    client is told (job.paused, reason "funds", and an e-mail) in the pausing transaction."""
    job = Job.objects.filter(pk=job_id).first() if job_id is not None else None
    if job is None:
        return
    try:
        with transaction.atomic():
            job = job_transition(job=job, to=JobStatus.PAUSED, expected_from=frozenset({JobStatus.OPEN}))
            job_events.job_paused_record(job=job, reason="funds")
    except Conflict:
        pass  # paused, completed or cancelled meanwhile: nothing left to stop
    else:
        events.job_status(job_id=job.pk, status=JobStatus.PAUSED)  # committed: sent at once


def worker_block(*, job: Job, worker: User, reason: str, actor: User) -> BlockOutcome:
    """An admin blocks a worker from a job: their judgments there are dropped, the items reopen,
    and the pay of dropped judgments still pending returns to the job's escrow (the policy in
    billing.services.DROPPED_JUDGMENT_PAY_POLICY). Locks: the pair's pending withdrawal
    reviews → items → job → budget → earnings (README's lock order: a held withdrawal being
    settled comes first, so a decision on it, review → budget, never waits the other way round)."""
    with transaction.atomic():
        reviews = appeals.withdrawal_reviews_lock(job_id=job.pk, worker_id=worker.pk)
        outcome = quality.worker_block(job=job, worker=worker, reason=reason, actor=actor)
        # Final: it also decides a rule's withdrawal still under review (billing/holding.py).
        holding.admin_block_pay_withdraw(block_event=outcome.event, reviews=reviews)
        events.quality_alert(
            worker_id=worker.pk, job_id=job.pk, action="blocked", reason=reason,
            username=worker.username,
        )
        events.job_progress(job_id=job.pk)  # the dropped judgments reopened items
    return outcome


def worker_unblock(*, job: Job, worker: User, reason: str, actor: User) -> None:
    """Lift a block. Dropped judgments stay dropped, and their withdrawn pay stays withdrawn (an
    upheld appeal, flows_appeals.appeal_decide, is what gives it back)."""
    quality.worker_unblock(job=job, worker=worker, actor=actor, reason=reason)
    events.quality_alert(
        worker_id=worker.pk, job_id=job.pk, action="unblocked", reason=reason,
        username=worker.username,
    )
