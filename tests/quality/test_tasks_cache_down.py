"""The submit's consensus triggers with the cache (Redis) unreachable: best effort, never in the way.
The cache is Django's real RedisCache pointed at a port where nothing listens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from marketplace.cachesafe import cache_forget_down
from marketplace.labeling.models import Judgment
from marketplace.quality.models import ConsensusRun
from marketplace.quality.tasks import trigger_memory_forget
from tests.factories import WorkerFactory, open_job_with_items
from tests.quality.run_helpers import submit

pytestmark = pytest.mark.django_db

UNREACHABLE = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                           "LOCATION": "redis://127.0.0.1:6399/13",  # nothing listens there
                           "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2}}}


@pytest.fixture(autouse=True)
def _triggers_ask_the_cache_afresh() -> Iterator[None]:
    cache_forget_down()
    trigger_memory_forget()
    yield
    cache_forget_down()
    trigger_memory_forget()


def test_with_the_cache_unreachable_submits_are_stored_and_start_no_run(settings: Any) -> None:
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 1  # a refit due at every size: the cache is asked
    settings.QUORUM_CONSENSUS_EVERY_MINUTES = 1
    job = open_job_with_items(items=4, overlap=1)
    worker = WorkerFactory()

    with override_settings(CACHES=UNREACHABLE):
        for label in ("cat", "dog", "cat"):
            submit(worker, job, label)

    assert Judgment.objects.filter(job=job).count() == 3
    assert not ConsensusRun.objects.filter(job=job).exists()


def test_the_refit_missed_while_the_cache_was_down_comes_with_the_first_submit_after(settings: Any) -> None:
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 2
    settings.QUORUM_CONSENSUS_EVERY_MINUTES = 0
    job = open_job_with_items(items=6, overlap=1)
    worker = WorkerFactory()
    with override_settings(CACHES=UNREACHABLE):
        for _ in range(3):
            submit(worker, job, "dog")  # sizes 2 passed unclaimed
    cache_forget_down()  # the cache is back (the skip window is 10 s)

    submit(worker, job, "dog")

    runs = ConsensusRun.objects.filter(job=job, trigger=ConsensusRun.Trigger.PERIODIC)
    assert [run.judgments for run in runs] == [4]
