"""Seed a demo marketplace (idempotent: a second run reuses what is there) and print the log-ins.

Acme Vision (a client organization with prepaid funds) gets five jobs, one per state and across
the three tiers: two open jobs (standard, economy), a paused premium job, a small job the
five demo workers complete here (each with their own quality, so scores differ), and a draft.
The pilot's pay is dated past the hold and released by the release schedule's own function, and
paid out in every state the staff payouts page shows (_payouts), each payout at least the configured
QUORUM_MIN_PAYOUT (the pilot pays cents: `make demo` sets 0.10 unless given one). worker5 is
blocked from the open sentiment job by its gold rule and appeals (demo/appeals.py).
Every state is made through the services users' actions call, so the demo shows only states the
product can reach, and `manage.py billing_audit` passes on it.
Workers: worker1 … worker5 (people may log in as them) and sim-worker-1 … sim-worker-12, the
accounts of the simulated crowd `make demo` starts. Item truth and gold follow
marketplace/demo/seeding.py, so the simulator's accuracy figures mean something.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from marketplace import flows
from marketplace.accounts.models import ApiToken, Qualification, Role, User
from marketplace.accounts.services import token_create, user_signup
from marketplace.billing import payouts
from marketplace.billing.models import Earning, JobBudget, Payout
from marketplace.billing.pricing import money
from marketplace.billing.selectors import worker_money
from marketplace.billing.services import job_escrow_open, topup_record
from marketplace.billing.tasks import earnings_release_due
from marketplace.demo import seeding
from marketplace.demo.address import demo_host_port, demo_site_url, demo_url
from marketplace.demo.colluders import colluding_pair_seed
from marketplace.demo.appeals import demo_appeal
from marketplace.demo.seeding import JobSpec
from marketplace.demo.simulator import SIM_PASSWORD, SIM_USERNAME_PREFIX
from marketplace.demo.simulator.crowd import Profile
from marketplace.errors import NothingLeft
from marketplace.jobs.models import Job, JobStatus
from marketplace.jobs.services import ItemRow, item_bulk_create, job_create, job_transition
from marketplace.labeling.services import lease_claim

PASSWORD = SIM_PASSWORD  # one printed password for every demo log-in; demo data only
SIM_WORKERS = 12  # the simulated crowd's accounts (make demo runs 12 workers)
OPEN_JOB_TITLE = "Product review sentiment"
# Prepaid funds (currency units), each top-up idempotent per its payment reference. The first
# one is what earlier demos recorded; the second covers the jobs added with the simulated crowd.
TOPUPS = [("demo-initial-funds", Decimal("100.00")), ("demo-crowd-funds", Decimal("400.00"))]

JOBS = [
    JobSpec(state="open", items=1500, gold=60, make=seeding.review, fields={
        "title": OPEN_JOB_TITLE, "tier": "standard", "labels": seeding.SENTIMENT,
        "instructions": "Read the review and pick its **overall** sentiment.\n\n"
                        "- *Positive*: the buyer is happy\n- *Negative*: the buyer is not",
        "overlap": 3, "gold_rate": "0.1", "reward_per_judgment": "0.02",
    }),
    JobSpec(state="open", items=1200, gold=40, make=seeding.headline, fields={
        "title": "News headline topics", "tier": "economy", "labels": seeding.TOPICS,
        "instructions": "Which section of the paper does the headline belong to?",
        "overlap": 3, "gold_rate": "0.05", "reward_per_judgment": "0.015",
    }),
    JobSpec(state="paused", items=150, gold=30, make=seeding.comment, fields={
        "title": "Comment moderation (premium)", "tier": "premium", "labels": seeding.TOXICITY,
        "instructions": "Is the comment fine, rude, or toxic (insults, threats, slurs)?",
        "overlap": 5, "max_overlap": 9, "target_confidence": "0.98", "gold_rate": "0.15",
        "reward_per_judgment": "0.04",
    }),
    JobSpec(state="completed", items=40, gold=6, make=seeding.message, fields={
        "title": "Spam filter pilot", "tier": "standard", "labels": seeding.SPAM,
        "instructions": "Is the message spam?", "overlap": 3, "gold_rate": "0.1",
        "reward_per_judgment": "0.02",
    }),
]
# The seeded payouts' Idempotency-Key prefix: a second seed finds them.
DEMO_PAYOUT_KEY = "demo-payout-"
# How worker1 … worker5 answer the pilot job (the crowd model's profiles): varied quality.
DEMO_WORKER_PROFILES = [("good", 0.97), ("good", 0.9), ("noisy", 0.75), ("noisy", 0.65), ("spammer", 0.0)]


class Command(BaseCommand):
    help = "Create demo users, an organization with funds and jobs in several states; print how to log in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--i-know-this-is-not-production", action="store_true", dest="not_production",
            help="Seed even though DEBUG is off (a staging copy nobody outside can reach).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # The demo makes a superuser `admin` whose password is in the README and prints API
        # tokens: on a real deployment that is an open door, so DEBUG off means "not here".
        if not settings.DEBUG and not options["not_production"]:
            raise CommandError(
                "seed_demo refuses to run while DEBUG is off: it creates a superuser 'admin' with the "
                "published demo password and prints API tokens. `make demo` sets DEBUG=1; on a "
                "server nobody else can reach, pass --i-know-this-is-not-production."
            )
        url = demo_url(*demo_host_port())
        # The pilot completes here and its e-mail goes out now (tasks inline): its link must name
        # the port the demo will serve (PORT=8101), not settings' default :8000, as demo_run's
        # server does for the mail it sends later.
        with override_settings(QUORUM_SITE_URL=demo_site_url(url)):
            client_secret, worker_secret = self._seed()
        self._print(url, client_secret, worker_secret)

    def _seed(self) -> tuple[str, str]:
        """Everything, idempotently; the two demo API tokens' secrets (fresh on every run)."""
        with transaction.atomic():
            users = self._users()
            Qualification.objects.get_or_create(
                slug="english-reading",
                defaults={"name": "English reading", "description": "Reads short English reviews.",
                          "exam_labels": seeding.SENTIMENT},
            )
            organization = users["client"].organization
            assert organization is not None
            for reference, amount in TOPUPS:
                topup_record(admin=users["admin"], organization=organization, amount=amount,
                             payment_reference=reference, memo="Demo funds")
        for number, spec in enumerate(JOBS):
            self._job(spec, users["client"], seed=7 + number)
        self._draft(users["client"])
        self._complete_pilot(users)
        self._payouts(users)
        colluding_pair_seed(organization_id=users["client"].organization_id, title=OPEN_JOB_TITLE)
        # worker5 appeals the gold rule's block in the open job: the appeal pages have one open.
        demo_appeal(worker=users["worker5"], job=Job.objects.filter(
            organization_id=users["client"].organization_id, title=OPEN_JOB_TITLE).first())
        # Secrets are stored hashed, so each run issues fresh demo tokens and drops the old ones.
        ApiToken.objects.filter(user__in=[users["client"], users["worker1"]], name="demo").delete()
        _, client_secret = token_create(user=users["client"], name="demo")
        _, worker_secret = token_create(user=users["worker1"], name="demo")
        return client_secret, worker_secret

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
        for n in range(1, SIM_WORKERS + 1):
            self._user(f"{SIM_USERNAME_PREFIX}{n}", Role.WORKER)
        return users

    def _job(self, spec: JobSpec, client: User, *, seed: int) -> None:
        """Create the job with its items and gold and bring it to its state, in one transaction;
        a job of that title already there is reused (an older demo's open job gets its escrow)."""
        title = spec.fields["title"]
        existing = Job.objects.filter(organization_id=client.organization_id, title=title).first()
        if existing is not None:
            if existing.status in (JobStatus.OPEN, JobStatus.PAUSED) and not JobBudget.objects.filter(
                job=existing
            ).exists():
                job_escrow_open(job=existing)  # published before billing existed
            return
        regular, gold = spec.rows(seed)
        with transaction.atomic():
            job = job_create(user=client, fields=spec.fields)
            item_bulk_create(job=job, rows=regular, gold=False)
            item_bulk_create(job=job, rows=gold, gold=True)
            if spec.state != "draft":
                job = flows.job_publish(job=job, user=client)
            if spec.state == "paused":
                job_transition(job=job, to=JobStatus.PAUSED, expected_from=frozenset({JobStatus.OPEN}))

    def _draft(self, client: User) -> None:
        title = "Support ticket triage (draft)"
        if Job.objects.filter(organization_id=client.organization_id, title=title).exists():
            return
        with transaction.atomic():
            draft = job_create(user=client, fields={
                "title": title, "labels": ["billing", "bug", "other"],
                "instructions": "Route each ticket to the right team.",
            })
            item_bulk_create(job=draft, rows=[ItemRow(data={"text": f"Ticket {n}"})
                                              for n in range(20)], gold=False)

    def _complete_pilot(self, users: dict[str, User]) -> None:
        """worker1 … worker5 label the pilot job through the real submit flow until it completes
        (consensus runs inline at completion, so the seed leaves no background work behind)."""
        spec = next(s for s in JOBS if s.state == "completed")
        job = Job.objects.filter(organization_id=users["client"].organization_id,
                                 title=spec.fields["title"]).first()
        if job is None or job.status != JobStatus.OPEN:
            return
        crowd = [Profile(index=n, kind=kind, seed=1000 + n, diagonal=accuracy)
                 for n, (kind, accuracy) in enumerate(DEMO_WORKER_PROFILES)]
        workers = [users[f"worker{n + 1}"] for n in range(len(crowd))]
        rng = random.Random(11)
        with override_settings(QUORUM_TASKS="inline"):
            active = list(range(len(workers)))
            while active:
                for n in list(active):
                    try:
                        lease = lease_claim(worker=workers[n], job=job)
                    except NothingLeft:
                        active.remove(n)
                        continue
                    label = crowd[n].answer(item=lease.item_id, data=lease.item.data,
                                         label_keys=job.label_keys, rng=rng)
                    flows.work_submit(worker=workers[n], lease_id=lease.pk, label=label,
                                      seconds_spent=Decimal(rng.randint(3, 20)))

    def _payouts(self, users: dict[str, User]) -> None:
        """The pilot was labeled "two weeks ago": its pay is past the hold, and the release
        schedule's function (billing/tasks.py) releases it. Then payouts in each state: a batch
        approved, exported and paid (worker1, worker2), one approved waiting for its export
        (worker3), one waiting for review (worker4), and worker1's request for the rest, not yet
        batched. A request under the configured minimum payout is not made, as the service would
        refuse it: the amounts are cents, so under the default 10.00 there are none."""
        if Payout.objects.filter(idempotency_key__startswith=DEMO_PAYOUT_KEY).exists():
            return
        pilot = Job.objects.filter(organization_id=users["client"].organization_id,
                                   title=next(s for s in JOBS if s.state == "completed").fields["title"]).first()
        if pilot is None:
            return
        # Demo history, not a service: the earnings are dated back so the hold has passed.
        Earning.objects.filter(job=pilot, status=Earning.Status.PENDING).update(
            created_at=timezone.now() - timedelta(days=payouts.hold_days() + 7)
        )
        earnings_release_due()
        admin = users["admin"]

        minimum = payouts.min_payout()

        def request(name: str, share: Decimal) -> bool:
            amount = money(worker_money(worker=users[name]).available * share)
            if amount < minimum:
                return False
            payouts.payout_request(worker=users[name], amount=amount, key=f"{DEMO_PAYOUT_KEY}{name}-{share}")
            return True

        with transaction.atomic():
            half, everything = Decimal("0.5"), Decimal("1")
            first = [request("worker1", half), request("worker2", everything)]
            if any(first):
                paid = payouts.payout_batch_create(admin=admin)
                payouts.payout_batch_approve(admin=admin, batch=paid)
                payouts.payout_batch_export_csv(admin=admin, batch=paid)
                payouts.payout_batch_mark_paid(admin=admin, batch=paid)
            if request("worker3", everything):
                approved = payouts.payout_batch_create(admin=admin)
                payouts.payout_batch_approve(admin=admin, batch=approved)
            if request("worker4", everything):
                payouts.payout_batch_create(admin=admin)
            request("worker1", everything)

    def _print(self, url: str, client_secret: str, worker_secret: str) -> None:
        # Not "ready": the server is not running yet. demo_run says so once it answers on its port.
        self.stdout.write(self.style.SUCCESS(f"\nDemo data seeded. Log-ins, for {url}/ once the server runs:"))
        self.stdout.write(f"  admin   : admin / {PASSWORD}   (Django admin at /admin/)")
        self.stdout.write(f"  client  : client / {PASSWORD}   (organization Acme Vision)")
        self.stdout.write(f"  workers : worker1 … worker5 / {PASSWORD}")
        self.stdout.write(f"  crowd   : {SIM_USERNAME_PREFIX}1 … {SIM_USERNAME_PREFIX}{SIM_WORKERS} / "
                          f"{PASSWORD}   (the simulated workers)")
        if not Payout.objects.filter(idempotency_key__startswith=DEMO_PAYOUT_KEY).exists():
            self.stdout.write(f"  payouts : none seeded: the pilot's pay is under QUORUM_MIN_PAYOUT "
                              f"({payouts.min_payout()}); `make demo` sets 0.10")
        self.stdout.write(f"  API token for client : {client_secret}")
        self.stdout.write(f"  API token for worker1: {worker_secret}")
        self.stdout.write(f"  API docs: {url}/api/docs/\n")
