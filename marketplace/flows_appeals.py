"""Flows of appeals and of the admin review of large withdrawals: each decision, top to bottom,
in one transaction (beside marketplace/flows.py, in the same layer).

- A worker files an appeal (quality.appeals.appeal_file): an automatic block or a missed gold
  answer, within QUORUM_APPEAL_DAYS. The job's client (their organization) or an admin decides.
- Rejected: nothing changes but the appeal's status and note.
- Upheld, block: the block is lifted (quality.services.worker_unblock: the gold record starts
  over), this block's withdrawal still waiting for review is dismissed, and what it withdrew comes back
  through the ledger (billing/restoring.py: Quorum pays it, available at once).
- Upheld, gold: the gold answer is corrected (to one of the job's labels) or the item retired;
  every answer to it is rescored, and every automatic block in the job that no longer holds on
  the rescored answers is lifted with its pay restored, as above.
- A rule's block that would withdraw more than QUORUM_WITHDRAW_REVIEW_SHARE of a worker's pay in
  a job holds the withdrawal (billing.restoring.rule_pay_reverse); an admin approves it (the pay
  is withdrawn as any block's) or dismisses it (the pay stays; the block stands). A job that
  settles first holds that pay out of the worker's reach (billing/holding.py) until the admin
  decides.

Locks, in the order of flows.py: the appeal (or review) row first (two deciders: one decides,
the other gets 409), then the gold answer, the workers' stats and block rows, then billing's
budget → earnings → ledger accounts. Browsers hear of lifted blocks on commit.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from marketplace.accounts.models import User
from marketplace.billing import holding, restoring
from marketplace.errors import PermissionDenied
from marketplace.jobs.models import Job
from marketplace.accounts import services as accounts
from marketplace.labeling.models import JobBlock, Lease, LeaseStatus
from marketplace.labeling.services import leases_end_for_worker
from marketplace.quality import appeals
from marketplace.quality import services as quality
from marketplace.quality.models import Appeal, QualityEvent, WithdrawalReview
from marketplace.realtime import events


def appeal_decide(
    *, appeal_id: int, actor: User, upheld: bool, note: str = "", gold_action: str = "", gold_label: str = ""
) -> Appeal:
    """Decide an open appeal (module docstring). 404 outside the actor's organization, 409 when
    already decided, 400 on a bad note or gold correction (checked before anything is written)."""
    with transaction.atomic():
        appeal = appeals.appeal_lock(appeal_id=appeal_id, actor=actor)
        gold = appeal.kind == Appeal.Kind.GOLD
        appeals.decision_check(upheld=upheld, note=note, gold=gold, gold_action=gold_action, gold_label=gold_label)
        outcome: dict[str, Any] = {}
        done_action = done_label = ""
        if upheld and not gold:
            outcome = {"lifted": [_block_lift(job=appeal.job, worker=appeal.worker, actor=actor, appeal=appeal,
                                              block_event=appeal.block_event)]}
        elif upheld:
            assert appeal.judgment is not None
            fix = appeals.gold_fix(job=appeal.job, item_id=appeal.judgment.item_id, action=gold_action,
                                   label=gold_label)
            outcome = {"gold": {"item": fix.item_id, "action": fix.action, "label": fix.label},
                       "rescored": sorted(set(fix.workers)),
                       "lifted": _blocks_recheck(job=appeal.job, worker_ids=fix.workers, actor=actor, appeal=appeal)}
            done_action, done_label = fix.action, fix.label
        appeals.appeal_close(appeal=appeal, actor=actor, upheld=upheld, note=note, outcome=outcome,
                             gold_action=done_action, gold_label=done_label)
        QualityEvent.objects.create(
            job=appeal.job, worker=appeal.worker, kind=QualityEvent.Kind.APPEAL_DECIDED, automatic=False,
            actor=actor, reason=f"{appeal.get_kind_display()} appeal {appeal.status}." + (f" {note.strip()}" if note.strip() else ""),
            evidence={"appeal": appeal.pk, **outcome},
        )
    return appeal


def _block_lift(
    *, job: Job, worker: User, actor: User, appeal: Appeal, block_event: QualityEvent | None
) -> dict[str, Any]:
    """Lift the worker's block in the job and give back what that block (`block_event`)
    withdrew: never what an earlier block withdrew (an admin's is final)."""
    reason = f"Appeal {appeal.pk} upheld: the automatic block is lifted and the withdrawn pay restored."
    standing = appeals.block_event_latest(job_id=job.pk, worker_id=worker.pk)
    # Only the appealed block is lifted: an admin's block since (final) stands.
    appealed_stands = block_event is None or standing is None or standing.pk == block_event.pk
    if appealed_stands and JobBlock.objects.filter(job=job, worker=worker).exists():
        quality.worker_unblock(job=job, worker=worker, actor=actor, reason=reason)
        events.quality_alert(worker_id=worker.pk, job_id=job.pk, action="unblocked", reason=reason,
                             username=worker.username)
    appeals.withdrawal_reviews_dismiss(job_id=job.pk, worker_id=worker.pk, actor=actor, note=reason,
                                       block_event_id=block_event.pk if block_event is not None else None)
    restored = restoring.Restored()
    if block_event is not None:  # an appeal filed before appeals named their block restores nothing
        restored = restoring.worker_job_pay_restore(
            job_id=job.pk, worker_id=worker.pk, block_event_id=block_event.pk,
            reference=f"appeal:{appeal.pk}:restore:{worker.pk}",
        )
    return {"worker": worker.pk, "earnings": restored.earnings, "amount": str(restored.amount),
            "paid_now": str(restored.paid_now)}


def _blocks_recheck(*, job: Job, worker_ids: list[int], actor: User, appeal: Appeal) -> list[dict[str, Any]]:
    """After a gold fix: lift each automatic block in the job that the rescored answers no longer
    support (workers in id order, the order their rows are locked in)."""
    lifted = []
    for worker in User.objects.filter(pk__in=set(worker_ids)).order_by("pk"):
        if appeals.automatic_block_standing(job_id=job.pk, worker_id=worker.pk) and not appeals.block_still_holds(
            job=job, worker_id=worker.pk
        ):
            standing = appeals.block_event_latest(job_id=job.pk, worker_id=worker.pk)  # automatic: checked above
            lifted.append(_block_lift(job=job, worker=worker, actor=actor, appeal=appeal, block_event=standing))
    return lifted


def withdrawal_review_decide(
    *, review_id: int, actor: User, approve: bool, note: str = ""
) -> tuple[WithdrawalReview, holding.Decided]:
    """An admin decides a held withdrawal: approved, the dropped judgments' pay is withdrawn as
    any block's; dismissed, the worker keeps it. If the job settled meanwhile, the pay was held
    then (billing/holding.py): approved, Quorum keeps it; dismissed, Quorum pays it now. Returns
    the review and what moved, for the admin's page."""
    if not actor.is_admin:
        raise PermissionDenied("Only an admin decides a held withdrawal.")
    with transaction.atomic():
        review = appeals.withdrawal_review_lock(review_id=review_id)
        decided = holding.held_withdrawal_decide(review=review, withdraw=approve)
        appeals.withdrawal_review_close(review=review, actor=actor, approved=approve, note=note,
                                        left_with_worker=decided.released or None)
    return review, decided


def worker_suspend(*, worker: User, actor: User, reason: str, evidence: str = "") -> User:
    """Suspend a worker platform-wide (accounts.services.user_suspend) and hand back the items
    their live leases hold in every job at once, rather than when the leases expire (SKIP
    LOCKED: a lease being submitted right now is refused as suspended anyway)."""
    with transaction.atomic():
        worker = accounts.user_suspend(worker=worker, actor=actor, reason=reason, evidence=evidence)
        jobs = (Lease.objects.filter(worker=worker, status=LeaseStatus.ACTIVE)
                .values_list("job_id", flat=True).distinct().order_by("job_id"))
        for job_id in jobs:
            leases_end_for_worker(job_id=job_id, worker_id=worker.pk)
            events.work_available(job_id=job_id)
    return worker
