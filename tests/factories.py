"""factory-boy factories. Build through services where a service owns the write (items, jobs),
and through flows where an action crosses apps (publishing opens the job's escrow)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import factory

from marketplace import flows
from marketplace.accounts.models import Organization, Qualification, Role, User, WorkerQualification
from marketplace.billing.services import InsufficientFunds, topup_record
from marketplace.jobs.markdown import instructions_render
from marketplace.jobs.models import Job
from marketplace.jobs.services import ItemRow, item_bulk_create
from marketplace.names import name_key

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
    name_key = factory.LazyAttribute(lambda org: name_key(org.name))  # as sign-up stores it
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
    # As the services store it (rendered once, when saved); hostile legacy text gets the fallback.
    instructions_html = factory.LazyAttribute(lambda job: instructions_render(job.instructions))
    labels = factory.LazyFunction(lambda: [dict(c) for c in THREE_LABELS])
    overlap = 3
    gold_rate = Decimal("0")
    lease_seconds = 600


def grant(worker: User, qualification: Qualification, score: str = "1") -> WorkerQualification:
    return WorkerQualification.objects.create(
        worker=worker, qualification=qualification, score=Decimal(score), source="admin"
    )


def treasurer() -> User:
    """The admin who records the factories' top-ups (not in the cast)."""
    existing = User.objects.filter(username="treasurer").first()
    return existing or AdminFactory(username="treasurer")


def fund(organization: Organization, amount: Decimal | str) -> None:
    """Top up the organization's balance by `amount`, as an admin records a payment received."""
    reference = f"factory-{uuid.uuid4().hex[:12]}"
    topup_record(
        admin=treasurer(), organization=organization, amount=Decimal(amount), payment_reference=reference
    )


def publisher(organization: Organization) -> User:
    """A client of the organization, who publishes and cancels the factories' jobs (staff may not:
    accounts/acting.py): its first active client, else a new one (not in the cast)."""
    existing = User.objects.filter(organization=organization, role=Role.CLIENT, is_active=True).order_by("pk").first()
    return existing or ClientFactory(organization=organization, username=f"publisher-{organization.pk}")


def publish_funded(job: Job) -> Job:
    """Publish through the flow, first topping up exactly what the escrow is missing."""
    try:
        return flows.job_publish(job=job, user=publisher(job.organization))
    except InsufficientFunds as short:
        fund(job.organization, short.details["missing"])
    return flows.job_publish(job=job, user=publisher(job.organization))


def open_job_with_items(
    *, items: int = 10, gold: int = 0, gold_label: str = "cat", publish: bool = True, **job_fields: Any
) -> Job:
    """A job with `items` plain items and `gold` gold items, published unless told otherwise.

    Published jobs are funded: the organization is topped up with exactly the job's escrow
    (items × the tier's price), so later imports into the open job need a `fund()` of their own."""
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
                if not job.multi_label else  # a multi-label job's gold is a set: here {gold_label}
                ItemRow(data={"text": f"gold {i}"}, external_id=f"g{i}", gold_label="", gold_labels=[gold_label])
                for i in range(gold)
            ],
            gold=True,
        )
    job.refresh_from_db()
    if publish:
        job = publish_funded(job)
    return job
