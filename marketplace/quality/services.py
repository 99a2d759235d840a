"""Worker quality writes: score each judgment, apply the job's rules, block and unblock.

`judgment_assess` runs inside the submit flow's transaction (marketplace/flows.py), after the
judgment was saved and the job's row lock taken; everything it writes commits or rolls back with
the judgment. Every automatic action leaves a QualityEvent with its evidence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from marketplace.commit import on_commit_robust
from marketplace.accounts.models import User
from marketplace.errors import ApplicationError, Conflict
from marketplace.limits import MAX_REASON_CHARS
from marketplace.jobs.models import GoldAnswer, Job, JobStatus
from marketplace.labeling.models import JobBlock, Judgment, JudgmentStatus
from marketplace.labeling.services import DropResult, judgments_drop, leases_end_for_worker
from marketplace.quality import fast_rule, gold_multi, scoring, skills
from marketplace.quality.models import QualityEvent, WorkerJobStats
from marketplace.quality.stats_counting import stats_count
from marketplace.quality.rules import QualityRules, rules_for

log = logging.getLogger(__name__)

# Gold answers listed in a block's evidence (the latest ones; the counts cover them all).
EVIDENCE_GOLD_ANSWERS = 200
DROP_POLICY = (
    "Judgments dropped after a quality block are not paid and do not count towards consensus; "
    "an unblock does not restore them. A block in a completed or cancelled job drops nothing: "
    "delivered results never change."
)
# Jobs whose results are delivered: a block there affects future work only.
DELIVERED = (JobStatus.COMPLETED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class Assessment:
    feedback: dict[str, Any] | None = None  # a missed gold item's right answer, when the job shows it
    blocked: bool = False  # this judgment tripped the gold rule: the worker is now blocked
    flagged: bool = False  # this judgment tripped the fast-answer rule (flag only)


@dataclass(frozen=True)
class BlockOutcome:
    block: JobBlock
    drop: DropResult
    event: QualityEvent  # the BLOCKED event: what withdraws the pay names it (Earning.withdrawn_by)


def judgment_assess(*, judgment: Judgment, others_judgments: int | None = None) -> Assessment:
    """Count a new judgment in the worker's stats and act on the job's quality rules.

    Gold rule (gold judgments): with at least min_gold_answers scored gold answers and a smoothed
    accuracy under the floor, the worker is blocked from the job and their judgments dropped. On a
    multi-label job the accuracy is the balanced accuracy of the label decisions (gold_multi.py,
    scoring.balanced_smoothed), the answers still counted as answers for min_gold_answers.
    Fast rule: a median answer time under fast_seconds over the latest fast_window judgments
    flags the worker once (no block). Caller holds the job's row lock (the submit took it).
    `others_judgments`: the job's judgments by other workers as the submit saw them (None: not
    known); fewer than the fast rule needs to compare with spares its reads (fast_rule.py).
    """
    rules = _job_terms(judgment.job_id)
    job = Job(pk=judgment.job_id)  # the rules below need its id only; a block reads it afresh
    scored = judgment.is_gold and judgment.is_correct is not None
    decided = gold_multi.gold_decisions(judgment=judgment) if scored else None
    stats = stats_count(
        judgment=judgment,
        gold_seen=int(scored),
        gold_correct=int(scored and bool(judgment.is_correct)),
        judgments=int(not judgment.is_gold),
        decided=decided,
        # Fewer answers by others than a pace needs: the fast rule cannot flag, so no times are read.
        fast_window=0 if fast_rule.peers_too_few(others_judgments) else rules.fast_window,
    )
    stats_id, gold_seen, gold_correct, total_regular, flagged_at, labels_seen, labels_right, pos_seen, pos_right = stats[:9]
    if scored:  # the worker's global skill, for dynamic overlap in every job (after the stats row)
        skills.worker_skill_gold(worker_id=judgment.worker_id, correct=bool(judgment.is_correct),
                                 share=_share(decided))
    # Balanced over label decisions on a multi-label job; the answers count towards min_gold_answers.
    balance = dict(right=labels_right, seen=labels_seen, pos_right=pos_right, pos_seen=pos_seen)
    blocked = False
    if scored and gold_seen >= rules.min_gold_answers and (
        scoring.balanced_below_floor(**balance, floor=rules.gold_accuracy_floor) if decided
        else scoring.below_floor(correct=gold_correct, seen=gold_seen, min_seen=0, floor=rules.gold_accuracy_floor)
    ):
        estimate = scoring.balanced_estimate(**balance) if decided else scoring.gold_estimate(
            correct=gold_correct, seen=gold_seen)
        exact = scoring.gold_estimate(correct=gold_correct, seen=gold_seen) if decided else None
        blocked = _gold_block(job=job, worker_id=judgment.worker_id, rules=rules, estimate=estimate, exact=exact,
                              positives=(pos_right, pos_seen))
    flagged = False
    if not blocked and flagged_at is None and gold_seen + total_regular >= rules.fast_window:
        flagged = fast_rule.fast_check(job=job, worker_id=judgment.worker_id, stats_id=stats_id, rules=rules,
                                       others_judgments=others_judgments, recent_seconds=stats[9])
    return Assessment(feedback=_feedback(judgment=judgment, rules=rules), blocked=blocked, flagged=flagged)


def judgment_unassess(*, judgment: Judgment) -> None:
    """Take an undone judgment (labeling/undoing.py) out of the worker's figures: the stats row's
    counts and, for a scored gold answer, the worker's global skill. Blocks and flags it caused
    stay: a blocked worker's judgment is dropped and cannot be undone, and a flag is for review.

    Conflict for a gold answer whose right label the worker was shown (the job's gold feedback):
    undoing it would let them answer again knowing it. Caller: the undo flow, after the worker's
    tally and the job (the lock order of judgment_assess)."""
    rules = _job_terms(judgment.job_id)
    if _feedback(judgment=judgment, rules=rules) is not None:
        raise Conflict(
            "You were shown the right answer to this check item, so your answer cannot be undone.",
            details={"judgment": judgment.pk},
        )
    scored = judgment.is_gold and judgment.is_correct is not None
    decided = gold_multi.gold_decisions(judgment=judgment) if scored else None  # gold is fixed at publish
    # An UPDATE, not the submit's upsert: the row exists (the submit made it), and the insert
    # half of an upsert would check its negative counts against the constraints first.
    WorkerJobStats.objects.filter(job_id=judgment.job_id, worker_id=judgment.worker_id).update(
        gold_seen=F("gold_seen") - int(scored),
        gold_correct=F("gold_correct") - int(scored and bool(judgment.is_correct)),
        judgments=F("judgments") - int(not judgment.is_gold),
        gold_labels_seen=F("gold_labels_seen") - (decided.seen if decided else 0),
        gold_labels_right=F("gold_labels_right") - (decided.right if decided else 0),
        # Clamped: a row counted before migration 0011 has no positive decisions to take back.
        gold_pos_seen=Greatest(F("gold_pos_seen") - (decided.positives if decided else 0), 0),
        gold_pos_right=Greatest(F("gold_pos_right") - (decided.positives_right if decided else 0), 0),
        updated_at=timezone.now(),
    )
    if scored:
        skills.worker_skill_gold(worker_id=judgment.worker_id, correct=bool(judgment.is_correct),
                                 share=_share(decided), undo=True)


def _share(decided: scoring.LabelDecisions | None) -> float | None:
    """A multi-label gold answer's weight in the global skill: one answer, right in the share of
    its labels decided right (a single-label answer: None, right or wrong)."""
    return decided.right / decided.seen if decided and decided.seen else None


# A published job's rules never change (jobs.services.job_terms_fix records them once), so each
# process keeps them per job: assessing a submit reads no job row.
_TERMS: dict[int, QualityRules] = {}
_TERMS_MAX = 4096  # jobs remembered per process; the lot is forgotten when full


def _job_terms(job_id: int) -> QualityRules:
    """The job's quality rules, from this process's memory once they are fixed at publish."""
    if (known := _TERMS.get(job_id)) is not None:
        return known
    job = Job._base_manager.only(  # no counts: the manager's sums are not needed here
        "id", "tier", "quality_rules", "rules_at_publish"
    ).get(pk=job_id)
    terms = rules_for(job=job)
    if job.rules_at_publish:
        if len(_TERMS) >= _TERMS_MAX:
            _TERMS.clear()
        _TERMS[job_id] = terms
    return terms


def gold_feedback_for(*, judgment: Judgment) -> dict[str, Any] | None:
    """The feedback of an already saved judgment (a retried submit shows it again)."""
    if not judgment.is_gold or judgment.is_correct is not False:
        return None
    job = Job.objects.only("id", "tier", "quality_rules", "rules_at_publish").get(pk=judgment.job_id)
    return _feedback(judgment=judgment, rules=rules_for(job=job))


def _feedback(*, judgment: Judgment, rules: QualityRules) -> dict[str, Any] | None:
    if not (judgment.is_gold and judgment.is_correct is False and rules.gold_feedback):
        return None
    gold = GoldAnswer.objects.filter(item_id=judgment.item_id).values(
        "label", "labels", "explanation", "item__job__labels").first()
    if gold is None:
        return None
    if gold["labels"] is not None:  # a multi-label job's: the sets and the labels decided wrong
        return gold_multi.multi_feedback(judgment=judgment, gold=gold)
    return {"correct_label": gold["label"], "explanation": gold["explanation"], "your_label": judgment.label}


def _gold_block(
    *, job: Job, worker_id: int, rules: QualityRules, estimate: scoring.GoldEstimate,
    exact: scoring.GoldEstimate | None = None, positives: tuple[int, int] = (0, 0),
) -> bool:
    """Block through the gold rule, with the gold answers and their right labels as evidence.
    `exact`: on a multi-label job (where `estimate` is balanced over label decisions), the
    exact-set matches; `positives`: (ticked, seen) of the labels gold ticked there."""
    if JobBlock.objects.filter(job_id=job.pk, worker_id=worker_id).exists():
        return False  # an admin got there first; the submit itself was let through before that
    answers = list(
        Judgment.objects.filter(job_id=job.pk, worker_id=worker_id, is_gold=True, is_correct__isnull=False)
        .order_by("-id")
        .values_list("item_id", "item__external_id", "label", "item__gold__label", "is_correct",
                     "labels", "item__gold__labels")[:EVIDENCE_GOLD_ANSWERS]
    )
    evidence = {
        "rule": "gold_accuracy_floor",
        "rules": rules.as_dict(),
        "gold": estimate.as_evidence(),
        "wrong": estimate.wrong,
        "answers": [
            {"item": item, "external_id": ext, "answered": label, "correct_label": right, "correct": ok,
             **({} if sets is None else {"answered_labels": sets, "correct_labels": gold_sets})}
            for item, ext, label, right, ok, sets, gold_sets in answers
        ],
    }
    counted = f"{estimate.correct} of {estimate.seen} right"
    if exact is not None:  # a multi-label job: the rule read label decisions, balanced
        pos_right, pos_seen = positives
        evidence["per_label"] = True
        evidence["balanced"] = True
        evidence["positives"] = {"seen": pos_seen, "ticked": pos_right}
        evidence["exact_sets"] = exact.as_evidence()
        counted = (f"{estimate.correct} of {estimate.seen} label decisions right over {exact.seen} gold answers, "
                   f"{exact.correct} of them with every label right; {pos_right} of the {pos_seen} labels "
                   f"gold ticked were ticked")
    kind = "balanced gold accuracy" if exact is not None else "gold accuracy"
    reason = (
        f"Smoothed {kind} {estimate.smoothed:.3f} (90% interval {estimate.low:.2f}-{estimate.high:.2f}, "
        f"{counted}) is under the job's floor {rules.gold_accuracy_floor}."
    )
    worker = User.objects.get(pk=worker_id)
    _block(job=job, worker=worker, reason=reason, actor=None, evidence=evidence, inside_submit=True)
    return True


def _reason_clean(reason: str) -> str:
    """An admin's reason for a block or an unblock: required, and a paragraph at most (the
    worker reads it; it was stored whatever its length)."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError("A reason is required.")
    if len(reason) > MAX_REASON_CHARS:
        raise ApplicationError(
            f"The reason is {len(reason):,} characters long; at most {MAX_REASON_CHARS:,} are allowed.",
            details={"reason": "too_long"},
        )
    return reason


