"""Helpers for the billing tests. The cast (alice, wendy, ada...) comes from tests/conftest.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from marketplace import flows
from marketplace.accounts.models import Organization, User
from marketplace.billing.models import Earning, Tier
from marketplace.billing.services import job_escrow_open, judgment_pay, topup_record
from marketplace.errors import NothingLeft
from marketplace.jobs.models import Job
from marketplace.labeling.services import judgment_submit, lease_claim
from tests.factories import open_job_with_items

D = Decimal


def tier(slug: str, *, price: str, pay: str, overlap: int = 3, gold_rate: str = "0") -> Tier:
    """A tier of the test's own, for exact figures (the seeded tiers are covered in test_pricing)."""
    return Tier.objects.create(
        slug=slug,
        name=slug.title(),
        overlap=overlap,
        gold_rate=D(gold_rate),
        price_per_item=D(price),
        pay_per_judgment=D(pay),
        promised_accuracy=D("0.9"),
        assumed_worker_accuracy=D("0.8"),
    )


def fund(admin: User, organization: Organization, amount: str, ref: str = "wire-1") -> None:
    topup_record(admin=admin, organization=organization, amount=D(amount), payment_reference=ref)


def published(organization: Organization, *, items: int, **fields: Any) -> Job:
    """A job published with its escrow opened (what the publish flow will do)."""
    with transaction.atomic():
        job = open_job_with_items(organization=organization, items=items, **fields)
        job_escrow_open(job=job)
    job.refresh_from_db()
    return job


def work(worker: User, job: Job, label: str = "cat") -> Earning | None:
    """One next-item + submit + pay, as the submit flow will run it: all or nothing.
    None when no item is left for the worker."""
    try:
        with transaction.atomic():
            lease = lease_claim(worker=worker, job=job)
            judgment = judgment_submit(worker=worker, lease_id=lease.pk, label=label)
            return judgment_pay(judgment=judgment)
    except NothingLeft:
        return None


def work_all(worker: User, job: Job, label: str = "cat") -> list[Earning]:
    earnings = []
    while (earning := work(worker, job, label)) is not None:
        earnings.append(earning)
    return earnings


def work_through_flow(worker: User, job: Job, label: str = "cat") -> Earning | None:
    """One next item, then the real submit flow: pay, quality rules, and (when it completes the
    job) the promise check and settlement. None when no item is left for the worker."""
    try:
        lease = lease_claim(worker=worker, job=job)
    except NothingLeft:
        return None
    submitted = flows.work_submit(worker=worker, lease_id=lease.pk, label=label)
    return Earning.objects.filter(judgment=submitted.judgment).first()
