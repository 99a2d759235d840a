"""What a browser may send to a socket: every malformed frame is answered with an error frame, the
socket stays open, and nothing is logged as an error (each traceback was a line in the logs and
the alerts that anyone signed in could repeat at will).

The cast (tests/conftest.py): Alice is Acme's client; Ada is an admin.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from channels.db import database_sync_to_async

from marketplace.accounts.models import Organization, User
from marketplace.jobs.models import Job
from tests.factories import open_job_with_items
from tests.realtime.conftest import WAIT, open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sockets_db")]

HUGE = "9" * 5000  # json refuses integers over 4,300 digits; int() refuses such strings

MALFORMED = {
    "not JSON": "not json{",
    "a 5000-digit number": '{"subscribe": ' + HUGE + "}",
    "a 5000-digit string": '{"subscribe": "' + HUGE + '"}',
    "a 500-digit number": '{"subscribe": ' + "9" * 500 + "}",
    "a 19-digit string": '{"subscribe": "' + "9" * 19 + '"}',
    "deep nesting": "[" * 600 + "]" * 600,
    "a list": "[1]",
    "a bare string": '"x"',
    "no subscribe key": '{"job": 1}',
    "a float": '{"subscribe": 1.0}',
    "a negative number": '{"subscribe": -1}',
    "a boolean": '{"subscribe": true}',
    "a superscript digit": '{"subscribe": "\\u00b2"}',
    "an object": '{"subscribe": {"id": 1}}',
    "NaN": '{"subscribe": NaN}',
}


@database_sync_to_async
def acme_job(acme: Organization) -> Job:
    return open_job_with_items(items=2, organization=acme)


async def still_subscribes(socket: Any, job: Job) -> None:
    await socket.send_json_to({"subscribe": job.pk})
    assert (await socket.receive_json_from(timeout=WAIT)) == {"type": "subscribed", "job": job.pk}


@pytest.mark.parametrize("path", ["/ws/client/", "/ws/staff/"])
async def test_every_malformed_frame_gets_an_error_frame_and_the_socket_stays_open(
    path: str, acme: Organization, alice: User, ada: User, caplog: pytest.LogCaptureFixture
) -> None:
    job = await acme_job(acme)
    socket, accepted, _ = await open_socket(path, alice if path == "/ws/client/" else ada)
    assert accepted
    caplog.set_level(logging.WARNING)

    for name, frame in MALFORMED.items():
        await socket.send_to(text_data=frame)
        answer = await socket.receive_json_from(timeout=WAIT)
        assert answer["type"] == "error" and answer["message"], name

    await still_subscribes(socket, job)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    await socket.disconnect()


async def test_the_answers_say_what_was_wrong(alice: User) -> None:
    socket, _, _ = await open_socket("/ws/client/", alice)

    async def answer(**frame: Any) -> str:
        await socket.send_to(**frame)
        return str((await socket.receive_json_from(timeout=WAIT))["message"])

    assert await answer(text_data="not json{") == "This message is not JSON."
    assert await answer(text_data=MALFORMED["a 5000-digit number"]) == "A message is at most 1000 characters."
    assert await answer(text_data=MALFORMED["a 500-digit number"]) == "A job id is a whole number of at most 18 digits."
    assert await answer(text_data='{"subscribe": "12a"}') == "A job id is a whole number of at most 18 digits."
    assert await answer(bytes_data=b"\x00\x01") == "Send text frames of JSON."
    assert await answer(text_data="[1]") == 'Send {"subscribe": <job id>} or {"subscribe": null}.'
    assert await answer(text_data=json.dumps({"subscribe": 10**18 - 1})) == "Job not found."
    await socket.disconnect()


async def test_a_job_id_as_a_string_of_digits_still_subscribes_and_null_unsubscribes(
    acme: Organization, alice: User
) -> None:
    job = await acme_job(acme)
    socket, _, _ = await open_socket("/ws/client/", alice)

    await socket.send_json_to({"subscribe": f"000{job.pk}"})
    assert (await socket.receive_json_from(timeout=WAIT)) == {"type": "subscribed", "job": job.pk}
    await socket.send_json_to({"subscribe": None})
    assert (await socket.receive_json_from(timeout=WAIT)) == {"type": "subscribed", "job": None}
    await socket.disconnect()
