"""python manage.py simulate: a simulated crowd labeling through a Quorum server's HTTP API.

    python manage.py simulate --url http://127.0.0.1:8000 --workers 50 \
        --mix good=0.6,noisy=0.2,spammer=0.1,constant=0.05,colluding=0.05 \
        --duration 60 --think-ms 1500 --client client:quorum-demo-pass

Workers are the accounts sim-worker-1 … sim-worker-N (password --password; `seed_demo` creates
12 of them; --create-workers signs missing ones up through the API). The simulated truth of an
item is marketplace.demo.simulator.crowd.item_truth of its data (seed_demo's gold agrees).
Ends with a report on stdout (--json for JSON); progress goes to stderr. Ctrl-C stops cleanly.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketplace.demo.simulator import SIM_PASSWORD, SIM_USERNAME_PREFIX
from marketplace.demo.simulator.client import Options
from marketplace.demo.simulator.crowd import DEFAULT_MIX, mix_parse
from marketplace.demo.simulator.report import report_text
from marketplace.demo.simulator.run import Accounts, simulate


class Command(BaseCommand):
    help = "Run N simulated workers against a Quorum URL and report throughput, latency, accuracy, cost."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="The server's base URL.")
        parser.add_argument("--workers", type=int, default=12, help="How many simulated workers.")
        parser.add_argument("--mix", default=DEFAULT_MIX,
                            help="Shares of good, noisy, spammer, constant, colluding (pairs).")
        stop = parser.add_mutually_exclusive_group()
        stop.add_argument("--duration", type=float, help="Stop after this many seconds.")
        stop.add_argument("--items", type=int, help="Stop after this many accepted judgments.")
        think = parser.add_mutually_exclusive_group()
        think.add_argument("--think-ms", type=float, default=1500.0,
                           help="Mean think time per answer (lognormal), milliseconds.")
        think.add_argument("--no-think", action="store_true", help="Answer at once (load test).")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the crowd and its answers.")
        parser.add_argument("--job", type=int, help="Work on this job only (default: any open job).")
        parser.add_argument("--stay-in-job", action="store_true",
                            help="Without --job: keep each worker in its job until the job runs dry "
                                 "for it, instead of asking for any job after every answer.")
        parser.add_argument("--create-workers", action="store_true",
                            help="Sign the workers up through the API first (existing ones log in); the server's "
                                 "QUORUM_SIGNUPS_PER_HOUR must allow that many.")
        parser.add_argument("--prefix", default=SIM_USERNAME_PREFIX, help="Worker usernames: <prefix><i>.")
        parser.add_argument("--password", default=SIM_PASSWORD, help="The workers' password.")
        parser.add_argument("--client", metavar="USER:PASSWORD",
                            help="The job owner's log-in: run consensus at the end and score it.")
        parser.add_argument("--connections", type=int,
                            help="HTTP connections the workers share (default: one each).")
        parser.add_argument("--keep-polling", action="store_true",
                            help="Keep asking for work when there is none (the demo's crowd).")
        parser.add_argument("--progress", choices=["bar", "log", "none"], default="bar",
                            help="stderr progress: a tqdm bar, a line every 10 s, or nothing.")
        parser.add_argument("--give-up-after", type=int, default=60, metavar="N",
                            help="A worker stops after N failed requests in a row (default 60).")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            mix = mix_parse(options["mix"])
        except ValueError as exc:
            raise CommandError(f"--mix: {exc}") from None
        if options["workers"] < 1:
            raise CommandError("--workers must be at least 1.")
        if options["give_up_after"] < 1:
            raise CommandError("--give-up-after must be at least 1.")
        owner = None
        if options["client"]:
            username, sep, password = options["client"].partition(":")
            if not sep or not username:
                raise CommandError("--client takes USER:PASSWORD.")
            owner = (username, password)
        run_options = Options(
            workers=options["workers"], duration=options["duration"], items=options["items"],
            think_ms=0.0 if options["no_think"] else options["think_ms"], job=options["job"],
            next_any=not options["stay_in_job"],
            seed=options["seed"], stop_when_idle=not options["keep_polling"],
            progress=options["progress"], connections=options["connections"],
            give_up_after=options["give_up_after"],
        )
        accounts = Accounts(prefix=options["prefix"], password=options["password"],
                            create=options["create_workers"], owner=owner)
        try:
            report = asyncio.run(simulate(url=options["url"], options=run_options, mix=mix, accounts=accounts))
        except (RuntimeError, ValueError, OSError, httpx.HTTPError) as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self.stdout.write(report_text(report))
