"""python manage.py billing_kept_repair [--apply]: put the pay of approved withdrawal reviews where
their approval says, withdrawing what is still pending and recording what was released
(billing/kept_repair.py). Dry run by default."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from marketplace.billing.kept_repair import KeptRepaired, kept_pay_repair, kept_unrepaired


class Command(BaseCommand):
    help = (
        "Find approved withdrawal reviews whose pay the worker kept (billing_audit: 'though withdrawal "
        "review ... was approved'): released while the review was pending, or left pending or released "
        "by an approval on a settled job before the held status. Pay still pending is withdrawn as the "
        "approval would have (into the open job's escrow, or to Quorum once it settled); released pay "
        "stays with the worker (released pay is never taken back) and is recorded on the review as left "
        "with them. Prints what it would do, one line per review; --apply does it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--apply", action="store_true", help="make the changes (default: a dry run)")

    def handle(self, *args: Any, **options: Any) -> None:
        apply = bool(options["apply"])
        reviews = kept_unrepaired()
        for review_id in reviews:
            # One transaction per review; a dry run computes the very same repair, then rolls it back.
            with transaction.atomic():
                repaired = kept_pay_repair(review_id=review_id)
                if not apply:
                    transaction.set_rollback(True)
            self.stdout.write(_line(repaired))
        verb = "repaired" if apply else "to repair (dry run: --apply to repair)"
        self.stdout.write(self.style.SUCCESS(f"{len(reviews)} approved review(s) {verb}"))


def _line(r: KeptRepaired) -> str:
    line = f"review {r.review_id} (job {r.job_id}, worker {r.worker_id}):"
    if r.withdrawn:
        line += f" {r.withdrawn} still pending withdrawn " + ("into the job's escrow;" if r.to_escrow else "to Quorum;")
    return line + f" {r.left} released, left with the worker and recorded"
