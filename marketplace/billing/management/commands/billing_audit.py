"""python manage.py billing_audit: prove the ledger whole; exit 1 on any violation."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from marketplace.billing.audit import ledger_audit


class Command(BaseCommand):
    help = (
        "Check that every ledger transaction balances and has its kind's shape, each cached balance "
        "equals its entries, no judgment was paid twice, no job charged twice or beyond its items, "
        "every escrow holds its budget less its pay, every settled charge is the one its settlement "
        "moved, every release, reversal and payout moved exactly its earnings or amount, and no "
        "balance other than world and platform revenue is negative. Prints a summary; exits 1 on a violation."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = ledger_audit()
        self.stdout.write(
            f"{report.transactions} transactions, {report.entries} entries, {report.accounts} accounts, "
            f"{report.judgments_paid} judgments paid, {report.jobs_settled} jobs settled, "
            f"{report.invoices_paid} paid invoices checked"
        )
        for kind, total in report.totals.items():
            self.stdout.write(f"  {kind:<18} {total:>14}")
        if report.ok:
            self.stdout.write(self.style.SUCCESS("billing audit: OK"))
            return
        for violation in report.violations[:200]:
            self.stderr.write(f"VIOLATION: {violation}")
        raise CommandError(f"billing audit: {len(report.violations)} violation(s)")
