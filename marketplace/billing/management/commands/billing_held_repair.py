"""python manage.py billing_held_repair [--apply]: hold the pay a settlement paid over a pending
withdrawal review before settlements held it (billing/holding_repair.py). Dry run by default."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from marketplace.billing.holding_repair import Repaired, held_pay_repair, held_pay_unrepaired


class Command(BaseCommand):
    help = (
        "Find dropped judgments' pay a settled job paid while its withdrawal waited for an admin's "
        "review (billing_audit: 'paid for a dropped judgment with no decision'), and hold it as "
        "today's settlement would: HELD for the pending review of the block that dropped each "
        "judgment, the posted money back from the worker's pending account to Quorum. Pay "
        "released already is left with the worker and reported, as is pay no pending review's "
        "block covers. Prints what it would do, one line per review; --apply does it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--apply", action="store_true", help="make the changes (default: a dry run)")

    def handle(self, *args: Any, **options: Any) -> None:
        apply = bool(options["apply"])
        pairs = held_pay_unrepaired()
        for job_id, worker_id in pairs:
            # One transaction per pair; a dry run computes the very same repair, then rolls it back.
            with transaction.atomic():
                repaired = held_pay_repair(job_id=job_id, worker_id=worker_id)
                if not apply:
                    transaction.set_rollback(True)
            for one in repaired:  # one line per review, and one for pay no pending review covers
                self.stdout.write(_line(one))
        verb = "repaired" if apply else "to repair (dry run: --apply to repair)"
        self.stdout.write(self.style.SUCCESS(f"{len(pairs)} job/worker pair(s) {verb}"))


def _line(r: Repaired) -> str:
    where = f"job {r.job_id}, worker {r.worker_id}"
    if r.review_id is None:
        return f"{where}: {r.untouched} paid for dropped judgments, no review pending for their block: left for an admin"
    line = f"{where}, review {r.review_id}: {r.held} held ({r.reclaimed} taken back from pending to Quorum)"
    if r.left:
        line += f"; {r.left} released already, left with the worker"
    return line
