"""Across jobs ("Label any job", the API's claim without a job) a reload keeps the worker's item
too: a lease their closed page returned comes back first, as a live one would
(labeling/serving.py, returning.py), where a claim in its job would take it back.

Wendy's labeling page A closes (or reloads) and its beacon gives her item back; her next claim
(page B) takes it back. Ray is a worker a dynamic job expects to be near chance.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.jobs.models import Job
from marketplace.labeling.models import Lease, LeaseStatus
from marketplace.labeling.services import lease_claim
from marketplace.quality.models import WorkerSkill
from tests.factories import WorkerFactory, open_job_with_items
from tests.labeling.helpers import signed_in
from tests.labeling.test_page_reload import B, shown, status
from tests.labeling.test_take_back import returned_by_page_a

pytestmark = pytest.mark.django_db

TWO_LABELS = [{"key": "yes", "name": "Yes"}, {"key": "no", "name": "No"}]


def two_jobs(client: Client) -> tuple[Job, Job, Lease]:
    """Wendy's page in the low-priority job returned her item; a job of higher priority has work."""
    low = open_job_with_items(items=3, overlap=1, priority=0)
    high = open_job_with_items(items=3, overlap=1, priority=5)
    return low, high, returned_by_page_a(client, low)


def test_a_claim_across_jobs_takes_back_the_returned_item_first(wendy: User) -> None:
    client = signed_in(wendy)
    _, _, lease = two_jobs(client)

    taken = lease_claim(worker=wendy, job=None, page=B)

    assert taken.pk == lease.pk
    assert Lease.objects.get(pk=lease.pk).page == B and status(lease.pk) == LeaseStatus.ACTIVE


def test_the_apis_claim_across_jobs_takes_back_the_returned_item(wendy: User, client_for: object) -> None:
    _, _, lease = two_jobs(signed_in(wendy))

    reply = client_for(wendy).post("/api/v1/work/next/", {}, format="json")  # type: ignore[operator]

    assert reply.status_code == 200, reply.content
    assert reply.json()["lease"] == lease.pk


def test_label_any_job_opens_the_job_of_the_returned_item(wendy: User) -> None:
    client = signed_in(wendy)
    low, _, lease = two_jobs(client)

    reply = client.get(reverse("work-label-any"))

    assert reply.status_code == 302 and reply["Location"] == reverse("work-label", args=[low.pk])
    assert shown(client, low, B) == lease.pk


def test_label_any_job_passes_a_job_whose_gate_turns_the_worker_away() -> None:
    ray = WorkerFactory()
    client = signed_in(ray)
    dynamic = open_job_with_items(items=4, labels=TWO_LABELS, overlap=2, max_overlap=7,
                                  target_confidence=Decimal("0.9"), priority=0)
    returned_by_page_a(client, dynamic)
    fixed = open_job_with_items(items=3, overlap=1, priority=5)
    WorkerSkill.objects.create(worker=ray, right=10.0, seen=40.0, updated_at=timezone.now())

    reply = client.get(reverse("work-label-any"))

    assert reply["Location"] == reverse("work-label", args=[fixed.pk])


def test_label_any_job_passes_a_job_whose_gate_turns_the_worker_away_though_he_holds_nothing_there() -> None:
    ray = WorkerFactory()
    client = signed_in(ray)
    open_job_with_items(items=4, labels=TWO_LABELS, overlap=2, max_overlap=7,
                        target_confidence=Decimal("0.9"), priority=5)  # first in the order, no lease of his
    fixed = open_job_with_items(items=3, overlap=1, priority=0)
    WorkerSkill.objects.create(worker=ray, right=10.0, seen=40.0, updated_at=timezone.now())

    reply = client.get(reverse("work-label-any"))

    assert reply["Location"] == reverse("work-label", args=[fixed.pk])
