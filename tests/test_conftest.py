"""The suite's shared fixtures keep to this run's own state (tests/conftest.py)."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from django.core.cache import cache

from tests.conftest import cache_forget

pytestmark = pytest.mark.skipif(
    not settings.CACHES["default"]["BACKEND"].endswith(".RedisCache"),
    reason="the cache is in this process's memory (no REDIS_URL): nobody else's keys to spare",
)


def test_forgetting_the_cache_between_tests_spares_other_processes_keys_in_its_redis() -> None:
    # Another process on the same Redis database: a server's channel-layer group (the
    # two-process test's job page listens through one) and another test run's cache key.
    redis = cache._cache.get_client(None, write=True)  # type: ignore[attr-defined]  # noqa: SLF001
    tag = uuid.uuid4().hex[:8]
    theirs = [f"quorum-test-elsewhere-{tag}:group:org-1", f":1:quorum:consensus-due:{tag}"]
    for key in theirs:
        redis.set(key, 1)
    cache.set("quorum:consensus-due:1", 1)
    try:
        cache_forget()
        assert cache.get("quorum:consensus-due:1") is None  # this run's key is forgotten
        assert [bool(redis.exists(key)) for key in theirs] == [True, True]
    finally:
        redis.delete(*theirs)
