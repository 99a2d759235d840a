"""Appeals (writes): a worker contests an automatic block or a gold answer; the decision's
quality half (gold corrected or retired, workers rescored); the review of large withdrawals.

The money half of a decision (pay restored) is billing's (billing/restoring.py); the whole
decision, in one transaction, is marketplace/flows_appeals.py.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import ApplicationError, Conflict, NotFound
from marketplace.jobs.models import GoldAnswer, Job
from marketplace.wording import a_or_an
from marketplace.labeling.models import JobBlock, Judgment, JudgmentStatus
from marketplace.quality import scoring, skills
from marketplace.quality.gold_multi import decisions_balance
from marketplace.quality.models import APPEAL_REASON_MAX, Appeal, QualityEvent, WithdrawalReview, WorkerJobStats
from marketplace.quality.rules import rules_for

GOLD_LABEL_MAX = 64  # GoldAnswer.label


def appeal_window() -> timedelta:
    return timedelta(days=settings.QUORUM_APPEAL_DAYS)


def _reason_clean(reason: str, *, what: str = "reason") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(f"{a_or_an(what, capital=True)} is required.", details={what: ["required"]})
    if len(reason) > APPEAL_REASON_MAX:
        raise ApplicationError(
            f"The {what} is {len(reason)} characters long; at most {APPEAL_REASON_MAX} are allowed.",
            details={what: [f"at most {APPEAL_REASON_MAX} characters"]},
        )
    return reason


def block_event_latest(*, job_id: int, worker_id: int) -> QualityEvent | None:
    """The event of the block standing now (the latest BLOCKED event of the pair)."""
    return (
        QualityEvent.objects.filter(job_id=job_id, worker_id=worker_id, kind=QualityEvent.Kind.BLOCKED)
        .order_by("-id").first()
    )


# A block or a lift of a (job, worker) pair: (its QualityEvent id, kind, created_at).
Mark = tuple[int, str, datetime]


def block_marks(*, pairs: Collection[tuple[int, int]]) -> dict[tuple[int, int], list[Mark]]:
    """The blocks and lifts of each (job, worker) pair, in order, in one query (for window_in and
    review_block_in over many reviews)."""
    out: dict[tuple[int, int], list[Mark]] = {pair: [] for pair in pairs}
    if not out:
        return out
    rows = QualityEvent.objects.filter(
        kind__in=(QualityEvent.Kind.BLOCKED, QualityEvent.Kind.UNBLOCKED),
        job_id__in={job for job, _ in out}, worker_id__in={worker for _, worker in out},
    ).order_by("id").values_list("job_id", "worker_id", "pk", "kind", "created_at")
    for job_id, worker_id, pk, kind, at in rows.iterator(chunk_size=5000):
        if (job_id, worker_id) in out:  # the id lists cross: other pairs of these jobs and workers
            out[(job_id, worker_id)].append((pk, kind, at))
    return out


def block_window(*, job_id: int, worker_id: int, block_event_id: int) -> tuple[datetime | None, datetime | None]:
    """When the judgments a block dropped were made (since, exclusive; until, inclusive; None:
    unbounded): after the pair's previous block ended (its lift, or this block) and before this
    one ended (its lift or a later block; None while it stands). The windows of a pair's blocks
    never overlap, so each block's withdrawal, review and appeal concern its own judgments' pay
    and none of another block's (README, Money rules, "The review cap"). A judgment a submit in
    flight made just after the block, which the block drops once it commits, is the block's.

    Times are the earnings' (billing/windows.py), and the edge at a lift is exact: a submit pays
    in its own transaction after the statement that reads the worker's block (the lease's
    compare-and-set, labeling/sql_submit.py), and reads the pay's time then; the lift writes its
    UNBLOCKED event's time before it commits. So an answer the lift let through (its submit found
    the worker unblocked because the lift had committed) is timed after the lift, and is never the
    lifted block's; an answer timed at or before it was given by a submit that read the block
    before the lift committed, which refuses it unless the block had not committed yet (an
    answer in flight across the block). One clock: the app servers' (timezone.now())."""
    return window_in(block_marks(pairs=[(job_id, worker_id)])[(job_id, worker_id)], block_event_id)


