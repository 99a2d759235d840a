"""Password-reset mail, sent off the request so its answer says nothing about who has an account.

Django's PasswordResetView looks the e-mail up and mails the link inside the request: only when
an account has the e-mail, so the answer came later for a known address than for an unknown one,
and timing it told which addresses have accounts. The page now hands every request, known
address or not, to password_reset_mail_after_commit, which does the same thing for both: it
queues the e-mail where QUORUM_TASKS says ("celery": a task on the workers' default queue;
"thread": a small pool of this process; "inline": right here, for tests). The lookup and the
mail happen there.

Under Celery a mail the server refuses or that cannot reach it (an SMTP outage, a restart, a
greylisting 4xx) is tried again with a growing wait: RESET_MAIL_RETRIES more times, each wait a
random share (so an outage's queued mails do not all return at one instant) of a ceiling that
starts at RESET_MAIL_RETRY_BASE_SECONDS and doubles up to RESET_MAIL_RETRY_MAX_SECONDS. (Django's
own form logs a failed send and carries on; _ResetForm lets it through.) The failure that is logged and retried
is ResetMailNotSent, which carries the exception's type and SMTP code only: smtplib's own errors
may quote the recipient's address, and the link never leaves the message.
"""

from __future__ import annotations

import logging
import smtplib
from typing import Any
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from celery import shared_task
from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.core.mail import EmailMultiAlternatives
from django.db import close_old_connections, connections
from django.template import loader
from kombu.exceptions import OperationalError as KombuOperationalError

from marketplace.commit import on_commit_robust

logger = logging.getLogger(__name__)

RESET_MAIL_TASK = "accounts.password_reset_mail"
# A mail is one SMTP exchange (EMAIL_TIMEOUT bounds it): two threads keep one slow send from
# holding back the next.
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="reset-mail")

# After the first try, waits of up to 10 s, 20 s, 40 s, 80 s, 160 s, 320 s (each a random share of
# its ceiling): the last retry within about 10 minutes of the request.
RESET_MAIL_RETRIES = 6
RESET_MAIL_RETRY_BASE_SECONDS = 10
RESET_MAIL_RETRY_MAX_SECONDS = 600


class ResetMailNotSent(Exception):
    """The mail server refused the reset mail or could not be reached; retried (module docstring).
    Its text is the failure's type and SMTP code, never an address or the message."""


def _not_sent(exc: OSError) -> ResetMailNotSent:
    code = getattr(exc, "smtp_code", None)
    return ResetMailNotSent(f"{type(exc).__name__}{f' {code}' if code else ''}")


def password_reset_mail_send(*, email: str, domain: str | None = None, use_https: bool | None = None) -> None:
    """Mail a reset link to every active account with this e-mail and a usable password, the
    accounts Django's PasswordResetForm picks (case-insensitive); nothing when there is none.
    The link is on QUORUM_SITE_URL, as in every other mail, never on the address the request was
    sent to: ALLOWED_HOSTS checks a Host header's name but not its port, so anyone could have
    had someone's reset link point at another port of the site's host. `domain` and `use_https`
    are ignored: tasks queued by an earlier release still pass them."""
    site = urlsplit(settings.QUORUM_SITE_URL)
    form = _ResetForm(data={"email": email})
    if form.is_valid():
        try:
            form.save(domain_override=site.netloc + site.path, use_https=site.scheme == "https")
        except (smtplib.SMTPException, OSError) as exc:  # SMTPException is an OSError; so are refused connects
            raise _not_sent(exc) from None  # from None: the original, address and all, is not chained


class _ResetForm(PasswordResetForm):
    """Django's form, whose send_mail logs a failed send and returns as if it had gone out: here
    the failure reaches the caller, so the task can try again (module docstring)."""

    def send_mail(
        self, subject_template_name: str, email_template_name: str, context: dict[str, Any], from_email: str | None,
        to_email: str, html_email_template_name: str | None = None,
    ) -> None:
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        message = EmailMultiAlternatives(subject, body, from_email, [to_email])
        if html_email_template_name is not None:
            message.attach_alternative(loader.render_to_string(html_email_template_name, context), "text/html")
        message.send()


# The Celery entry point (the default queue's worker runs it), with retries. Its body runs between
# two close_old_connections() calls, as tasking.db_task's do (which takes no retry options).
@shared_task(
    name=RESET_MAIL_TASK, ignore_result=True, autoretry_for=(ResetMailNotSent,), max_retries=RESET_MAIL_RETRIES,
    retry_backoff=RESET_MAIL_RETRY_BASE_SECONDS, retry_backoff_max=RESET_MAIL_RETRY_MAX_SECONDS, retry_jitter=True,
)
def password_reset_mail_task(*, email: str, domain: str | None = None, use_https: bool | None = None) -> None:
    close_old_connections()
    try:
        password_reset_mail_send(email=email)
    finally:
        close_old_connections()


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
