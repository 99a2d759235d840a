"""Mail when no SMTP server is configured (EMAIL_HOST unset; settings.py picks the backend).

With DEBUG on (make demo) Django's console backend prints whole mails: a developer follows the
password-reset link from the terminal. With DEBUG off that terminal is the production log, which
is kept and shipped: a printed reset link is a working account takeover for anyone who reads the
logs. So there only who the mail was for and its subject are logged, with a line saying that it
was not sent, and `manage.py check` (run by `make serve` through migrate) warns at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.mail import EmailMessage
from django.core.mail.backends.console import EmailBackend as ConsoleBackend

logger = logging.getLogger(__name__)

NOT_CONFIGURED = "quorum.W001"


class UnsentMailBackend(ConsoleBackend):
    """Logs each mail's recipients and subject, never its body, and sends nothing."""

    def write_message(self, message: EmailMessage) -> None:
        logger.warning(
            "mail NOT sent (EMAIL_HOST is unset; set it to an SMTP server): to %s, subject %r",
            ", ".join(message.recipients()), message.subject,
        )

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        for message in email_messages:
            self.write_message(message)
        return len(email_messages)


def mail_configured_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A warning when DEBUG is off and no SMTP server is set: password resets reach nobody."""
    if settings.DEBUG or settings.EMAIL_HOST:
        return []
    return [checks.Warning(
        "EMAIL_HOST is unset with DEBUG off: no mail is sent (password resets, job notifications); "
        "the log names each one's recipients and subject.",
        hint="Set EMAIL_HOST (and EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD) to an SMTP server.",
        id=NOT_CONFIGURED,
    )]