def window_in(marks: Sequence[Mark], block_event_id: int) -> tuple[datetime | None, datetime | None]:
    """block_window from the pair's marks (block_marks)."""
    at = next((i for i, (pk, _, _) in enumerate(marks) if pk == block_event_id), None)
    if at is None:
        return None, None
    before = [i for i in range(at) if marks[i][1] == QualityEvent.Kind.BLOCKED]
    since = marks[before[-1] + 1][2] if before else None
    until = marks[at + 1][2] if at + 1 < len(marks) else None
    return since, until


def review_block_in(marks: Sequence[Mark], *, review: WithdrawalReview) -> int | None:
    """The block (its BLOCKED event id) whose withdrawal the review holds: the one it names, or,
    for a review opened before reviews named their block, the pair's latest block when it
    opened (the review was written with it). None when no block is recorded."""
    if review.block_event_id is not None:
        return review.block_event_id
    blocks = [pk for pk, kind, at in marks if kind == QualityEvent.Kind.BLOCKED and at <= review.created_at]
    return blocks[-1] if blocks else None


def review_block_id(*, review: WithdrawalReview) -> int | None:
    """review_block_in for one review."""
    if review.block_event_id is not None:
        return review.block_event_id
    pair = (review.job_id, review.worker_id)
    return review_block_in(block_marks(pairs=[pair])[pair], review=review)


@transaction.atomic
def appeal_file(*, worker: User, kind: str, reason: str, job_id: int | None = None,
                judgment_id: int | None = None) -> Appeal:
    """A worker appeals, within QUORUM_APPEAL_DAYS: an automatic block standing in job `job_id`
    (kind block), or their own missed gold answer `judgment_id` (kind gold). One open appeal
    per worker and subject (409); a subject not theirs is 404; too late or too long is 400."""
    reason = _reason_clean(reason)
    now = timezone.now()
    if kind == Appeal.Kind.BLOCK:
        if job_id is None or not JobBlock.objects.filter(job_id=job_id, worker=worker).exists():
            raise NotFound("You are not blocked from this job.")
        event = block_event_latest(job_id=job_id, worker_id=worker.pk)
        if event is None or not event.automatic:
            raise ApplicationError("Only an automatic block can be appealed here; an admin's block is final.")
        if event.created_at < now - appeal_window():
            raise ApplicationError(f"The block is older than {settings.QUORUM_APPEAL_DAYS} days: too late to appeal.")
        fields: dict[str, Any] = {"job_id": job_id, "block_event": event, "subject": f"block:{job_id}"}
    elif kind == Appeal.Kind.GOLD:
        judgment = Judgment.objects.filter(
            pk=judgment_id or 0, worker=worker, is_gold=True, is_correct=False
        ).select_related("job").first()
        # Only where the job shows gold feedback: elsewhere the worker was never told the item was
        # gold, and an answer here must not tell them either (the same 404 as for any other id).
        if (judgment is None or not GoldAnswer.objects.filter(item_id=judgment.item_id).exists()
                or not rules_for(job=judgment.job).gold_feedback):
            raise NotFound("No missed gold answer of yours with this id.")
        if judgment.created_at < now - appeal_window():
            raise ApplicationError(
                f"The answer is older than {settings.QUORUM_APPEAL_DAYS} days: too late to appeal."
            )
        fields = {"job_id": judgment.job_id, "judgment": judgment, "subject": f"gold:{judgment.item_id}"}
    else:
        raise ApplicationError("kind must be 'block' or 'gold'.")
    if Appeal.objects.filter(worker=worker, subject=fields["subject"], status=Appeal.Status.OPEN).exists():
        raise Conflict("You already have an open appeal about this.")
    try:
        with transaction.atomic():
            return Appeal.objects.create(worker=worker, kind=kind, reason=reason, **fields)
    except IntegrityError:  # a second tab filed the same appeal at the same moment
        raise Conflict("You already have an open appeal about this.") from None


