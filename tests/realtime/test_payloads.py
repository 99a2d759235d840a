"""job.progress is read by one statement built once per process; it says what the ORM read said."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from marketplace import flows, flows_experts, flows_more
from marketplace.accounts.models import User
from marketplace.billing.models import JobBudget
from marketplace.billing.selectors import job_charge
from marketplace.jobs.models import Job
from marketplace.labeling.services import lease_claim
from marketplace.money import money
from marketplace.realtime import payloads
from marketplace.quality import experts
from marketplace.quality.models import ExpertReview
from tests.factories import JobFactory, WorkerFactory, fund, grant, open_job_with_items

pytestmark = pytest.mark.django_db


def progress_as_the_orm_read_it(job_id: int) -> tuple[int, dict[str, Any]] | None:
    """The payload as the ORM reads it (the tallies summed by JobManager), its `spent` what the
    settlement would charge now (billing.selectors.job_charge)."""
    row = (
        Job.objects.filter(pk=job_id)
        .values("organization_id", "status", "item_count", "completed_item_count", "judgment_count")
        .first()
    )
    if row is None:
        return None
    budget = (
        JobBudget.objects.filter(job_id=job_id)
        .values("budget", "items", "price_per_item", "charged", "settled_at")
        .first()
    )
    total, done = row["item_count"], row["completed_item_count"]
    spent, escrowed = Decimal("0.00"), Decimal("0.00")
    if budget is not None:
        escrowed = budget["budget"]
        if budget["settled_at"] is not None and budget["charged"] is not None:
            spent = budget["charged"]
        else:  # what settling now would charge: the settlement's own computation
            spent = job_charge(job=Job.objects.get(pk=job_id), budget=JobBudget.objects.get(job_id=job_id)).total
    return row["organization_id"], {
        "type": "job.progress", "job": job_id, "status": row["status"], "items_total": total,
        "items_done": done, "judgments": row["judgment_count"],
        "percent": round(100.0 * done / total, 1) if total else 0.0,
        "spent": f"{money(spent):.2f}", "budget": f"{money(escrowed):.2f}",
    }


def label(job: Job, worker: User, times: int) -> None:
    for _ in range(times):
        lease = lease_claim(worker=worker, job=job)
        flows.work_submit(worker=worker, lease_id=lease.pk, label="cat")


def test_a_draft_without_a_budget_reads_the_same_zeros() -> None:
    job = JobFactory()
    assert payloads.job_progress(job_id=job.pk) == progress_as_the_orm_read_it(job.pk)
    assert payloads.job_progress(job_id=job.pk)[1]["budget"] == "0.00"  # type: ignore[index]


def test_a_job_being_labeled_reads_the_same_counts_and_cost() -> None:
    job = open_job_with_items(items=4, overlap=1)
    label(job, WorkerFactory(), 2)
    label(job, WorkerFactory(), 1)

    built = payloads.job_progress(job_id=job.pk)
    assert built == progress_as_the_orm_read_it(job.pk)
    _, message = built  # type: ignore[misc]
    assert (message["items_done"], message["judgments"], message["percent"]) == (3, 3, 75.0)
    assert type(message["items_done"]) is int and type(message["judgments"]) is int  # JSON-safe
    assert message["spent"] != "0.00"


def test_delivered_items_reopened_expert_reviews_and_judgments_given_count_in_the_cost_so_far(
    alice: User, settings: Any
) -> None:
    """Three items delivered, then sent back for one more judgment each (one given), and one expert
    review settled: the live cost is what cancelling now would charge (3 items, the review, the
    judgment given), as the job page says; before, it fell to the items complete right now."""
    settings.QUORUM_EXPERT_REVIEW_PRICE, settings.QUORUM_EXPERT_REVIEW_PAY = "0.40", "0.25"
    job = open_job_with_items(items=4, overlap=1, organization=alice.organization)
    label(job, WorkerFactory(), 3)
    delivered = list(job.items.filter(is_complete=True).values_list("pk", flat=True))
    fund(alice.organization, "5.00")
    flows_more.items_more_judgments(job=job, user=alice, item_ids=delivered, more=1, key="m-1")
    flows_experts.expert_reviews_ask(job=job, user=alice, item_ids=delivered[:1], key="x-1")
    expert = WorkerFactory()
    grant(expert, experts.expert_qualification())
    flows_experts.expert_review_settle(expert=expert, review_id=ExpertReview.objects.get(job=job).pk, label="cat")
    label(job, WorkerFactory(), 1)  # one of the judgments asked for: its pay is the client's

    built = payloads.job_progress(job_id=job.pk)
    assert built == progress_as_the_orm_read_it(job.pk)
    terms = JobBudget.objects.get(job=job)
    assert built[1]["items_done"] == 1  # type: ignore[index]
    spent = 3 * terms.price_per_item + Decimal("0.40") + terms.pay_per_judgment
    assert built[1]["spent"] == f"{spent:.2f}"  # type: ignore[index]


def test_a_settled_job_reads_its_charge() -> None:
    job = open_job_with_items(items=2, overlap=1)
    label(job, WorkerFactory(), 1)
    JobBudget.objects.filter(job=job).update(settled_at=timezone.now(), charged=Decimal("0.15"))

    built = payloads.job_progress(job_id=job.pk)
    assert built == progress_as_the_orm_read_it(job.pk)
    assert built[1]["spent"] == "0.15"  # type: ignore[index]


def test_a_job_gone_reads_nothing() -> None:
    assert payloads.job_progress(job_id=987_654_321) is None
