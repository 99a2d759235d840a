from django.apps import AppConfig
from django.core import checks

from marketplace.mailconsole import mail_configured_check


class NotificationsConfig(AppConfig):
    name = "marketplace.notifications"
    label = "notifications"

    def ready(self) -> None:
        # Not deploy-only: `migrate` (run by make serve at every start) shows it too.
        checks.register(mail_configured_check)
