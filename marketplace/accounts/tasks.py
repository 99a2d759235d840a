"""Password-reset mail, sent off the request so its answer says nothing about who has an account.

Django's PasswordResetView looks the e-mail up and mails the link inside the request: only when
an account has the e-mail, so the answer came later for a known address than for an unknown one,
and timing it told which addresses have accounts. The page now hands every request, known
address or not, to password_reset_mail_after_commit, which does the same thing for both: it
queues the e-mail where QUORUM_TASKS says ("celery": a task on the workers' default queue;
"thread": a small pool of this process; "inline": right here, for tests). The lookup and the
mail happen there.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.db import connections
from kombu.exceptions import OperationalError as KombuOperationalError

from marketplace.commit import on_commit_robust
from marketplace.tasking import db_task

logger = logging.getLogger(__name__)

RESET_MAIL_TASK = "accounts.password_reset_mail"
# A mail is one SMTP exchange (EMAIL_TIMEOUT bounds it): two threads keep one slow send from
# holding back the next.
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="reset-mail")


def password_reset_mail_send(*, email: str, domain: str | None = None, use_https: bool | None = None) -> None:
    """Mail a reset link to every active account with this e-mail and a usable password, the
    accounts Django's PasswordResetForm picks (case-insensitive); nothing when there is none.
    The link is on QUORUM_SITE_URL, as in every other mail, never on the address the request was
    sent to: ALLOWED_HOSTS checks a Host header's name but not its port, so anyone could have
    had someone's reset link point at another port of the site's host. `domain` and `use_https`
    are ignored: tasks queued by an earlier release still pass them."""
    site = urlsplit(settings.QUORUM_SITE_URL)
    form = PasswordResetForm(data={"email": email})
    if form.is_valid():
        form.save(domain_override=site.netloc + site.path, use_https=site.scheme == "https")


# The Celery entry point (the default queue's worker runs it).
password_reset_mail_task = db_task(RESET_MAIL_TASK)(password_reset_mail_send)


def password_reset_mail_after_commit(*, email: str) -> None:
    """Once the caller's transaction commits, queue the reset mail for `email` (module docstring).
    The caller does the same work whether or not an account has the e-mail; a failure to queue
    is logged, never raised into the request."""
    on_commit_robust(_dispatch, email=email)


def _dispatch(*, email: str) -> None:
    mail = {"email": email}
    mode = settings.QUORUM_TASKS
    if mode == "celery":
        from marketplace.celery import app  # the Celery app is only built where it is used

        try:
            app.send_task(RESET_MAIL_TASK, kwargs=mail)
            return
        except KombuOperationalError as exc:
            # Redis down: this process sends it rather than lose it (the throttle lets the
            # request through uncounted meanwhile too). Every request takes this turn alike.
            logger.warning("password-reset mail sent by the web process: the task broker could not be "
                           "reached (%s: %s)", type(exc).__name__, exc)
            mode = "thread"
    if mode == "thread":
        _pool.submit(_in_thread, mail)
    else:
        password_reset_mail_send(**mail)


def _in_thread(mail: dict[str, str]) -> None:
    try:
        password_reset_mail_send(email=mail["email"])
    except Exception:
        logger.exception("password-reset mail failed")  # never the address: the log is no address book
    finally:
        connections.close_all()  # this thread's connection; the pool thread lives on
