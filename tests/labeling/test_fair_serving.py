"""Which job a worker gets next when they ask for any job (labeling/serving.py).

Three organizations post work of very different sizes: Acme a 2,000-item job, Globex a
300-item one, both open for a while and keeping a crowd of 30 workers busy; then Initech, a new
client, publishes a 20-item job. The crowd labels through the real services (lease_claim,
judgment_submit), one worker after another: each answers the item they hold and asks for any job.
The last test lets sixteen workers do the same at once, in threads (PostgreSQL only).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from marketplace.accounts.models import Organization, Role, User
from marketplace.errors import Conflict, NothingLeft
from marketplace.jobs.models import Job, JobQualification
from marketplace.labeling.models import JobBlock, Judgment, Lease, LeaseStatus
from marketplace.labeling.selectors import job_to_label_next, work_offers_for
from marketplace.labeling.services import judgment_submit, lease_claim
from tests.conftest import needs_postgres
from tests.factories import OrganizationFactory, QualificationFactory, grant, open_job_with_items
from tests.labeling.helpers import signed_in
from tests.threads import WAIT

pytestmark = pytest.mark.django_db

CROWD = 30


@pytest.fixture
def initech(db: Any) -> Organization:
    return OrganizationFactory(name="Initech", slug="initech")


@pytest.fixture
def crowd(db: Any) -> list[User]:
    """Workers who never log in (no password to hash: thirty hashes would be most of the test)."""
    return User.objects.bulk_create(
        [User(username=f"crowd-{n}", role=Role.WORKER, password=make_password(None)) for n in range(CROWD)]
    )


def big_jobs(acme: Organization, globex: Organization, **fields: Any) -> tuple[Job, Job]:
    return (open_job_with_items(items=2000, organization=acme, title="Acme 2,000", **fields),
            open_job_with_items(items=300, organization=globex, title="Globex 300"))


def busy(jobs: list[Job]) -> dict[str, int]:
    """Workers holding a live lease in each job now."""
    now = timezone.now()
    live = Counter(
        Lease.objects.filter(status=LeaseStatus.ACTIVE, expires_at__gt=now, job__in=jobs)
        .values_list("job__title", flat=True)
    )
    return {job.title: live[job.title] for job in jobs}


def answer_and_take_any(worker: User, lease: Lease | None) -> Lease:
    """What a worker of the crowd does: answer the item in hand, then ask for any job."""
    if lease is not None:
        judgment_submit(worker=worker, lease_id=lease.pk, label="cat")
    return lease_claim(worker=worker)


def test_a_new_small_job_starts_at_the_first_claims_while_the_crowd_is_busy_on_big_old_jobs(
    acme: Organization, globex: Organization, initech: Organization, crowd: list[User],
) -> None:
    acme_job, globex_job = big_jobs(acme, globex)
    held = {worker.pk: answer_and_take_any(worker, None) for worker in crowd}
    for worker in crowd:  # the crowd has been at it for a while
        held[worker.pk] = answer_and_take_any(worker, held[worker.pk])
    # Equal shares of the crowd, though Acme's job is almost seven times Globex's.
    assert busy([acme_job, globex_job]) == {"Acme 2,000": 15, "Globex 300": 15}

    small = open_job_with_items(items=20, organization=initech, title="Initech 20")
    served = []
    for worker in crowd:  # one round: each worker answers and asks for any job
        held[worker.pk] = answer_and_take_any(worker, held[worker.pk])
        served.append(held[worker.pk].job.title)

    # The first claims after it was published all go to it (at least 7, whoever asks first)...
    assert served[:7] == ["Initech 20"] * 7
    # ...until Initech has its share of the crowd: a third each, give or take one worker.
    shares = busy([acme_job, globex_job, small])
    assert sum(shares.values()) == CROWD and max(shares.values()) - min(shares.values()) <= 1, shares
    for worker in crowd[:7]:  # those first seven answer: Initech's first judgments are in
        held[worker.pk] = answer_and_take_any(worker, held[worker.pk])
    assert Judgment.objects.filter(job=small).count() == 7


def test_an_organization_with_two_jobs_gets_one_share_not_two(
    acme: Organization, globex: Organization, crowd: list[User],
) -> None:
    first = open_job_with_items(items=200, organization=acme, title="Acme first")
    second = open_job_with_items(items=200, organization=acme, title="Acme second")
    other = open_job_with_items(items=200, organization=globex, title="Globex")
    for worker in crowd:
        lease_claim(worker=worker)

    shares = busy([first, second, other])
    assert shares["Globex"] == 15 and sorted([shares["Acme first"], shares["Acme second"]]) == [7, 8]


def test_job_priority_wins_over_fairness(
    acme: Organization, globex: Organization, initech: Organization, crowd: list[User],
) -> None:
    urgent, globex_job = big_jobs(acme, globex, priority=5)
    small = open_job_with_items(items=20, organization=initech, title="Initech 20")
    for worker in crowd:
        lease_claim(worker=worker)

    # Acme's urgent job takes the whole crowd while it has items for them.
    assert busy([urgent, globex_job, small]) == {"Acme 2,000": CROWD, "Globex 300": 0, "Initech 20": 0}
    assert [offer.job.title for offer in work_offers_for(worker=crowd[0])] == [
        "Acme 2,000", "Globex 300", "Initech 20",  # urgent first; then the least busy, oldest first
    ]


def test_no_claim_serves_a_job_the_worker_may_not_take_however_starved_it_is(
    acme: Organization, initech: Organization, wendy: User, walter: User, crowd: list[User],
) -> None:
    acme_job = open_job_with_items(items=2000, organization=acme, title="Acme 2,000")
    gated = open_job_with_items(items=20, organization=initech, title="Initech gated")
    skill = QualificationFactory()
    JobQualification.objects.create(job=gated, qualification=skill, min_score="0.8")
    JobBlock.objects.create(job=gated, worker=walter, reason="copied answers")
    grant(walter, skill)
    for worker in crowd[:10]:
        lease_claim(worker=worker)

    assert lease_claim(worker=wendy).job == acme_job  # not qualified
    assert lease_claim(worker=walter).job == acme_job  # blocked
    grant(wendy, skill, "0.9")
    assert job_to_label_next(worker=wendy, now=timezone.now()) == acme_job  # her live lease first
    Lease.objects.filter(worker=wendy).update(status=LeaseStatus.RELEASED)
    assert lease_claim(worker=wendy).job == gated  # qualified now: the starved job is hers


def test_two_workers_asking_for_any_job_never_share_an_item_beyond_its_overlap(
    initech: Organization, crowd: list[User],
) -> None:
    small = open_job_with_items(items=5, organization=initech, title="Initech 5", overlap=2)
    taken = Counter(lease_claim(worker=worker).item_id for worker in crowd[:10])

    assert sorted(taken.values()) == [2] * 5  # every slot taken once, none twice
    assert Lease.objects.filter(job=small).count() == 10


def test_label_any_job_opens_the_least_busy_job_that_still_has_work_for_the_worker(
    acme: Organization, globex: Organization, initech: Organization, wendy: User, crowd: list[User],
) -> None:
    acme_job, globex_job = big_jobs(acme, globex)
    for worker in crowd:
        lease_claim(worker=worker)
    small = open_job_with_items(items=1, organization=initech, title="Initech 1")
    assert job_to_label_next(worker=wendy, now=timezone.now()) == small

    judgment_submit(worker=wendy, lease_id=lease_claim(worker=wendy, job=small).pk, label="cat")
    assert job_to_label_next(worker=wendy, now=timezone.now()) != small  # she has seen its item
    assert job_to_label_next(worker=wendy, now=timezone.now()) in (acme_job, globex_job)


def test_the_portal_sends_a_worker_on_to_the_job_that_needs_workers_most(
    acme: Organization, initech: Organization, wendy: User, crowd: list[User],
) -> None:
    acme_job = open_job_with_items(items=2000, organization=acme, title="Acme 2,000")
    for worker in crowd[:10]:
        lease_claim(worker=worker)
    small = open_job_with_items(items=20, organization=initech, title="Initech 20")
    browser = signed_in(wendy)

    listed = browser.get(reverse("work-list")).content.decode()
    assert listed.index("Initech 20") < listed.index("Acme 2,000")  # nobody on it yet: listed first
    assert browser.get(reverse("work-label-any")).url == reverse("work-label", args=[small.pk])
    page = browser.get(reverse("work-label", args=[acme_job.pk])).content.decode()
    assert f'href="{reverse("work-label-any")}"' in page  # a job run dry offers the next one


def test_a_submit_keeps_to_its_job_unless_it_asks_for_any(
    acme: Organization, initech: Organization, wendy: User, crowd: list[User], client_for: Any,
) -> None:
    acme_job = open_job_with_items(items=2000, organization=acme, title="Acme 2,000")
    for worker in crowd[:10]:
        lease_claim(worker=worker)
    api = client_for(wendy)
    first = api.post("/api/v1/work/next/", {}, format="json").json()
    assert first["job"]["id"] == acme_job.pk
    small = open_job_with_items(items=20, organization=initech, title="Initech 20")

    same = api.post(f"/api/v1/work/leases/{first['lease']}/submit/", {"label": "cat", "next": True},
                    format="json").json()
    assert same["next"]["job"]["id"] == acme_job.pk  # `next` alone: the same job, as before
    anywhere = api.post(f"/api/v1/work/leases/{same['next']['lease']}/submit/",
                        {"label": "cat", "next": True, "next_from": "any"}, format="json")
    assert anywhere.status_code == 201, anywhere.content
    assert anywhere.json()["next"]["job"]["id"] == small.pk  # Initech had nobody on it
    refused = api.post(f"/api/v1/work/leases/{anywhere.json()['next']['lease']}/submit/",
                       {"label": "cat", "next": True, "next_from": "elsewhere"}, format="json")
    assert refused.status_code == 400


def _label_any_until_dry(worker: User, failures: list[BaseException]) -> None:
    """One worker in its own thread (its own connection): answer whatever "any job" brings."""
    try:
        for _ in range(1000):
            try:
                lease = lease_claim(worker=worker)
            except NothingLeft:
                return
            except Conflict:
                continue  # busy: what is left is held by others this moment, or was taken: ask again
            judgment_submit(worker=worker, lease_id=lease.pk, label="cat")
    except BaseException as exc:  # noqa: BLE001 - reported by the main thread
        failures.append(exc)
    finally:
        connection.close()


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_sixteen_workers_asking_for_any_job_at_once_fill_every_slot_exactly_once(
    acme: Organization, globex: Organization, initech: Organization,
) -> None:
    jobs = [open_job_with_items(items=items, organization=org, overlap=2)
            for org, items in ((acme, 60), (globex, 20), (initech, 5))]
    workers = User.objects.bulk_create(
        [User(username=f"racer-{n}", role=Role.WORKER, password=make_password(None)) for n in range(16)]
    )
    failures: list[BaseException] = []
    threads = [threading.Thread(target=_label_any_until_dry, args=(w, failures)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)

    assert failures == []
    per_item = Counter(Judgment.objects.filter(job__in=jobs).values_list("item_id", flat=True))
    assert len(per_item) == 85 and set(per_item.values()) == {2}  # every slot once, none twice
    assert not Lease.objects.filter(status=LeaseStatus.ACTIVE, job__in=jobs).exists()
