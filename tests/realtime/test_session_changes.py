"""A socket is checked when it connects; whatever ends or changes the user's way in afterwards
closes it, not only logging out: a new password (page, reset link), an admin deactivating or
moving the user. The browser reconnects (close code 4001), and only a session that still stands
gets back in.

Alice's session was stolen: the thief's socket ("stolen") was opened before she acted. Bob, her
colleague, keeps his socket throughout. Ada is the admin.

Outside review: after a password change, the old session's socket went on receiving Acme's
job.progress (and re-joined its groups every 5 minutes).
"""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.forms import MultiWidget
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from marketplace.accounts.models import Organization, User
from marketplace.asgi import application
from marketplace.jobs.models import Job
from marketplace.realtime import events
from tests.factories import PASSWORD, open_job_with_items
from tests.realtime.conftest import ORIGIN, QUIET, WAIT, receive_type, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sockets_db")]

NEW_PASSWORD = "a-brand-new-long-passphrase"
RECHECK = {"type": "websocket.close", "code": 4001}


async def socket_of(cookie: str) -> tuple[WebsocketCommunicator, bool, int | None]:
    """/ws/client/ opened with this session cookie: (communicator, accepted, close code)."""
    communicator = WebsocketCommunicator(application, "/ws/client/",
                                         headers=[(b"origin", ORIGIN), (b"cookie", cookie.encode())])
    accepted, code = await communicator.connect(timeout=WAIT)
    return communicator, accepted, code


@database_sync_to_async
def progress_committed(job: Job) -> None:
    with transaction.atomic():
        events.job_progress(job_id=job.pk)


@database_sync_to_async
def acme_job(acme: Organization) -> Job:
    return open_job_with_items(items=2, organization=acme)


async def assert_closed_and_deaf(stolen: WebsocketCommunicator, bobs: WebsocketCommunicator, job: Job) -> None:
    """The stolen socket's next frame is the close, and the job's progress after it reaches Bob only."""
    await progress_committed(job)
    assert await stolen.receive_output(timeout=WAIT) == RECHECK
    assert await stolen.receive_nothing(timeout=QUIET)
    assert (await receive_type(bobs, "job.progress"))["job"] == job.pk


async def test_a_password_change_closes_the_sockets_opened_before_it_and_lets_only_her_session_back(
    acme: Organization, alice: User, bob: User
) -> None:
    job = await acme_job(acme)
    stolen_cookie = await database_sync_to_async(session_cookie)(alice)
    stolen, accepted, _ = await socket_of(stolen_cookie)
    bobs, _, _ = await socket_of(await database_sync_to_async(session_cookie)(bob))
    assert accepted
    browser = Client()

    @database_sync_to_async
    def alice_changes_her_password() -> int:
        browser.force_login(alice)
        return browser.post("/password-change/", {
            "old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD,
        }).status_code

    assert await alice_changes_her_password() == 302
    await assert_closed_and_deaf(stolen, bobs, job)

    _, thief_back, code = await socket_of(stolen_cookie)  # the browser's reconnect
    assert (thief_back, code) == (False, 4401)
    name = settings.SESSION_COOKIE_NAME
    hers, she_is_back, _ = await socket_of(f"{name}={browser.cookies[name].value}")
    assert she_is_back
    await progress_committed(job)
    assert (await receive_type(hers, "job.progress"))["job"] == job.pk
    await hers.disconnect()
    await bobs.disconnect()


async def test_a_password_reset_closes_the_users_open_sockets(acme: Organization, alice: User, bob: User) -> None:
    job = await acme_job(acme)
    stolen, _, _ = await socket_of(await database_sync_to_async(session_cookie)(alice))
    bobs, _, _ = await socket_of(await database_sync_to_async(session_cookie)(bob))

    @database_sync_to_async
    def alice_follows_her_reset_link() -> int:
        user = User.objects.get(pk=alice.pk)  # as the mail was made: after the socket's log-in
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        browser = Client()
        form = browser.get(f"/password-reset/{uid}/{default_token_generator.make_token(user)}/", follow=True)
        return browser.post(form.redirect_chain[-1][0],
                            {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}).status_code

    assert await alice_follows_her_reset_link() == 302
    await assert_closed_and_deaf(stolen, bobs, job)
    await bobs.disconnect()


