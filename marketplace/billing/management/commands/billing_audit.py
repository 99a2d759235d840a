"""python manage.py billing_audit: prove the ledger whole; exit 1 on any violation."""

from __future__ import annotations

import textwrap
from argparse import RawDescriptionHelpFormatter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, DjangoHelpFormatter

from marketplace.billing.audit import CHECKS, ledger_audit

WIDTH = 96  # the help's lines, wrapped here: the formatter keeps them as they are


def _help() -> str:
    """The checks the audit runs, in its order: from audit.CHECKS, so this list cannot drift."""
    intro = textwrap.fill(
        f"Prove the ledger whole: run each of these {len(CHECKS)} checks, print a summary, and exit 1 on "
        "any violation (each named: the earning, transaction, job or account).", WIDTH)
    checks = [textwrap.fill(f"{sentence}.", WIDTH, initial_indent=f"{n:>4}. ", subsequent_indent=" " * 6)
              for n, (sentence, _) in enumerate(CHECKS, start=1)]
    return "\n\n".join([intro, "\n".join(checks)])


class _ListedChecks(DjangoHelpFormatter, RawDescriptionHelpFormatter):
    """Django's help, with the description's lines kept: one check a line."""


class Command(BaseCommand):
    help = _help()

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = _ListedChecks
        return parser

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
