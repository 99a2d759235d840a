"""The same journey as test_journey_timers.py in the production shape (the Procfile's): the web
server sends tasks to a Redis broker (QUORUM_TASKS=celery), a Celery worker consumes every queue,
and a real `celery beat` process sends the periodic jobs. Settling, announcing, retrying the
webhook and releasing pay must happen with no timer in the server and no tick called by the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from django.conf import settings

from tests import live_server
from tests.live_server import ROOT, celery_worker, daphne
from tests.notifications.receiver import Receiver, receiving
from tests.quality.test_tasks import _redis_url
from tests.test_journey_timers import TIMERS, walk_a_job_to_a_payout

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

QUEUES = ("celery", "consensus", "consensus-asked")  # the Procfile's three workers' queues, in one


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as hooks:
        yield hooks


@contextmanager
def celery_beat(*, broker: str, log: Path, schedule: Path) -> Iterator[None]:
    """`celery -A marketplace.celery beat`, as the Procfile runs it, sending to `broker`."""
    env = {**os.environ, "DATABASE_URL": live_server.test_database_url(), "QUORUM_TASKS": "celery",
           "CELERY_BROKER_URL": broker, "REDIS_URL": broker, "SECRET_KEY": settings.SECRET_KEY,
           "QUORUM_DB_POOL_MAX": "0"}
    command = [sys.executable, "-m", "celery", "-A", "marketplace.celery", "beat", "--loglevel=INFO",
               f"--schedule={schedule}"]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_celery_beat_and_a_worker_settle_announce_and_release_pay_that_is_then_paid_out(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = _redis_url()
    if broker is None:
        pytest.skip("needs Redis at 127.0.0.1:6379 (or REDIS_URL) for the Celery broker")
    redis.Redis.from_url(broker).delete(*QUEUES)  # no task left over from an earlier run
    for name, value in TIMERS.items():  # the worker and beat read the same periods as the server
        if name != "QUORUM_TASKS":
            monkeypatch.setenv(name, value)
    production = {**TIMERS, "QUORUM_TASKS": "celery", "CELERY_BROKER_URL": broker}
    logs = {name: tmp_path / f"{name}.log" for name in ("web", "worker", "beat")}
    try:
        with celery_worker(queue=",".join(QUEUES), broker=broker, log=logs["worker"],
                           channels_prefix=f"quorum-test-{uuid.uuid4().hex[:8]}"), \
                celery_beat(broker=broker, log=logs["beat"], schedule=tmp_path / "celerybeat-schedule"), \
                daphne(logs["web"], **production) as url:
            walk_a_job_to_a_payout(f"{url}/api/v1", receiver)
    except AssertionError as failed:  # say what the processes said
        tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs.values() if log.exists())
        raise AssertionError(f"{failed}\n{tails}") from failed
