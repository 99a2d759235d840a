"""Without EMAIL_HOST, mail is printed whole only with DEBUG on: in production (DEBUG off) the
console is the kept log, and a printed password-reset link there is an account takeover."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import pytest
from django.test import Client

from marketplace.accounts.models import User
from tests.accounts.helpers import reset_asked
from tests.test_settings import GOOD_KEY, PRODUCTION, start_with

RESET_LINK = re.compile(r"/password-reset/[^\s/]+/[^\s/]+/")


def backend_chosen(**env: str) -> str:
    """EMAIL_BACKEND as settings.py picks it for this environment (EMAIL_HOST unset)."""
    result = start_with(sys.executable, "-c", "import django; django.setup(); "
                        "from django.conf import settings; print(settings.EMAIL_BACKEND)", **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.django_db
def test_with_debug_off_a_password_reset_writes_no_link_to_the_log_only_that_mail_was_not_sent(
    client: Client, wendy: User, settings: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    settings.DEBUG = False
    settings.EMAIL_BACKEND = backend_chosen(DEBUG="0", SECRET_KEY=GOOD_KEY)
    caplog.set_level(logging.DEBUG)

    assert reset_asked(client, wendy.email).status_code == 302

    printed = capsys.readouterr()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert not RESET_LINK.search(printed.out + printed.err + caplog.text + logged)
    assert f"mail NOT sent (EMAIL_HOST is unset; set it to an SMTP server): to {wendy.email}" in logged
    assert "Reset your Quorum password" in logged


@pytest.mark.django_db
def test_with_debug_on_the_whole_mail_is_printed_so_a_developer_can_follow_the_link(
    client: Client, wendy: User, settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.EMAIL_BACKEND = backend_chosen(DEBUG="1", SECRET_KEY=GOOD_KEY)

    assert reset_asked(client, wendy.email).status_code == 302

    assert RESET_LINK.search(capsys.readouterr().out)


def test_check_deploy_warns_that_mail_is_not_sent_when_email_host_is_unset() -> None:
    production_without_mail = {name: value for name, value in PRODUCTION.items() if name != "EMAIL_HOST"}
    result = start_with(sys.executable, "manage.py", "check", "--deploy", **production_without_mail)

    assert "quorum.W001" in result.stderr + result.stdout
    assert "EMAIL_HOST is unset with DEBUG off: no mail is sent" in result.stderr + result.stdout
