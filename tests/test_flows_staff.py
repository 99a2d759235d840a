"""Staff never act as a client or a worker, even through the flows themselves (defence in depth:
the portal and the API refuse them first). Every flow a client or a worker performs refuses an
admin with 403 and changes nothing.

Acme's job is open with items, funded; Ada is an admin; Alice is Acme's client; Wendy, a worker,
has answered one item.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from marketplace import flows, flows_experts, flows_more, flows_qualifications
from marketplace.accounts.models import Organization, User
from marketplace.errors import PermissionDenied
from marketplace.jobs.models import Job, JobStatus
from marketplace.labeling.models import Judgment, Lease
from marketplace.labeling.services import lease_claim
from tests.factories import QualificationFactory, open_job_with_items

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(acme: Organization, alice: User, wendy: User) -> Job:
    job = open_job_with_items(items=4, overlap=3, organization=acme)
    lease = lease_claim(worker=wendy, job=job)
    flows.work_submit(worker=wendy, lease_id=lease.pk, label="cat")
    return job


@pytest.fixture
def draft(acme: Organization) -> Job:
    return open_job_with_items(items=2, organization=acme, publish=False)


def _items(job: Job) -> list[int]:
    return list(job.items.order_by("pk").values_list("pk", flat=True)[:2])


STAFF_ACTIONS: dict[str, Callable[[Job, User], Any]] = {
    "job_create": lambda job, ada: flows.job_create(user=ada, fields={"title": "Mine", "labels": job.labels}),
    "job_update": lambda job, ada: flows.job_update(job=job, user=ada, fields={"title": "Renamed"}),
    "job_publish": lambda job, ada: flows.job_publish(job=Job.objects.get(status=JobStatus.DRAFT), user=ada),
    "job_pause": lambda job, ada: flows.job_pause(job=job, user=ada),
    "job_resume": lambda job, ada: flows.job_resume(job=job, user=ada),
    "job_cancel": lambda job, ada: flows.job_cancel(job=job, user=ada),
    "work_submit": lambda job, ada: flows.work_submit(worker=ada, lease_id=Lease.objects.get().pk, label="dog"),
    "work_undo": lambda job, ada: flows.work_undo(worker=ada, judgment_id=Judgment.objects.get().pk),
    "expert_reviews_quote": lambda job, ada: flows_experts.expert_reviews_quote(job=job, user=ada, item_ids=_items(job)),
    "expert_reviews_ask": lambda job, ada: flows_experts.expert_reviews_ask(job=job, user=ada, item_ids=_items(job),
                                                                          key="staff-1"),
    "items_more_judgments_quote": lambda job, ada: flows_more.items_more_judgments_quote(job=job, user=ada, items=2,
                                                                                         more=1),
    "items_more_judgments": lambda job, ada: flows_more.items_more_judgments(job=job, user=ada, item_ids=_items(job),
                                                                            more=1, key="staff-2"),
    "qualification_gold_copy": lambda job, ada: flows_qualifications.qualification_gold_copy(
        user=ada, qualification=QualificationFactory(), job_id=job.pk, training_set=False),
}


@pytest.mark.parametrize("action", list(STAFF_ACTIONS))
def test_an_admin_cannot_perform_a_client_or_worker_flow(
    action: str, job: Job, draft: Job, ada: User, wendy: User
) -> None:
    before = (list(Job.objects.order_by("pk").values_list("status", "title")),
              list(Judgment.objects.values_list("pk", "worker_id")))

    with pytest.raises(PermissionDenied):
        STAFF_ACTIONS[action](job, ada)

    after = (list(Job.objects.order_by("pk").values_list("status", "title")),
             list(Judgment.objects.values_list("pk", "worker_id")))
    assert after == before


def test_the_client_still_performs_them(job: Job, alice: User) -> None:
    assert flows.job_pause(job=job, user=alice).status == JobStatus.PAUSED
    assert flows.job_resume(job=job, user=alice).status == JobStatus.OPEN
