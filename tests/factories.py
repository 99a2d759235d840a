"""factory-boy factories. Build through services where a service owns the write (items, jobs)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import factory

from marketplace.accounts.models import Organization, Qualification, Role, User, WorkerQualification
from marketplace.jobs.models import Job, JobStatus
from marketplace.jobs.services import ItemRow, item_bulk_create, job_transition

PASSWORD = "correct-horse-battery-staple"

THREE_LABELS = [
    {"key": "cat", "name": "Cat", "shortcut": "c"},
    {"key": "dog", "name": "Dog", "shortcut": "d"},
    {"key": "bird", "name": "Bird", "shortcut": "b"},
]


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)
    role = Role.WORKER

    @factory.post_generation
    def _save(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:  # noqa: N805
        if create:
            obj.save()


class WorkerFactory(UserFactory):
    role = Role.WORKER


class ClientFactory(UserFactory):
    role = Role.CLIENT
    organization = factory.SubFactory(OrganizationFactory)


class AdminFactory(UserFactory):
    role = Role.ADMIN
    is_staff = True
    is_superuser = True


class QualificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Qualification

    name = factory.Sequence(lambda n: f"Skill {n}")
    slug = factory.Sequence(lambda n: f"skill-{n}")
    exam_labels = factory.LazyFunction(lambda: [dict(c) for c in THREE_LABELS])


class JobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Job

    organization = factory.SubFactory(OrganizationFactory)
    title = factory.Sequence(lambda n: f"Job {n}")
    instructions = "Pick the animal in the picture."
    labels = factory.LazyFunction(lambda: [dict(c) for c in THREE_LABELS])
    overlap = 3
    gold_rate = Decimal("0")
    lease_seconds = 600


def grant(worker: User, qualification: Qualification, score: str = "1") -> WorkerQualification:
    return WorkerQualification.objects.create(
        worker=worker, qualification=qualification, score=Decimal(score), source="admin"
    )


def open_job_with_items(
    *, items: int = 10, gold: int = 0, gold_label: str = "cat", publish: bool = True, **job_fields: Any
) -> Job:
    """A job with `items` plain items and `gold` gold items, published unless told otherwise."""
    job = JobFactory(**job_fields)
    item_bulk_create(
        job=job,
        rows=[ItemRow(data={"text": f"item {i}"}, external_id=f"i{i}") for i in range(items)],
        gold=False,
    )
    if gold:
        item_bulk_create(
            job=job,
            rows=[
                ItemRow(data={"text": f"gold {i}"}, external_id=f"g{i}", gold_label=gold_label)
                for i in range(gold)
            ],
            gold=True,
        )
    job.refresh_from_db()
    if publish:
        job = job_transition(job=job, to=JobStatus.OPEN)
    return job
