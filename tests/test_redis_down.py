"""Redis down: labeling goes on, a consensus run asked for is refused cleanly, /healthz says so.

The server is the production command (gunicorn, DEBUG off, QUORUM_TASKS=celery) whose REDIS_URL
(cache, channel layer and Celery broker) names a port where nothing listens, as during a Redis
outage; ALLOWED_HOSTS is the README's example, so the load balancer's probe by address is one too.
Live events and consensus triggers are best effort; a judgment must never be lost to them.

The cast (tests/conftest.py): Alice is Acme's client; Wendy is a worker.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
from django.conf import settings

from marketplace.accounts.models import Organization, User
from marketplace.accounts.services import token_create
from marketplace.labeling.models import Judgment
from marketplace.quality.models import ConsensusRun
from tests.conftest import needs_postgres
from tests.factories import open_job_with_items
from tests.live_server import free_port, serving
from tests.live_server import test_database_url as database_url  # (renamed: not a test)

pytestmark = [needs_postgres, pytest.mark.django_db(transaction=True)]

UNREACHABLE = "redis://127.0.0.1:6399/13"  # nothing listens there
HOST = "quorum.example.com"
WAIT = 120.0  # seconds: an answer takes well under one; the bound is for a busy machine


@pytest.fixture(scope="module")
def server(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUORUM_", "CELERY_"))}
    env.update(DATABASE_URL=database_url(), REDIS_URL=UNREACHABLE, QUORUM_TASKS="celery", DEBUG="0",
               SECRET_KEY=settings.SECRET_KEY, ALLOWED_HOSTS=HOST, QUORUM_DB_POOL_MAX="4",
               WEB_CONCURRENCY="1", HOST="127.0.0.1", PORT=str(port), LOG_LEVEL="WARNING",
               # Both triggers ask the cache at every submit: a refit due from the first judgment
               # on, and the once-a-minute check.
               QUORUM_CONSENSUS_EVERY_JUDGMENTS="1", QUORUM_CONSENSUS_EVERY_MINUTES="1")
    log = tmp_path_factory.mktemp("redis-down") / "server.log"
    with serving(["-m", "gunicorn", "marketplace.asgi:application"], env=env, log=log, port=port,
                 stop_seconds=30) as url:
        yield url


def _api(server: str, user: User) -> httpx.Client:
    _, token = token_create(user=user, name="redis-down")
    return httpx.Client(base_url=f"{server}/api/v1", timeout=WAIT,
                        headers={"Authorization": f"Bearer {token}", "Host": HOST})


def test_with_redis_unreachable_a_workers_judgments_are_accepted_and_stored(
    server: str, acme: Organization, wendy: User
) -> None:
    job = open_job_with_items(items=3, organization=acme)
    with _api(server, wendy) as api:
        for label in ("cat", "dog"):
            lease = api.post("/work/next/", json={"job": job.pk})
            assert lease.status_code == 200, lease.text
            submit = api.post(f"/work/leases/{lease.json()['lease']}/submit/", json={"label": label})
            assert submit.status_code == 201, submit.text

    stored = Judgment.objects.filter(job=job, worker=wendy).order_by("id").values_list("label", flat=True)
    assert list(stored) == ["cat", "dog"]


def test_a_consensus_run_asked_for_with_redis_unreachable_answers_503_and_blocks_nothing(
    server: str, acme: Organization, alice: User
) -> None:
    job = open_job_with_items(items=3, organization=acme)
    with _api(server, alice) as api:
        first = api.post(f"/jobs/{job.pk}/consensus/", json={})
        again = api.post(f"/jobs/{job.pk}/consensus/", json={})  # not 409 "run N still running"

    for answer in (first, again):
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == "30"
        error = answer.json()["error"]
        assert error["code"] == "unavailable" and "ask again" in error["message"]
    runs = ConsensusRun.objects.filter(job=job).order_by("id")
    assert [run.pk for run in runs] == [first.json()["error"]["details"]["run"], again.json()["error"]["details"]["run"]]
    assert {run.status for run in runs} == {ConsensusRun.Status.FAILED}
    assert all("task broker could not be reached" in run.error for run in runs)


def test_a_job_cancelled_with_redis_unreachable_is_answered_cancelled(
    server: str, acme: Organization, alice: User, wendy: User
) -> None:
    """The cancel's completion run cannot be sent: the run fails (the sweep claims it again once
    Redis is back), and the client is told what happened: cancelled, refunded."""
    job = open_job_with_items(items=3, organization=acme)
    with _api(server, wendy) as api:
        lease = api.post("/work/next/", json={"job": job.pk}).json()["lease"]
        assert api.post(f"/work/leases/{lease}/submit/", json={"label": "cat"}).status_code == 201
    with _api(server, alice) as api:
        cancelled = api.post(f"/jobs/{job.pk}/cancel/", json={})

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert {run.status for run in ConsensusRun.objects.filter(job=job)} <= {ConsensusRun.Status.FAILED}


def test_healthz_probed_by_address_answers_503_naming_redis(server: str) -> None:
    answer = httpx.get(f"{server}/healthz", timeout=WAIT)  # Host: 127.0.0.1, not in ALLOWED_HOSTS

    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "unavailable" and body["down"] == ["redis"]
    assert body["checks"]["database"] == "ok"