def _admin_form(page: Any, **changes: Any) -> dict[str, Any]:
    """The Django admin's change form as the page filled it, with `changes`, as a browser posts it."""
    data: dict[str, Any] = {}
    form = page.context["adminform"].form
    for field in form:
        value = changes.get(field.name, field.value())
        if field.field.disabled or value is None or value is False:
            continue
        if isinstance(field.field.widget, MultiWidget):
            for n, part in enumerate(field.field.widget.decompress(value)):
                data[f"{field.html_name}_{n}"] = "" if part is None else str(part)
        else:
            data[field.html_name] = "on" if value is True else value
    return data


@pytest.mark.parametrize("change", ["deactivated", "moved"])
async def test_an_admin_deactivating_or_moving_a_user_closes_their_sockets(
    change: str, acme: Organization, alice: User, bob: User, ada: User, globex: Organization
) -> None:
    job = await acme_job(acme)
    stolen, _, _ = await socket_of(await database_sync_to_async(session_cookie)(alice))
    bobs, _, _ = await socket_of(await database_sync_to_async(session_cookie)(bob))

    @database_sync_to_async
    def ada_edits_alice_in_the_django_admin() -> int:
        admin = Client()
        admin.force_login(ada)
        url = f"/admin/accounts/user/{alice.pk}/change/"
        edit = {"is_active": False} if change == "deactivated" else {"organization": globex.pk}
        return admin.post(url, _admin_form(admin.get(url), **edit)).status_code

    assert await ada_edits_alice_in_the_django_admin() == 302
    await assert_closed_and_deaf(stolen, bobs, job)
    await bobs.disconnect()


async def test_an_admin_changing_only_a_users_name_leaves_their_sockets_open(
    acme: Organization, alice: User, ada: User
) -> None:
    job = await acme_job(acme)
    hers, _, _ = await socket_of(await database_sync_to_async(session_cookie)(alice))

    @database_sync_to_async
    def ada_renames_alice() -> int:
        admin = Client()
        admin.force_login(ada)
        url = f"/admin/accounts/user/{alice.pk}/change/"
        return admin.post(url, _admin_form(admin.get(url), first_name="Alice")).status_code

    assert await ada_renames_alice() == 302
    await progress_committed(job)
    assert (await receive_type(hers, "job.progress"))["job"] == job.pk
    await hers.disconnect()


@pytest.mark.parametrize(("change", "code"), [("new password", 4401), ("deactivated", 4401), ("moved", 4001)])
async def test_a_socket_whose_close_was_lost_closes_at_its_next_rejoin_round(
    change: str, code: int, settings: Any, acme: Organization, alice: User, bob: User, globex: Organization
) -> None:
    """Redis was away when it happened, so the close never came: each rejoin round checks the
    session again, and the socket does not rejoin for a session that has ended or a user moved."""
    settings.QUORUM_WS_REJOIN_SECONDS = 0.1
    job = await acme_job(acme)
    stolen, _, _ = await socket_of(await database_sync_to_async(session_cookie)(alice))
    bobs, _, _ = await socket_of(await database_sync_to_async(session_cookie)(bob))

    @database_sync_to_async
    def changed_without_a_word() -> None:  # update(), not save(): no hook runs, no message is sent
        fields = {"new password": {"password": make_password(NEW_PASSWORD)}, "deactivated": {"is_active": False},
                  "moved": {"organization": globex}}[change]
        User.objects.filter(pk=alice.pk).update(**fields)

    await changed_without_a_word()
    assert await stolen.receive_output(timeout=WAIT) == {"type": "websocket.close", "code": code}
    assert await bobs.receive_nothing(timeout=QUIET)  # several rounds: his session stands
    await progress_committed(job)
    assert (await receive_type(bobs, "job.progress"))["job"] == job.pk
    await bobs.disconnect()
