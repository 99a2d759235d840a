"""The password-reset mail goes out through the task mechanism, never inside the request, so a
request for an e-mail with an account does exactly what one for an e-mail without does: queue
one task. Under Celery the worker looks the e-mail up and mails the link.

Wendy is a worker who forgot her password; "nobody@" has no account.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.test import Client
from kombu.exceptions import OperationalError as KombuOperationalError

from marketplace.accounts import tasks
from marketplace.accounts.models import User
from marketplace.celery import app
from tests.accounts.helpers import reset_asked

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent_tasks(settings: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """QUORUM_TASKS=celery, with the broker replaced by this list of what was sent to it."""
    settings.QUORUM_TASKS = "celery"
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(app, "send_task", lambda name, kwargs: sent.append((name, kwargs)))
    return sent


def test_a_reset_for_a_known_or_unknown_email_queues_the_same_task_and_mails_nothing_in_the_request(
    sent_tasks: list[tuple[str, dict[str, Any]]], wendy: User, mailoutbox: list[Any]
) -> None:
    known = reset_asked(Client(), wendy.email)
    unknown = reset_asked(Client(), "nobody@example.com")

    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert sent_tasks == [
        (tasks.RESET_MAIL_TASK, {"email": wendy.email}),
        (tasks.RESET_MAIL_TASK, {"email": "nobody@example.com"}),
    ]
    assert mailoutbox == []  # the request itself sent nothing


def test_the_worker_mails_the_link_to_the_account_and_nothing_for_an_unknown_email(
    sent_tasks: list[tuple[str, dict[str, Any]]], wendy: User, mailoutbox: list[Any], settings: Any
) -> None:
    reset_asked(Client(), wendy.email)
    reset_asked(Client(), "nobody@example.com")

    assert tasks.password_reset_mail_task.name == tasks.RESET_MAIL_TASK  # the worker's task by that name
    for _, kwargs in sent_tasks:  # its body, as the worker runs it
        tasks.password_reset_mail_send(**kwargs)

    assert [message.to for message in mailoutbox] == [[wendy.email]]
    link = re.search(re.escape(settings.QUORUM_SITE_URL) + r"(/password-reset/[^\s]+/)", mailoutbox[0].body)
    assert link is not None
    assert Client().get(link.group(1), follow=True).context["validlink"] is True


def test_a_task_queued_by_the_previous_release_still_mails_the_link_on_the_site(
    wendy: User, mailoutbox: list[Any], settings: Any
) -> None:
    settings.QUORUM_SITE_URL = "https://quorum.example.com"

    tasks.password_reset_mail_send(email=wendy.email, domain="127.0.0.1:31337", use_https=False)

    assert "https://quorum.example.com/password-reset/" in mailoutbox[0].body
    assert "31337" not in mailoutbox[0].body


@pytest.mark.django_db(transaction=True)  # the web process's mail thread reads the committed account
def test_with_the_broker_unreachable_the_web_process_sends_the_mail_itself(
    settings: Any, monkeypatch: pytest.MonkeyPatch, mailoutbox: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    settings.QUORUM_TASKS = "celery"

    def unreachable(*_: object, **__: object) -> None:
        raise KombuOperationalError("Error 111 connecting to 127.0.0.1:6399. Connection refused.")

    monkeypatch.setattr(app, "send_task", unreachable)
    pool = ThreadPoolExecutor(max_workers=1)
    monkeypatch.setattr(tasks, "_pool", pool)
    wendy = User.objects.create_user(username="wendy-offline", email="wendy@example.com", password="x" * 20)

    answer = reset_asked(Client(), wendy.email)
    pool.shutdown(wait=True)  # what a user waits for: the mail

    assert answer.status_code == 302
    assert [message.to for message in mailoutbox] == [[wendy.email]]
    assert "the task broker could not be reached" in caplog.text
