"""Audit checks on dropped judgments' pay: who withdrew it, who gave it back, who kept it
(billing/audit.py runs them; billing/restoring.py and billing/holding.py write what they read).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from marketplace.billing.models import Earning, JobBudget
from marketplace.labeling.models import JudgmentStatus
from marketplace.quality.models import QualityEvent

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
