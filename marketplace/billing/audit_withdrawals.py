"""Audit checks on dropped judgments' pay: who withdrew it, who gave it back, who kept it
(billing/audit.py runs them; billing/restoring.py and billing/holding.py write what they read).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Q

from marketplace.billing.models import Earning, JobBudget
from marketplace.labeling.models import JudgmentStatus
from marketplace.quality import appeals
from marketplace.quality.models import QualityEvent, WithdrawalReview

if TYPE_CHECKING:
    from marketplace.billing.audit import AuditReport

GIVEN_BACK = (Earning.Status.PENDING, Earning.Status.AVAILABLE)


def restores_undo_automatic_blocks_only(report: AuditReport) -> None:
    """Pay given back (an earning naming the block that withdrew it, yet not withdrawn) was
    withdrawn by an automatic block: an admin's block is final, so only an upheld appeal of a
    rule's block gives pay back (README, Appeals)."""
    rows = Earning.objects.filter(status__in=GIVEN_BACK, withdrawn_by__isnull=False).values_list(
        "pk", "job_id", "worker_id", "withdrawn_by_id")
    given_back = list(rows.iterator(chunk_size=5000))
    admin_blocks = set(QualityEvent.objects.filter(
        pk__in={event for *_, event in given_back}, automatic=False).values_list("pk", flat=True))
    for pk, job_id, worker_id, event_id in given_back:
        if event_id in admin_blocks:
            report.violations.append(
                f"earning {pk} (job {job_id}, worker {worker_id}): pay an admin's block withdrew "
                f"(event {event_id}) was given back, but an admin's block is final"
            )


def withdrawals_take_their_own_blocks_pay(report: AuditReport) -> None:
    """Pay withdrawn (or held) in a block's name was earned before that block ended (was lifted,
    or another block followed: quality.appeals.block_window). A judgment made after is another
    block's to withdraw, review and give back on appeal: booked to the lifted block, an upheld
    appeal of the block that dropped it gives nothing back, and no one can appeal the lifted one.
    An admin's block takes all the pair's pay still pending, earlier blocks' too, never later."""
    rows = Earning.objects.filter(withdrawn_by__isnull=False)  # withdrawn, held, or given back since
    by_block: dict[tuple[int, int, int], list[tuple[int, datetime]]] = {}
    for pk, job_id, worker_id, event_id, made in rows.values_list(
            "pk", "job_id", "worker_id", "withdrawn_by_id", "created_at").iterator(chunk_size=5000):
        by_block.setdefault((job_id, worker_id, event_id), []).append((pk, made))
    for (job_id, worker_id, event_id), earnings in sorted(by_block.items()):
        _, until = appeals.block_window(job_id=job_id, worker_id=worker_id, block_event_id=event_id)
        for pk, made in earnings:
            if until is not None and made > until:
                report.violations.append(
                    f"earning {pk} (job {job_id}, worker {worker_id}): withdrawn in the name of block "
                    f"(event {event_id}), which had ended before the judgment was made"
                )


def settled_jobs_pay_no_dropped_work_undecided(report: AuditReport) -> None:
    """On a settled job, a dropped judgment's pay is withdrawn (REVERSED), held for an admin's
    review (HELD), or kept by a decision that says so (kept_after_drop: released before the drop,
    an upheld appeal, a dismissed review). Pay the settlement simply posted to the blocked worker
    breaks "judgments dropped after a quality block are not paid while still pending"."""
    settled = JobBudget.objects.filter(settled_at__isnull=False).values("job_id")
    rows = Earning.objects.filter(
        job_id__in=settled, judgment__status=JudgmentStatus.DROPPED, status__in=GIVEN_BACK, kept_after_drop=False,
    ).values_list("pk", "job_id", "worker_id", "amount")
    for pk, job_id, worker_id, amount in rows.iterator(chunk_size=5000):
        report.violations.append(
            f"earning {pk} (job {job_id}, worker {worker_id}): {amount} paid for a dropped judgment "
            f"with no decision to leave it with the worker"
        )