@transaction.atomic
def worker_block(
    *, job: Job, worker: User, reason: str, actor: User | None = None, evidence: dict[str, Any] | None = None
) -> BlockOutcome:
    """Block a worker from a job: drop their judgments there and reopen the items they counted for.

    Locks: items, the worker's tally, then the job in KEY SHARE mode (through
    labeling.relabeling), then the block row is inserted.
    Raises Conflict when the worker is already blocked from the job.
    """
    reason = _reason_clean(reason)
    if not worker.is_worker:
        raise ApplicationError("Only worker accounts can be blocked from a job.")
    if JobBlock.objects.filter(job=job, worker=worker).exists():
        raise Conflict("This worker is already blocked from this job.")
    return _block(job=job, worker=worker, reason=reason, actor=actor, evidence=evidence or {}, inside_submit=False)


def _block(
    *, job: Job, worker: User, reason: str, actor: User | None, evidence: dict[str, Any], inside_submit: bool
) -> BlockOutcome:
    leases_end_for_worker(job_id=job.pk, worker_id=worker.pk)
    status = Job._base_manager.filter(pk=job.pk).values_list("status", flat=True).first()
    if status in DELIVERED:
        # Results are delivered (and the job settled): the block stops future work only, and
        # the judgments, the consensus and the pay stay as they were.
        drop = DropResult(job_id=job.pk, worker_id=worker.pk, judgments=0, gold_judgments=0, items=(),
                          reopened=(), reopen_allowed=False, job_status=str(status), pending=0)
    else:
        # Inside a submit we hold the worker's tally, so item locks are only taken when free (see
        # labeling/relabeling.py); items held by concurrent submits are dropped right after commit.
        drop = judgments_drop(job_id=job.pk, worker_id=worker.pk, skip_locked=inside_submit)
    try:
        with transaction.atomic():
            block = JobBlock.objects.create(job=job, worker=worker, reason=reason)
    except IntegrityError:
        raise Conflict("This worker is already blocked from this job.") from None
    automatic = actor is None
    event = QualityEvent.objects.create(
        job=job, worker=worker, kind=QualityEvent.Kind.BLOCKED, automatic=automatic, actor=actor,
        reason=reason, evidence={**evidence, "dropped": _drop_summary(drop), "policy": DROP_POLICY},
    )
    _relabeled_event(drop=drop, automatic=automatic, actor=actor)
    if drop.pending:
        on_commit_robust(_drop_pending, job_id=job.pk, worker_id=worker.pk)
    return BlockOutcome(block=block, drop=drop, event=event)


