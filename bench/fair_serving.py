"""python -m bench fair: does every job start within a minute under a busy crowd?

In a throwaway PostgreSQL database (bench._db): three organizations' jobs of very different sizes
(Acme 2,000 items, Globex 300, Initech 20; overlap 3, no gold), and --workers worker accounts
with API tokens. Acme's and Globex's jobs are published at the start; Initech's small job is
published --late seconds after the crowd started (0: with the others), while the crowd is busy.
The server runs in a subprocess (bench._server, the production command); the simulated crowd
works over real HTTP, asking for any job: POST work/next/ without a job, then submits with
`"next": true, "next_from": "any"`, thinking --think ms on average per answer, for --seconds.

Printed per job: when it was published (seconds after the crowd started), the time from its
publication to its first accepted judgment, the judgments it got and the share of the crowd's
judgments that is. --stay-in-job runs the crowd the old way for comparison (each worker keeps to
its job until it runs dry for them: the late job then waits for a big job to run dry).

Options: --workers=60 --think=2000 (mean ms) --seconds=75 --late=20 --stay-in-job
--processes=0 (web processes; 0: one per CPU)."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db import connection
from django.db.models import Count, Min

from bench._db import analyze_filled, bench_database
from bench.http_load import crowd_run
from bench._options import int_options
from marketplace import flows
from marketplace.accounts.models import Organization, Role, User
from marketplace.accounts.services import token_create
from marketplace.billing.services import topup_record
from marketplace.demo.simulator.client import Credential, Options
from marketplace.jobs.models import Job
from marketplace.jobs.services import ItemRow, item_bulk_create, job_create
from marketplace.labeling.models import Judgment

DEFAULTS = {"workers": 60, "think": 2000, "seconds": 75, "late": 20, "processes": 0}
# (organization, items): very different sizes; the last is the one published late.
JOBS = (("Acme", 2000), ("Globex", 300), ("Initech", 20))
LABELS = [{"key": "cat"}, {"key": "dog"}, {"key": "bird"}]
# The goal: every job gets its first judgment within this many seconds of its publication.
GOAL_SECONDS = 60.0


def _options(argv: list[str]) -> tuple[dict[str, int], bool]:
    return int_options(argv, DEFAULTS, parsed_elsewhere=("stay-in-job",)), "--stay-in-job" in argv


@dataclass
class Setup:
    jobs: list[Job]  # drafts, in JOBS order
    clients: list[User]  # each job's client (publishes it)
    owner_token: str
    credentials: list[Credential]


def _setup(*, workers: int) -> Setup:
    unusable = make_password(None)  # bearer tokens only: no password hashing for the crowd
    admin = User.objects.create(username="bench-admin", role=Role.ADMIN, is_staff=True, password=unusable)
    jobs, clients = [], []
    for name, items in JOBS:
        org = Organization.objects.create(name=name, slug=f"bench-{name.lower()}")
        client = User.objects.create(username=f"bench-{name.lower()}", role=Role.CLIENT,
                                     organization=org, password=unusable)
        job = job_create(user=client, fields={
            "title": f"{name}: {items:,} items", "labels": LABELS, "overlap": 3, "gold_rate": "0",
            "reward_per_judgment": "0.02", "tier": "standard",
        })
        item_bulk_create(job=job, rows=[ItemRow(data={"text": f"{name} photo {n}"}, external_id=f"p{n}")
                                        for n in range(items)], gold=False)
        topup_record(admin=admin, organization=org, amount=Decimal(items) * Decimal("0.20"),
                     payment_reference=f"bench-{name}")
        jobs.append(job)
        clients.append(client)
    crowd = User.objects.bulk_create(
        [User(username=f"sim-worker-{n + 1}", role=Role.WORKER, password=unusable) for n in range(workers)]
    )
    credentials = [Credential(username=u.username, token=token_create(user=u, name="bench")[1]) for u in crowd]
    analyze_filled()  # not the empty tables the run fills (bench._db says why)
    return Setup(jobs=jobs, clients=clients, owner_token=token_create(user=clients[0], name="bench")[1],
                 credentials=credentials)


class Publisher(threading.Thread):
    """Publishes each job at its time, counted from the crowd's start (the crowd busy meanwhile).
    Started by crowd_run when the crowd starts (it takes the place of a sampler there)."""

    def __init__(self, schedule: list[tuple[float, Job, User]]) -> None:
        super().__init__(daemon=True)
        self.schedule = schedule
        self.done = threading.Event()  # set by crowd_run when the crowd stops
        self.at = 0.0

    def run(self) -> None:
        self.at = time.time()
        try:
            for delay, job, client in self.schedule:
                if self.done.wait(max(self.at + delay - time.time(), 0.0)):
                    return  # the run ended first
                flows.job_publish(job=job, user=client)
        finally:
            connection.close()


def run(argv: list[str]) -> None:
    options, stay = _options(argv)
    with bench_database() as vendor:
        if vendor != "postgresql":
            raise SystemExit("fair needs PostgreSQL (the server runs in its own process); set DATABASE_URL")
        setup = _setup(workers=options["workers"])
        delays = [0.0] * (len(JOBS) - 1) + [float(options["late"])]
        publisher = Publisher(list(zip(delays, setup.jobs, setup.clients)))
        print(f"\n## {options['workers']} workers, think {options['think']} ms, {options['seconds']} s; "
              f"Initech's job published {options['late']} s after the crowd started, the others at "
              "once; " + ("workers stay in their job (--stay-in-job)" if stay else "workers ask for any job"))
        sim = Options(workers=options["workers"], duration=float(options["seconds"]),
                      think_ms=float(options["think"]), job=None, next_any=not stay, progress="log",
                      stop_when_idle=False)
        report, _ = crowd_run(sim, owner_token=setup.owner_token, credentials=setup.credentials,
                              server_kind="production", processes=options["processes"],
                              final_reads=False, during=publisher)  # type: ignore[arg-type]
        _print(setup.jobs, publisher.at, report["accepted_judgments"], report["errors"])


def _print(drafts: list[Job], began: float, accepted: int, errors: dict[str, int]) -> None:
    jobs = Job.objects.filter(pk__in=[j.pk for j in drafts]).order_by("pk")
    firsts = dict(Judgment.objects.filter(job__in=jobs).values("job").annotate(first=Min("created_at"))
                  .values_list("job", "first"))
    counts = dict(Judgment.objects.filter(job__in=jobs).values("job").annotate(n=Count("id"))
                  .values_list("job", "n"))
    total = max(sum(counts.values()), 1)
    said = ", ".join(f"{kind} {n}" for kind, n in errors.items()) or "none"
    print(f"{accepted:,} judgments accepted by the crowd; errors: {said}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("| job | items | published (s after the crowd started) | publish to first judgment (s) "
          "| judgments | share of judgments |")
    print("|---|---|---|---|---|---|")
    worst = 0.0
    for job in jobs:
        if job.published_at is None:
            print(f"| {job.title} | {job.item_count:,} | never (the run ended first) | - | 0 | - |")
            continue
        first = firsts.get(job.pk)
        wait = (first - job.published_at).total_seconds() if first else None
        worst = max(worst, wait if wait is not None else float("inf"))
        print(f"| {job.title} | {job.item_count:,} | {job.published_at.timestamp() - began:.1f} "
              f"| {'none yet' if wait is None else f'{wait:.1f}'} | {counts.get(job.pk, 0):,} "
              f"| {counts.get(job.pk, 0) / total * 100:.0f} % |")
    verdict = "yes" if worst <= GOAL_SECONDS else "NO"
    slowest = "a job got no judgment in the run" if worst == float("inf") else f"slowest: {worst:.1f} s"
    print(f"every job started within {GOAL_SECONDS:.0f} s of its publication: {verdict} ({slowest})")
