"""A password-reset mail the mail server turns away is tried again, with a growing wait, until the
server takes it; neither the link nor the address is ever written to the log.

Wendy forgot her password while the mail server restarts: it turns the first connections away
(421, try again later), a real SMTP server on 127.0.0.1 (tests/accounts/smtp_server.py). The Celery
task runs eagerly (apply), which runs each retry at once instead of after its wait; the wait it
asked for is in the log.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from celery import states

from marketplace.accounts import tasks
from marketplace.accounts.models import User
from tests.accounts.smtp_server import smtp_server

# transaction=True: the task closes stale connections around its body, as under a worker, and a
# connection inside a test's transaction reads as stale to it.
pytestmark = pytest.mark.django_db(transaction=True)


def _mail_through(settings: Any, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False


def _log_everything(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="celery.app.trace")  # its retry lines are routine (INFO)


def _waits(log: str) -> list[int]:
    return [int(seconds) for seconds in re.findall(r"Retry in (\d+)s", log)]


def test_a_reset_mail_the_server_turns_away_is_retried_until_taken_and_the_link_is_never_logged(
    wendy: User, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _log_everything(caplog)
    with smtp_server(refusals=2) as server:
        _mail_through(settings, server.server_address[1])

        result = tasks.password_reset_mail_task.apply(kwargs={"email": wendy.email})

    assert result.state == states.SUCCESS
    assert server.connections == 3  # turned away twice, taken the third time
    [message] = server.messages
    link = re.search(r"/password-reset/(\S+)/(\S+)/", message)
    assert link is not None and f"To: {wendy.email}" in message
    assert len(_waits(caplog.text)) == 2  # each refusal scheduled a retry
    uid, token = link.groups()
    assert token not in caplog.text and f"{uid}/{token}" not in caplog.text
    assert wendy.email not in caplog.text


def test_a_mail_server_down_for_good_gets_every_retry_with_growing_waits_and_then_the_task_gives_up(
    wendy: User, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _log_everything(caplog)
    with smtp_server(refusals=1000) as server:
        _mail_through(settings, server.server_address[1])

        result = tasks.password_reset_mail_task.apply(kwargs={"email": wendy.email})

    assert result.state == states.FAILURE
    assert isinstance(result.result, tasks.ResetMailNotSent) and str(result.result) == "SMTPConnectError 421"
    assert server.connections == 1 + tasks.RESET_MAIL_RETRIES and server.messages == []
    waits = _waits(caplog.text)
    assert len(waits) == tasks.RESET_MAIL_RETRIES
    # Full jitter: each wait is anywhere up to its ceiling, which doubles from the base.
    ceilings = [min(tasks.RESET_MAIL_RETRY_BASE_SECONDS * 2**n, tasks.RESET_MAIL_RETRY_MAX_SECONDS)
                for n in range(tasks.RESET_MAIL_RETRIES)]
    assert all(0 <= wait <= ceiling for wait, ceiling in zip(waits, ceilings, strict=True)), waits
    assert wendy.email not in caplog.text
