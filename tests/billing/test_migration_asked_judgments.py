"""Migration billing 0018: more judgments asked before Item.asked_judgments existed are charged.

Alice's job has 11 items at overlap 1; a worker delivers 10, and she asks for 2 more judgments on
those 10 (holding their worst-case pay) before jobs 0020 recorded what was asked, so the items
say 0. The backfill restores the 20 asked (her job has no dynamic overlap: every extra judgment
was hers), and when she cancels after one more worker she pays 10 items and the 10 judgments
given at the job's pay, recomputed here. A dynamic job's extra judgments (Quorum's own, or a
mix no row tells apart) and a settled job's items are left as they are.
"""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.apps import apps

from marketplace import flows, flows_more
from marketplace.accounts.models import User
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import JobBudget
from marketplace.billing.selectors import organization_balance
from marketplace.jobs.models import Item, Job
from tests.billing.helpers import work_through_flow
from tests.factories import WorkerFactory, fund, open_job_with_items

MIGRATION = importlib.import_module("marketplace.billing.migrations.0018_item_asked_judgments_backfill")

pytestmark = pytest.mark.django_db
CENT = Decimal("0.01")


def _asked(job: Job) -> int:
    return sum(Item.objects.filter(job=job).values_list("asked_judgments", flat=True))


def _asked_before_0020(alice: User) -> tuple[Job, Decimal]:
    """Returns the job and all of Alice's money (balance and escrow) before her request."""
    job = open_job_with_items(items=11, overlap=1, organization=alice.organization)
    first = WorkerFactory()
    for _ in range(10):
        work_through_flow(first, job)
    delivered = list(job.items.filter(is_complete=True).values_list("pk", flat=True))
    fund(job.organization, Decimal("100.00"))
    money_before = organization_balance(organization=job.organization) + JobBudget.objects.get(job=job).budget
    flows_more.items_more_judgments(job=job, user=alice, item_ids=delivered, more=2, key="m-1")
    Item.objects.filter(job=job).update(asked_judgments=0)  # what the rows say from before 0020
    return job, money_before


def test_the_backfill_charges_the_judgments_asked_before_the_field_existed(alice: User) -> None:
    job, money_before = _asked_before_0020(alice)

    MIGRATION.asked_from_extra(apps, None)

    assert _asked(job) == 20
    second = WorkerFactory()
    for _ in range(10):
        work_through_flow(second, job)  # the reopened items are served first
    flows.job_cancel(job=Job.objects.get(pk=job.pk), user=alice)
    terms = JobBudget.objects.get(job=job)
    expected = (10 * terms.price_per_item + 10 * terms.pay_per_judgment).quantize(CENT)
    assert money_before - organization_balance(organization=job.organization) == expected
    assert terms.extra_judgments == 10
    assert ledger_audit().violations == []


def test_dynamic_and_settled_jobs_are_left_as_they_are(alice: User) -> None:
    dynamic = open_job_with_items(items=2, overlap=1, organization=alice.organization)
    Job.objects.filter(pk=dynamic.pk).update(max_overlap=3, target_confidence=Decimal("0.9"))
    Item.objects.filter(job=dynamic).update(extra_judgments=1)  # dynamic overlap's "one more"
    settled, _ = _asked_before_0020(alice)
    flows.job_cancel(job=Job.objects.get(pk=settled.pk), user=alice)

    MIGRATION.asked_from_extra(apps, None)

    assert _asked(dynamic) == 0 and _asked(settled) == 0