def reviewed_pay_where_its_review_says(report: AuditReport) -> None:
    """The pay a withdrawal review covers (the pending pay of the judgments its block dropped) is
    where the review says (README, Money rules, "The review cap"):
    - review pending: none of it released since the review opened (the release leaves it
      pending, billing/holding.under_review), unless billing_held_repair left it with the worker
      (kept_after_drop) and listed it; pay released before the block is the worker's;
    - review approved ("Withdrawn"): none of it still pending, or released after the decision,
      unless an upheld appeal gave it back (it then names the block that withdrew it). Before
      the held status, an approval on a settled job marked the pay kept and moved nothing: the
      worker has pay the review says was withdrawn. (Pay released between the review and the
      decision, before the release left it alone, was the worker's when the admin decided.)
    - held pay (HELD) only while a review of the pair is pending: otherwise no one will decide it.
    Reviews are few (only a rule's block over the cap opens one): a query or two each."""
    reviews = WithdrawalReview.objects.filter(
        status__in=(WithdrawalReview.Status.PENDING, WithdrawalReview.Status.APPROVED)).order_by("id")
    for review in reviews.iterator(chunk_size=1000):
        window = _block_window(review)
        if window is None:
            continue
        since, until = window
        covered = Earning.objects.filter(
            job_id=review.job_id, worker_id=review.worker_id, judgment__status=JudgmentStatus.DROPPED,
            withdrawn_by__isnull=True, amount__gt=0,
        )
        if until is not None:
            covered = covered.filter(created_at__lte=until)
        if since is not None:
            covered = covered.filter(created_at__gt=since)
        approved = review.status == WithdrawalReview.Status.APPROVED
        if approved:  # the decision moved nothing: the pay stayed pending, or was released since
            wrong = Q(status=Earning.Status.PENDING) | Q(
                status=Earning.Status.AVAILABLE,
                settled_transaction__created_at__gte=review.decided_at or review.created_at)
        else:  # kept: billing_held_repair found it released and left it with the worker, listed
            wrong = Q(status=Earning.Status.AVAILABLE, kept_after_drop=False,
                      settled_transaction__created_at__gte=review.created_at)
        for pk, amount, status in covered.filter(wrong).values_list("pk", "amount", "status").order_by("pk"):
            where = "pending" if status == Earning.Status.PENDING else "released"
            report.violations.append(
                f"earning {pk} (job {review.job_id}, worker {review.worker_id}): {amount} {where} though "
                + (f"withdrawal review {review.pk} was approved (withdrawn)" if approved
                   else f"its withdrawal review {review.pk} is still pending")
            )
    pending = WithdrawalReview.objects.filter(status=WithdrawalReview.Status.PENDING)
    held = Earning.objects.filter(status=Earning.Status.HELD).values_list("pk", "job_id", "worker_id", "amount")
    under_review = set(pending.values_list("job_id", "worker_id"))
    for pk, job_id, worker_id, amount in held.iterator(chunk_size=5000):
        if (job_id, worker_id) not in under_review:
            report.violations.append(
                f"earning {pk} (job {job_id}, worker {worker_id}): {amount} held with no withdrawal review pending"
            )


def _block_window(review: WithdrawalReview) -> tuple[datetime | None, datetime | None] | None:
    """When the judgments the review's block dropped were made (quality.appeals.block_window).
    None when no block is recorded."""
    blocks = QualityEvent.objects.filter(job_id=review.job_id, worker_id=review.worker_id,
                                         kind=QualityEvent.Kind.BLOCKED)
    block = (blocks.filter(pk=review.block_event_id) if review.block_event_id
             else blocks.filter(created_at__lte=review.created_at)).order_by("-id").first()
    if block is None:
        return None
    return appeals.block_window(job_id=review.job_id, worker_id=review.worker_id, block_event_id=block.pk)
