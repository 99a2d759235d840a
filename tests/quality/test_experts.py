"""Expert review: who is an expert, taking the next review, settling it, what the client sees.

Cast: Acme's dynamic job (2 judgments at most, target 0.95) gets split votes from Wendy ("cat")
and Walter ("dog") on every item, so every item ends up in expert review. Erin holds the
platform-wide expert qualification, Ezra too; Ada is an admin; Otto is Globex's own expert.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from marketplace import flows
from marketplace.accounts.models import User
from marketplace.errors import ApplicationError, Conflict, NotFound, NothingLeft, PermissionDenied
from marketplace.jobs.models import Job, JobStatus
from marketplace.jobs.services import job_transition
from marketplace.labeling.services import lease_claim
from marketplace.quality import experts
from marketplace.quality.models import ExpertReview
from tests.conftest import needs_postgres
from tests.factories import QualificationFactory, WorkerFactory, grant, open_job_with_items

pytestmark = pytest.mark.django_db


def split_job(wendy: User, walter: User, *, items: int = 2, **fields: object) -> Job:
    """A job whose every item went to expert review: one "cat" and one "dog" each."""
    job = open_job_with_items(
        items=items, overlap=2, max_overlap=2, target_confidence=Decimal("0.95"), **fields
    )
    for worker, label in ((wendy, "cat"), (walter, "dog")):
        for _ in range(items):
            lease = lease_claim(worker=worker, job=job)
            flows.work_submit(worker=worker, lease_id=lease.pk, label=label)
    assert ExpertReview.objects.filter(job=job).count() == items
    return job


@pytest.fixture
def erin(db: object) -> User:
    expert = WorkerFactory(username="erin")
    grant(expert, experts.expert_qualification())
    return expert


@pytest.fixture
def ezra(db: object) -> User:
    expert = WorkerFactory(username="ezra")
    grant(expert, experts.expert_qualification())
    return expert


def test_the_expert_qualification_is_created_once_on_first_use() -> None:
    first, again = experts.expert_qualification(), experts.expert_qualification()
    assert first.pk == again.pk and first.slug == "expert" and first.is_expert and first.owner_id is None


def test_experts_are_admins_and_workers_holding_an_expert_qualification(
    erin: User, wendy: User, alice: User, ada: User
) -> None:
    assert experts.is_expert(erin) and experts.is_expert(ada)
    assert not experts.is_expert(wendy) and not experts.is_expert(alice)
    grant(wendy, QualificationFactory())  # an ordinary skill makes no expert
    assert not experts.is_expert(wendy)
    erin.suspended_at = timezone.now()
    assert not experts.is_expert(erin)


def test_an_expert_takes_the_oldest_open_review_and_keeps_it_while_asking_again(
    wendy: User, walter: User, erin: User
) -> None:
    job = split_job(wendy, walter)
    first = ExpertReview.objects.filter(job=job).order_by("id").first()
    review = experts.expert_review_claim(expert=erin)
    assert review.pk == first.pk and review.assigned_to_id == erin.pk
    assert review.assigned_until > timezone.now() + timedelta(minutes=10)
    assert experts.expert_review_claim(expert=erin).pk == review.pk


def test_two_experts_get_different_reviews_and_a_third_finds_none_left(
    wendy: User, walter: User, erin: User, ezra: User, ada: User
) -> None:
    split_job(wendy, walter)
    taken = {experts.expert_review_claim(expert=erin).pk, experts.expert_review_claim(expert=ezra).pk}
    assert len(taken) == 2
    with pytest.raises(NothingLeft):
        experts.expert_review_claim(expert=ada)


def test_an_abandoned_review_goes_to_the_next_expert(wendy: User, walter: User, erin: User, ezra: User) -> None:
    split_job(wendy, walter, items=1)
    review = experts.expert_review_claim(expert=erin)
    ExpertReview.objects.filter(pk=review.pk).update(assigned_until=timezone.now() - timedelta(seconds=1))
    assert experts.expert_review_claim(expert=ezra).pk == review.pk


def test_regular_workers_and_clients_cannot_review(wendy: User, walter: User, alice: User) -> None:
    job = split_job(wendy, walter, items=1)
    review = ExpertReview.objects.get(job=job)
    for user in (wendy, alice):
        with pytest.raises(PermissionDenied):
            experts.expert_review_claim(expert=user)
        with pytest.raises(PermissionDenied):
            experts.expert_review_settle(expert=user, review_id=review.pk, label="cat")


def test_settling_records_the_experts_label(wendy: User, walter: User, erin: User) -> None:
    split_job(wendy, walter, items=1)
    review = experts.expert_review_claim(expert=erin)
    settled = experts.expert_review_settle(expert=erin, review_id=review.pk, label="dog")
    saved = ExpertReview.objects.get(pk=review.pk)
    assert saved.status == ExpertReview.Status.SETTLED and saved.label == "dog"
    assert saved.settled_by_id == erin.pk and saved.settled_at is not None and settled.pk == saved.pk
    # A retry is harmless; a different answer afterwards is a conflict; it is not served again.
    assert experts.expert_review_settle(expert=erin, review_id=review.pk, label="dog").label == "dog"
    with pytest.raises(Conflict):
        experts.expert_review_settle(expert=erin, review_id=review.pk, label="cat")
    with pytest.raises(NothingLeft):
        experts.expert_review_claim(expert=erin)


def test_an_unknown_label_is_refused(wendy: User, walter: User, erin: User) -> None:
    split_job(wendy, walter, items=1)
    review = experts.expert_review_claim(expert=erin)
    with pytest.raises(ApplicationError, match="Unknown label 'zebra'"):
        experts.expert_review_settle(expert=erin, review_id=review.pk, label="zebra")
    assert ExpertReview.objects.get(pk=review.pk).status == ExpertReview.Status.OPEN


def test_a_review_another_expert_holds_cannot_be_settled_over_their_head(
    wendy: User, walter: User, erin: User, ada: User
) -> None:
    split_job(wendy, walter, items=1)
    review = experts.expert_review_claim(expert=erin)
    with pytest.raises(Conflict, match="Another expert"):
        experts.expert_review_settle(expert=ada, review_id=review.pk, label="cat")
    # An admin may settle an unassigned review straight from a list, without claiming it.
    ExpertReview.objects.filter(pk=review.pk).update(assigned_to=None, assigned_until=None)
    assert experts.expert_review_settle(expert=ada, review_id=review.pk, label="cat").settled_by_id == ada.pk


def test_an_expert_never_reviews_an_item_they_judged_as_a_crowd_worker(wendy: User, walter: User) -> None:
    job = split_job(wendy, walter, items=1)
    grant(wendy, experts.expert_qualification())
    with pytest.raises(NothingLeft):
        experts.expert_review_claim(expert=wendy)
    with pytest.raises(PermissionDenied, match="judged this item yourself"):
        experts.expert_review_settle(expert=wendy, review_id=ExpertReview.objects.get(job=job).pk, label="cat")


def test_an_organizations_own_expert_reviews_only_that_organizations_jobs(
    wendy: User, walter: User, alice: User, carol: User
) -> None:
    acme_job = split_job(wendy, walter, items=1, organization=alice.organization)
    globex_job = split_job(wendy, walter, items=1, organization=carol.organization)
    otto = WorkerFactory(username="otto")
    grant(otto, QualificationFactory(owner=carol.organization, is_expert=True))
    assert experts.expert_review_claim(expert=otto).job_id == globex_job.pk
    with pytest.raises(NothingLeft):
        experts.expert_review_claim(expert=otto, job_id=acme_job.pk)
    with pytest.raises(NotFound):
        experts.expert_review_settle(
            expert=otto, review_id=ExpertReview.objects.get(job=acme_job).pk, label="cat"
        )


def test_reviews_of_a_cancelled_job_are_not_served(wendy: User, walter: User, erin: User) -> None:
    job = open_job_with_items(items=2, overlap=2, max_overlap=2, target_confidence=Decimal("0.95"))
    for worker, label in ((wendy, "cat"), (walter, "dog")):  # the same (started) item, split
        flows.work_submit(worker=worker, lease_id=lease_claim(worker=worker, job=job).pk, label=label)
    assert ExpertReview.objects.filter(job=job).exists()
    job_transition(job=Job.objects.get(pk=job.pk), to=JobStatus.CANCELLED)
    with pytest.raises(NothingLeft):
        experts.expert_review_claim(expert=erin)


def test_the_expert_sees_the_crowd_under_pseudonyms_with_every_label_counted(
    wendy: User, walter: User, erin: User
) -> None:
    split_job(wendy, walter, items=1)
    crowd = experts.crowd_view(review=experts.expert_review_claim(expert=erin))
    assert crowd.judgments == [{"worker": "Worker 1", "label": "cat"}, {"worker": "Worker 2", "label": "dog"}]
    assert crowd.counts == {"cat": 1, "dog": 1, "bird": 0}


def test_the_job_summary_counts_reviews_by_status_and_reason(wendy: User, walter: User, erin: User) -> None:
    job = split_job(wendy, walter, items=3)
    review = experts.expert_review_claim(expert=erin)
    experts.expert_review_settle(expert=erin, review_id=review.pk, label="cat")
    summary = experts.job_review_summary(job=job)
    assert (summary.open, summary.settled, summary.total) == (2, 1, 3)
    (reason,) = summary.reasons
    assert reason["open"] == 2 and reason["settled"] == 1 and "maximum of 2 judgments" in reason["reason"]


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_experts_asking_at_once_never_get_the_same_review(wendy: User, walter: User) -> None:
    """Threads with their own connections: SKIP LOCKED hands each expert a different review."""
    split_job(wendy, walter, items=6)
    crowd = [WorkerFactory() for _ in range(8)]
    for expert in crowd:
        grant(expert, experts.expert_qualification())
    start, taken, failures = threading.Barrier(len(crowd)), [], []

    def ask(expert: User) -> None:
        try:
            start.wait()
            taken.append(experts.expert_review_claim(expert=expert).pk)
        except NothingLeft:
            pass
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(expert,)) for expert in crowd]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert len(taken) == 6 and len(set(taken)) == 6  # six reviews, six experts, two left empty-handed