def appeal_lock(*, appeal_id: int, actor: User) -> Appeal:
    """The appeal, row-locked (two deciders at once: the second waits, then finds it decided),
    if `actor` may decide it: an admin, or a client of the job's organization (else 404)."""
    appeal = (
        Appeal.objects.select_for_update(of=("self",)).select_related("job", "worker", "judgment")
        .filter(pk=appeal_id).first()
    )
    if appeal is None or not (actor.is_admin or (actor.is_client and actor.organization_id == appeal.job.organization_id)):
        raise NotFound("Appeal not found.")
    if appeal.status != Appeal.Status.OPEN:
        raise Conflict(f"This appeal was already {appeal.status}.")
    return appeal


def appeal_close(*, appeal: Appeal, actor: User, upheld: bool, note: str, outcome: dict[str, Any],
                 gold_action: str = "", gold_label: str = "") -> Appeal:
    """Record the decision. Caller holds the appeal's row lock (appeal_lock)."""
    note = (note or "").strip()
    if len(note) > APPEAL_REASON_MAX:
        raise ApplicationError(f"The note is at most {APPEAL_REASON_MAX} characters.")
    appeal.status = Appeal.Status.UPHELD if upheld else Appeal.Status.REJECTED
    appeal.decided_by, appeal.decided_at, appeal.decision_note = actor, timezone.now(), note
    appeal.gold_action, appeal.gold_label, appeal.outcome = gold_action, gold_label, outcome
    appeal.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "gold_action",
                               "gold_label", "outcome"])
    return appeal


def decision_check(*, upheld: bool, note: str, gold: bool, gold_action: str, gold_label: str) -> None:
    """Validate a decision before anything is written (400 with what to fix)."""
    if len((note or "").strip()) > APPEAL_REASON_MAX:
        raise ApplicationError(f"The note is at most {APPEAL_REASON_MAX} characters.")
    if not (upheld and gold):
        return
    if gold_action not in ("correct", "retire"):
        raise ApplicationError("Choose whether to correct the gold answer or retire the gold item.")
    if gold_action == "correct" and not (0 < len(gold_label.strip()) <= GOLD_LABEL_MAX):
        raise ApplicationError(f"The corrected answer must be 1 to {GOLD_LABEL_MAX} characters.")


@dataclass
class GoldFix:
    item_id: int
    action: str  # "corrected" or "retired"
    label: str  # the new answer ("" when retired)
    workers: list[int] = field(default_factory=list)  # workers whose answers were rescored


@transaction.atomic
def gold_fix(*, job: Job, item_id: int, action: str, label: str = "") -> GoldFix:
    """Correct a gold item's answer (must be one of the job's labels) or retire it (the answer
    is deleted: it is never served or scored again), then rescore every answer given to it and
    move the job's stats of the workers whose answers count there. Locks the gold answer: two
    decisions about one item at once rescore one after the other."""
    gold = GoldAnswer.objects.select_for_update().filter(item_id=item_id, item__job=job).first()
    if gold is None:
        raise Conflict("This gold item was already retired.")
    label = label.strip()
    if action == "correct" and job.multi_label:
        raise ApplicationError("A multi-label gold answer cannot be corrected to one label; retire it instead.")
    if action == "correct":
        if label not in job.label_keys:
            raise ApplicationError(f"{label[:GOLD_LABEL_MAX]!r} is not one of the job's labels.")
        gold.label = label
        gold.save(update_fields=["label"])
    else:
        gold.delete()
    fix = GoldFix(item_id=item_id, action="corrected" if action == "correct" else "retired", label=label)
    answers = list(Judgment.objects.filter(item_id=item_id, is_gold=True).order_by("worker_id"))
    rescored: dict[int, tuple[bool | None, bool | None]] = {}
    for judgment in answers:  # worker id order: the order their stats rows are locked in
        new = (judgment.label == label) if action == "correct" else None
        if new == judgment.is_correct:
            continue
        Judgment.objects.filter(pk=judgment.pk).update(is_correct=new)
        fix.workers.append(judgment.worker_id)
        rescored[judgment.worker_id] = (judgment.is_correct, new)  # one judgment per worker and item
        if judgment.status == JudgmentStatus.ACCEPTED:
            _stats_move(job_id=job.pk, worker_id=judgment.worker_id, old=judgment.is_correct, new=new)
            if gold.labels is not None and judgment.is_correct is not None:  # retired: its label decisions go
                _labels_take_back(job=job, judgment=judgment, gold_labels=gold.labels)
    # Their global skill counted every scored answer as it came (dropped ones too): move it by
    # the difference, after the stats rows (skills.py's lock order).
    skills.worker_skills_gold_rescore(changes=rescored)
    return fix