def _drop_pending(*, job_id: int, worker_id: int) -> None:
    """After a block committed inside a submit: drop judgments on items that were busy then."""
    with transaction.atomic():
        drop = judgments_drop(job_id=job_id, worker_id=worker_id)
        _relabeled_event(drop=drop, automatic=True, actor=None)
    log.info("block of worker %s in job %s: %s more items relabeled after commit", worker_id, job_id, len(drop.items))


def _drop_summary(drop: DropResult) -> dict[str, Any]:
    return {
        "judgments": drop.judgments, "gold_judgments": drop.gold_judgments, "items": len(drop.items),
        "reopened": len(drop.reopened), "reopen_allowed": drop.reopen_allowed, "pending": drop.pending,
    }


def _relabeled_event(*, drop: DropResult, automatic: bool, actor: User | None) -> None:
    if not (drop.judgments or drop.gold_judgments):
        return
    if drop.reopen_allowed:
        reason = (
            f"Dropped {drop.judgments} judgments (and {drop.gold_judgments} gold answers) from consensus; "
            f"{len(drop.reopened)} of {len(drop.items)} items reopened for new judgments."
        )
    else:
        reason = (
            f"Dropped {drop.judgments} judgments (and {drop.gold_judgments} gold answers) from consensus. "
            f"The job is {drop.job_status}, so no item was reopened."
        )
    QualityEvent.objects.create(
        job_id=drop.job_id, worker_id=drop.worker_id, kind=QualityEvent.Kind.RELABELED, automatic=automatic,
        actor=actor, reason=reason,
        evidence={**_drop_summary(drop), "item_ids": list(drop.items), "reopened_ids": list(drop.reopened)},
    )


