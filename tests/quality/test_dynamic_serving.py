"""Who a dynamic job serves (quality/serving.py): the product reads what it knows of a worker and
asks the pure rule; the claim asks it through labeling/gates.py. Cast: Nadia is new to the marketplace; Ray's record elsewhere is right a
quarter of the time on a two-label question; Greta's is right nine times in ten."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import NothingLeft
from marketplace.jobs.models import Job
from marketplace.labeling.services import lease_claim
from marketplace.quality.models import WorkerSkill
from marketplace.quality.serving import job_serves_worker
from tests.factories import WorkerFactory, open_job_with_items

pytestmark = pytest.mark.django_db

TWO_LABELS = [{"key": "yes", "name": "Yes"}, {"key": "no", "name": "No"}]


def worker_with_record(right: float, seen: float) -> User:
    worker = WorkerFactory()
    WorkerSkill.objects.create(worker=worker, right=right, seen=seen, updated_at=timezone.now())
    return worker


def dynamic_job() -> Job:
    return open_job_with_items(
        items=4, labels=TWO_LABELS, overlap=2, max_overlap=7, target_confidence=Decimal("0.9")
    )


def test_a_dynamic_job_serves_a_worker_nobody_knows() -> None:
    nadia = WorkerFactory()
    assert job_serves_worker(job_id=dynamic_job().pk, worker_id=nadia.pk)


def test_a_dynamic_job_does_not_serve_a_worker_long_known_to_be_near_chance() -> None:
    ray = worker_with_record(right=10.0, seen=40.0)
    greta = worker_with_record(right=36.0, seen=40.0)
    job = dynamic_job()
    assert not job_serves_worker(job_id=job.pk, worker_id=ray.pk)
    assert job_serves_worker(job_id=job.pk, worker_id=greta.pk)


def test_a_fixed_overlap_job_serves_everyone() -> None:
    ray = worker_with_record(right=10.0, seen=40.0)
    job = open_job_with_items(items=4, labels=TWO_LABELS, overlap=3)
    assert job_serves_worker(job_id=job.pk, worker_id=ray.pk)


def test_the_claim_passes_ray_over_in_a_dynamic_job_and_serves_him_elsewhere() -> None:
    ray = worker_with_record(right=10.0, seen=40.0)
    dynamic = dynamic_job()
    fixed = open_job_with_items(items=4, labels=TWO_LABELS, overlap=3)

    with pytest.raises(NothingLeft, match="Nothing in this job for you right now"):
        lease_claim(worker=ray, job=dynamic)
    assert lease_claim(worker=ray, job=None).job_id == fixed.pk  # across jobs: the fixed one
    assert lease_claim(worker=worker_with_record(right=36.0, seen=40.0), job=dynamic).job_id == dynamic.pk


def test_with_the_margin_at_zero_a_dynamic_job_serves_everyone(settings: object) -> None:
    settings.QUORUM_DYNAMIC_SERVE_MARGIN = Decimal("0")  # type: ignore[attr-defined]
    ray = worker_with_record(right=10.0, seen=40.0)

    assert lease_claim(worker=ray, job=dynamic_job()).item_id is not None
