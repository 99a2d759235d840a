"""Seed a demo marketplace (idempotent: a second run reuses what is there) and print the log-ins."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from marketplace import flows
from marketplace.accounts.models import ApiToken, Qualification, Role, User
from marketplace.accounts.services import token_create, user_signup
from marketplace.billing.models import JobBudget
from marketplace.billing.services import job_escrow_open, topup_record
from marketplace.jobs.models import Job, JobStatus
from marketplace.jobs.services import ItemRow, item_bulk_create, job_create

PASSWORD = "quorum-demo-pass"  # printed below; demo data only
OPEN_JOB_TITLE = "Product review sentiment"
# The demo client's prepaid funds (currency units): the open job escrows 300 items × 0.10.
DEMO_TOPUP = Decimal("100.00")
DEMO_PAYMENT_REFERENCE = "demo-initial-funds"  # top-ups are idempotent per reference
SENTIMENT = [
    {"key": "positive", "name": "Positive", "shortcut": "p"},
    {"key": "neutral", "name": "Neutral", "shortcut": "n"},
    {"key": "negative", "name": "Negative", "shortcut": "x"},
]
_OPENERS = {
    "positive": ["Loved it", "Works great", "Five stars", "Exceeded my expectations"],
    "neutral": ["It is okay", "Arrived on Tuesday", "Does what it says", "Average product"],
    "negative": ["Broke after a week", "Would not buy again", "Terrible support", "Waste of money"],
}
_PRODUCTS = ["kettle", "headphones", "desk lamp", "backpack", "phone case", "coffee grinder"]


def _review(rng: random.Random, label: str, n: int) -> dict[str, Any]:
    product = rng.choice(_PRODUCTS)
    return {"text": f"{rng.choice(_OPENERS[label])}: the {product} (review #{n}).", "product": product}


class Command(BaseCommand):
    help = "Create demo users, an organization and jobs in several states; print how to log in."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            users = self._users()
            self._jobs(users["client"])
            self._fund_and_publish(users["client"], users["admin"])
        # Secrets are stored hashed, so each run issues fresh demo tokens and drops the old ones.
        ApiToken.objects.filter(user__in=[users["client"], users["worker1"]], name="demo").delete()
        _, client_secret = token_create(user=users["client"], name="demo")
        _, worker_secret = token_create(user=users["worker1"], name="demo")
        self._print(client_secret, worker_secret)

    def _user(self, username: str, role: str, organization: str = "") -> User:
        existing = User.objects.filter(username=username).first()
        if existing:
            return existing
        if role == Role.ADMIN:
            user = User(username=username, role=Role.ADMIN, is_staff=True, is_superuser=True)
            user.set_password(PASSWORD)
            user.save()
            return user
        return user_signup(
            username=username, password=PASSWORD, email=f"{username}@demo.quorum.test",
            role=role, organization_name=organization,
        )

    def _users(self) -> dict[str, User]:
        users = {
            "admin": self._user("admin", Role.ADMIN),
            "client": self._user("client", Role.CLIENT, "Acme Vision"),
        }
        for n in range(1, 6):
            users[f"worker{n}"] = self._user(f"worker{n}", Role.WORKER)
        return users

    def _jobs(self, client: User) -> None:
        Qualification.objects.get_or_create(
            slug="english-reading",
            defaults={"name": "English reading", "description": "Reads short English reviews.",
                      "exam_labels": SENTIMENT},
        )
        if Job.objects.filter(organization_id=client.organization_id).exists():
            return
        rng = random.Random(7)
        open_job = job_create(user=client, fields={
            "title": OPEN_JOB_TITLE,
            "instructions": "Read the review and pick its **overall** sentiment.\n\n"
                            "- *Positive*: the buyer is happy\n- *Negative*: the buyer is not",
            "labels": SENTIMENT, "overlap": 3, "gold_rate": "0.1", "reward_per_judgment": "0.02",
        })
        rows = []
        for n in range(300):
            rows.append(ItemRow(data=_review(rng, rng.choice(list(_OPENERS)), n), external_id=f"r{n}"))
        item_bulk_create(job=open_job, rows=rows, gold=False)
        gold = [
            ItemRow(data=_review(rng, label, 1000 + n), external_id=f"g{n}", gold_label=label,
                    explanation=f"The wording is clearly {label}.")
            for n, label in enumerate(list(_OPENERS) * 10)
        ]
        item_bulk_create(job=open_job, rows=gold, gold=True)  # published by _fund_and_publish

        draft = job_create(user=client, fields={
            "title": "Support ticket triage (draft)", "labels": ["billing", "bug", "other"],
            "instructions": "Route each ticket to the right team.",
        })
        item_bulk_create(job=draft, rows=[ItemRow(data={"text": f"Ticket {n}"}) for n in range(20)], gold=False)

    def _fund_and_publish(self, client: User, admin: User) -> None:
        """Top up Acme once (idempotent per payment reference) and publish its open job through
        the flow, which escrows the job's cost; a job published before billing existed gets its
        escrow now. A second run finds all of it done."""
        organization = client.organization
        assert organization is not None
        topup_record(
            admin=admin, organization=organization, amount=DEMO_TOPUP,
            payment_reference=DEMO_PAYMENT_REFERENCE, memo="Demo funds",
        )
        job = Job.objects.filter(organization=organization, title=OPEN_JOB_TITLE).first()
        if job is None:
            return
        if job.status == JobStatus.DRAFT:
            flows.job_publish(job=job, user=client)
        elif job.status in (JobStatus.OPEN, JobStatus.PAUSED) and not JobBudget.objects.filter(job=job).exists():
            job_escrow_open(job=job)

    def _print(self, client_secret: str, worker_secret: str) -> None:
        self.stdout.write(self.style.SUCCESS("\nQuorum demo is ready. Log in at http://127.0.0.1:8000/"))
        self.stdout.write(f"  admin   : admin / {PASSWORD}   (Django admin at /admin/)")
        self.stdout.write(f"  client  : client / {PASSWORD}   (organization Acme Vision)")
        self.stdout.write(f"  workers : worker1 … worker5 / {PASSWORD}")
        self.stdout.write(f"  API token for client : {client_secret}")
        self.stdout.write(f"  API token for worker1: {worker_secret}")
        self.stdout.write("  API docs: http://127.0.0.1:8000/api/docs/\n")
