"""Audit checks on dropped judgments' pay: who withdrew it, who gave it back, who kept it
(billing/audit.py runs them; billing/restoring.py and billing/holding.py write what they read).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from marketplace.billing import holding
from marketplace.billing.models import Earning, JobBudget
from marketplace.labeling.models import JudgmentStatus
from marketplace.quality import appeals
from marketplace.quality.models import QualityEvent, WithdrawalReview

if TYPE_CHECKING:
    from marketplace.billing.audit import AuditReport

GIVEN_BACK = (Earning.Status.PENDING, Earning.Status.AVAILABLE)
ZERO = Decimal("0.00")


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
    """The pay a pending withdrawal review covers (holding.review_pay: the pay of the judgments its
    block dropped) is where the review says (README, Money rules, "The review cap"): none of it
    released since the review opened (the release leaves it pending, billing/holding.under_review),
    unless billing_held_repair left it with the worker (kept_after_drop) and listed it; pay
    released before the block is the worker's. Held pay (HELD) only while a review of the pair is
    pending: otherwise no one will decide it. Reviews are few (only a rule's block over the cap
    opens one): a query or two each."""
    reviews = WithdrawalReview.objects.filter(status=WithdrawalReview.Status.PENDING).order_by("id")
    for review in reviews.iterator(chunk_size=1000):
        block_id = appeals.review_block_id(review=review)
        if block_id is None:
            continue
        released = holding.released_under_review(review=review, block_event_id=block_id).filter(kept_after_drop=False)
        for pk, amount in released.values_list("pk", "amount").order_by("pk"):
            report.violations.append(
                f"earning {pk} (job {review.job_id}, worker {review.worker_id}): {amount} released though "
                f"its withdrawal review {review.pk} is still pending")
    pending = WithdrawalReview.objects.filter(status=WithdrawalReview.Status.PENDING)
    held = Earning.objects.filter(status=Earning.Status.HELD).values_list("pk", "job_id", "worker_id", "amount")
    under_review = set(pending.values_list("job_id", "worker_id"))
    for pk, job_id, worker_id, amount in held.iterator(chunk_size=5000):
        if (job_id, worker_id) not in under_review:
            report.violations.append(
                f"earning {pk} (job {job_id}, worker {worker_id}): {amount} held with no withdrawal review pending"
            )


def approved_reviews_took_their_pay(report: AuditReport) -> None:
    """An approved review ("Withdrawn") took its pay (holding.review_pay): none of it still pending,
    and none released since the review opened beyond what the review records as left with the
    worker (WithdrawalReview.left_with_worker: released pay is never taken back, so a decision
    records it, and billing_kept_repair records it for older decisions). Before today's code:
    - pay released while the review was pending (releases did not wait for reviews), then
      approved: the withdrawal found it released and left it, recording nothing;
    - an approval on a settled job before the held status marked the pay kept and moved nothing:
      it stayed pending, or the release made it available after the decision.
    `billing_kept_repair` withdraws what is still pending and records what was released. An
    upheld appeal's pay given back names its block and is not this review's."""
    reviews = WithdrawalReview.objects.filter(status=WithdrawalReview.Status.APPROVED).order_by("id")
    for review in reviews.iterator(chunk_size=1000):
        block_id = appeals.review_block_id(review=review)
        if block_id is None:
            continue
        where = f"(job {review.job_id}, worker {review.worker_id})"
        pay = holding.review_pay(review=review, block_event_id=block_id)
        for pk, amount in pay.filter(status=Earning.Status.PENDING).values_list("pk", "amount").order_by("pk"):
            report.violations.append(
                f"earning {pk} {where}: {amount} pending though withdrawal review {review.pk} was approved (withdrawn)")
        released = list(holding.released_under_review(review=review, block_event_id=block_id)
                        .values_list("pk", "amount", "settled_transaction__created_at").order_by("pk"))
        recorded = review.left_with_worker or ZERO
        if sum((amount for _, amount, _ in released), ZERO) == recorded:
            continue
        decided = review.decided_at or review.created_at
        for pk, amount, at in released:
            when = "after the decision" if at >= decided else "while the review was pending"
            report.violations.append(
                f"earning {pk} {where}: {amount} released {when}, though withdrawal review {review.pk} was "
                f"approved (withdrawn), and the review records {recorded} left with the worker")
        if not released:
            report.violations.append(
                f"withdrawal review {review.pk} {where} records {recorded} left with the worker, but none of "
                f"its pay was released")