def _stats_move(*, job_id: int, worker_id: int, old: bool | None, new: bool | None) -> None:
    """Move one rescored answer in the worker's running gold counts (F(): submits count there
    too). Clamped at zero: an unblock restarted the counts, and the answer may predate that."""
    seen = (new is not None) - (old is not None)
    correct = bool(new) - bool(old)
    seen_after = Greatest(F("gold_seen") + seen, 0)
    WorkerJobStats.objects.filter(job_id=job_id, worker_id=worker_id).update(
        gold_seen=seen_after, gold_correct=Least(Greatest(F("gold_correct") + correct, 0), seen_after)
    )


def _labels_take_back(*, job: Job, judgment: Judgment, gold_labels: list[str]) -> None:
    """A retired multi-label gold item: take its label decisions out of the worker's counts
    (clamped at zero like _stats_move)."""
    decided = scoring.label_decisions(answered=judgment.labels or [], gold=gold_labels, keys=job.label_keys)
    seen_after = Greatest(F("gold_labels_seen") - decided.seen, 0)
    pos_after = Greatest(F("gold_pos_seen") - decided.positives, 0)
    WorkerJobStats.objects.filter(job_id=job.pk, worker_id=judgment.worker_id).update(
        gold_labels_seen=seen_after,
        gold_labels_right=Least(Greatest(F("gold_labels_right") - decided.right, 0), seen_after),
        gold_pos_seen=pos_after,
        gold_pos_right=Least(Greatest(F("gold_pos_right") - decided.positives_right, 0), pos_after),
    )


def block_still_holds(*, job: Job, worker_id: int) -> bool:
    """Would the gold rule block this worker on the answers the block was judged on, as they are
    scored now? (Every scored gold answer of theirs in the job, dropped ones included.)"""
    scored = Judgment.objects.filter(job=job, worker_id=worker_id, is_gold=True, is_correct__isnull=False)
    seen = scored.count()
    correct = scored.filter(is_correct=True).count()
    rules = rules_for(job=job)
    if job.multi_label:  # the rule reads label decisions there, balanced (gold_multi.py)
        balance = decisions_balance(scored.values_list("labels", "item__gold__labels"), job.label_keys)
        return seen >= rules.min_gold_answers and scoring.balanced_below_floor(
            **balance, floor=rules.gold_accuracy_floor)
    return scoring.below_floor(correct=correct, seen=seen, min_seen=rules.min_gold_answers,
                               floor=rules.gold_accuracy_floor)


def automatic_block_standing(*, job_id: int, worker_id: int) -> bool:
    event = block_event_latest(job_id=job_id, worker_id=worker_id)
    return (JobBlock.objects.filter(job_id=job_id, worker_id=worker_id).exists()
            and event is not None and event.automatic)


# --- The review of large withdrawals ------------------------------------------------------

