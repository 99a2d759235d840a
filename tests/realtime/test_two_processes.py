"""Two production web processes share one database and one Redis channel layer: a judgment
submitted over HTTP to process B moves the progress bar on a job page whose socket is open on
process A. That is what lets the web tier grow to several processes and machines behind a load
balancer (README, "Running in production").

Each process is the production command (gunicorn with one uvicorn worker, gunicorn.conf.py, the
database pool on). Needs PostgreSQL (the servers must see this test's committed rows) and Redis
(QUORUM_TEST_REDIS_URL, default db 5); skipped with the reason when either is missing. The
channel layer gets a key prefix of its own, deleted at the end.

The cast (tests/conftest.py): Alice is Acme's client watching her job; Wendy is a worker.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from websockets.sync.client import connect

from marketplace.accounts.models import Organization, User
from marketplace.accounts.services import token_create
from tests.conftest import needs_postgres
from tests.factories import open_job_with_items
from tests.live_server import free_port, serving
from tests.live_server import test_database_url as database_url  # (renamed: not a test)
from tests.realtime.conftest import redis_answers, session_cookie

REDIS = os.environ.get("QUORUM_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
WAIT = 120.0  # seconds: upper bound for the progress to arrive (a second idle; minutes at load 20)


pytestmark = [
    needs_postgres,
    pytest.mark.skipif(not redis_answers(REDIS), reason=f"needs Redis: none answers at {REDIS}"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def channels_prefix() -> Iterator[str]:
    """A channel-layer key prefix of this test's own; its keys are deleted afterwards."""
    import redis

    prefix = f"quorum-test-two-processes-{uuid.uuid4().hex[:8]}"
    yield prefix
    client = redis.Redis.from_url(REDIS)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()


@contextmanager
def production_server(log: Path, *, channels_prefix: str) -> Iterator[str]:
    """`gunicorn marketplace.asgi:application` (gunicorn.conf.py) with one worker on a free port,
    against the test database and the shared Redis layer; yields its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUORUM_")}
    env.update(DATABASE_URL=database_url(), REDIS_URL=REDIS, QUORUM_CHANNELS_PREFIX=channels_prefix,
               DEBUG="0", SECRET_KEY=settings.SECRET_KEY, ALLOWED_HOSTS="127.0.0.1,localhost",
               QUORUM_TASKS="inline", QUORUM_DB_POOL_MAX="4", WEB_CONCURRENCY="1",
               HOST="127.0.0.1", PORT=str(port), LOG_LEVEL="WARNING",
               QUORUM_SITE_URL=f"http://127.0.0.1:{port}")  # sockets come from the site's own pages
    with serving(["-m", "gunicorn", "marketplace.asgi:application"], env=env, log=log, port=port,
                 stop_seconds=30) as url:
        yield url


def _progress_until(socket: Any, job_id: int, judgments: int) -> dict[str, Any]:
    """The first job.progress of `job_id` counting at least `judgments`, within WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no job.progress with {judgments} judgment(s) within {WAIT:.0f} s")
        message = json.loads(socket.recv(timeout=remaining))
        if message.get("type") == "job.progress" and message.get("job") == job_id \
                and message["judgments"] >= judgments:
            return message


def test_a_submit_to_one_process_reaches_a_job_page_open_on_another(
    tmp_path: Path, channels_prefix: str, acme: Organization, alice: User, wendy: User
) -> None:
    job = open_job_with_items(items=3, organization=acme)
    _, wendy_token = token_create(user=wendy, name="two-processes")
    cookie = session_cookie(alice)
    with ExitStack() as stack:
        a = stack.enter_context(production_server(tmp_path / "a.log", channels_prefix=channels_prefix))
        b = stack.enter_context(production_server(tmp_path / "b.log", channels_prefix=channels_prefix))
        # Alice's job page on process A: her organization's socket, narrowed to this job.
        socket = stack.enter_context(connect(
            a.replace("http://", "ws://") + "/ws/client/", origin=a,  # type: ignore[arg-type]
            additional_headers={"Cookie": cookie}, open_timeout=WAIT))
        socket.send(json.dumps({"subscribe": job.pk}))
        assert json.loads(socket.recv(timeout=WAIT)) == {"type": "subscribed", "job": job.pk}

        # Wendy works through process B only.
        with httpx.Client(base_url=f"{b}/api/v1", timeout=WAIT,
                          headers={"Authorization": f"Bearer {wendy_token}"}) as api:
            lease = api.post("/work/next/", json={"job": job.pk})
            assert lease.status_code == 200, lease.text
            submit = api.post(f"/work/leases/{lease.json()['lease']}/submit/", json={"label": "cat"})
            assert submit.status_code == 201, submit.text

        progress = _progress_until(socket, job.pk, judgments=1)
    assert progress["judgments"] == 1
    assert progress["items_total"] == 3
