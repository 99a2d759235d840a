"""python manage.py webhook_secrets_reseal: seal every webhook secret under the current SECRET_KEY."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from marketplace.notifications.services import webhook_secrets_reseal


class Command(BaseCommand):
    help = (
        "After rotating SECRET_KEY (the old key kept in SECRET_KEY_FALLBACKS), seal every webhook "
        "signing secret under the new key; once this reports nothing unreadable, the old key can "
        "leave SECRET_KEY_FALLBACKS. Exits 1 when some endpoint's secret no configured key opens."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = webhook_secrets_reseal()
        self.stdout.write(f"{report.resealed} webhook secret(s) sealed under the current SECRET_KEY")
        if report.unreadable:
            ids = ", ".join(str(pk) for pk in report.unreadable)
            raise CommandError(
                f"{len(report.unreadable)} endpoint(s) no configured key opens (ids {ids}): put the "
                "old key back in SECRET_KEY_FALLBACKS and run this again, or register them anew"
            )