@transaction.atomic
def worker_unblock(*, job: Job, worker: User, actor: User, reason: str) -> None:
    """Lift a block. Dropped judgments stay dropped (and unpaid, unless an upheld appeal gives
    the pay back: marketplace/flows_appeals.py). The gold counters start over,
    so the rule that blocked the worker does not fire again on their next gold answer; the old
    counts are kept in the event's evidence."""
    reason = _reason_clean(reason)
    deleted, _ = JobBlock.objects.filter(job=job, worker=worker).delete()
    if not deleted:
        raise Conflict("This worker is not blocked from this job.")
    stats = WorkerJobStats.objects.filter(job=job, worker=worker).values(
        "gold_seen", "gold_correct", "gold_labels_seen", "gold_labels_right", "gold_pos_seen", "gold_pos_right").first()
    WorkerJobStats.objects.filter(job=job, worker=worker).update(
        gold_seen=0, gold_correct=0, gold_labels_seen=0, gold_labels_right=0, gold_pos_seen=0, gold_pos_right=0)
    if stats is not None and not stats["gold_labels_seen"]:  # label decisions: multi-label jobs only
        stats = {"gold_seen": stats["gold_seen"], "gold_correct": stats["gold_correct"]}
    dropped = Judgment.objects.filter(job=job, worker=worker, status=JudgmentStatus.DROPPED).count()
    QualityEvent.objects.create(
        job=job, worker=worker, kind=QualityEvent.Kind.UNBLOCKED, automatic=False, actor=actor, reason=reason,
        evidence={
            "dropped_judgments": dropped,
            "dropped_stay_dropped": True,
            "gold_before_reset": stats or {"gold_seen": 0, "gold_correct": 0},
            "policy": DROP_POLICY,
        },
    )