def withdrawal_review_open(
    *, job_id: int, worker_id: int, amount: Decimal, earned: Decimal, block_event: QualityEvent | None,
) -> WithdrawalReview:
    """Hold a rule's withdrawal for an admin (idempotent per block while pending: each block's
    withdrawal is its own review, block_window).
    `block_event`: the block whose withdrawal is held (approving withdraws under its name)."""
    review = WithdrawalReview.objects.filter(job_id=job_id, worker_id=worker_id, block_event=block_event,
                                             status=WithdrawalReview.Status.PENDING).first()
    if review is not None:
        return review
    review = WithdrawalReview.objects.create(job_id=job_id, worker_id=worker_id, amount=amount, earned=earned,
                                             block_event=block_event)
    QualityEvent.objects.create(
        job_id=job_id, worker_id=worker_id, kind=QualityEvent.Kind.WITHDRAWAL_HELD, automatic=True,
        reason=(f"The block would withdraw {amount} of the {earned} this worker earned in the job, over "
                f"the {settings.QUORUM_WITHDRAW_REVIEW_SHARE} share a rule may withdraw on its own: "
                "the block stands, the withdrawal waits for an admin."),
        evidence={"withdrawal_review": review.pk, "amount": str(amount), "earned": str(earned),
                  "cap": str(settings.QUORUM_WITHDRAW_REVIEW_SHARE)},
    )
    return review


def withdrawal_review_pending(*, job_id: int, worker_id: int, block_event_id: int | None) -> bool:
    """A review of this block's withdrawal is pending (None: any review of the pair)."""
    rows = WithdrawalReview.objects.filter(job_id=job_id, worker_id=worker_id, status=WithdrawalReview.Status.PENDING)
    return (rows if block_event_id is None else rows.filter(block_event_id=block_event_id)).exists()


def withdrawal_review_lock(*, review_id: int) -> WithdrawalReview:
    """The pending review, row-locked: two admins deciding at once, the second finds it decided."""
    review = WithdrawalReview.objects.select_for_update().filter(pk=review_id).first()
    if review is None:
        raise NotFound("Review not found.")
    if review.status != WithdrawalReview.Status.PENDING:
        raise Conflict(f"This withdrawal was already {review.get_status_display().lower()}.")
    return review


def withdrawal_reviews_lock(*, job_id: int, worker_id: int) -> list[WithdrawalReview]:
    """The pair's pending reviews (one per block), row-locked: a decision waits, then finds them closed."""
    return list(WithdrawalReview.objects.select_for_update().filter(
        job_id=job_id, worker_id=worker_id, status=WithdrawalReview.Status.PENDING).order_by("id"))


def withdrawal_review_close(*, review: WithdrawalReview, actor: User | None, approved: bool, note: str,
                            left_with_worker: Decimal | None = None) -> None:
    """Caller holds the review's row lock. `left_with_worker`: an approval's pay released to the
    worker while under review, which the withdrawal left them (WithdrawalReview says why)."""
    review.status = WithdrawalReview.Status.APPROVED if approved else WithdrawalReview.Status.DISMISSED
    review.decided_by, review.decided_at = actor, timezone.now()
    review.note = (note or "").strip()[:APPEAL_REASON_MAX]
    review.left_with_worker = left_with_worker if approved else None
    review.save(update_fields=["status", "decided_by", "decided_at", "note", "left_with_worker"])


def withdrawal_reviews_dismiss(
    *, job_id: int, worker_id: int, block_event_id: int | None, actor: User, note: str,
) -> int:
    """An upheld appeal ends the pending review of the same block: the pay stays. Another
    block's review is not the appeal's to decide. None (an appeal that named no block): any."""
    rows = WithdrawalReview.objects.filter(job_id=job_id, worker_id=worker_id, status=WithdrawalReview.Status.PENDING)
    if block_event_id is not None:
        rows = rows.filter(block_event_id=block_event_id)
    return rows.update(status=WithdrawalReview.Status.DISMISSED, decided_by=actor, decided_at=timezone.now(),
             note=note[:APPEAL_REASON_MAX])
