"""The cache where asking it is best effort: an unreachable cache answers "unknown", never an error.

The submit's consensus triggers ask the cache (Redis in production) whether a refit is due. A
judgment must never be lost because that question could not be asked: with Redis down, every
submit raised redis's ConnectionError and rolled back. Here the question answers None instead;
the caller treats it as "not due", and the triggers catch up once the cache is back (the next
submit claims a refit size nobody claimed). The sign-up and password-reset throttles count here
too (cache_count) and let a request through uncounted on None.

After a failure the cache is not asked again for DOWN_SECONDS, by any caller of this module, so a
host that drops packets (each try waiting for the connect timeout, 2 s) costs one request in that
span, not every request; the warning is logged at most once per span too.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.cache import cache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

DOWN_SECONDS = 10.0
# What the cache backends raise when their server cannot be reached (Django's RedisCache: redis-py's).
UNREACHABLE: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)

_down_until = 0.0


def cache_add(key: str, value: Any, *, timeout: int) -> bool | None:
    """cache.add(key, value, timeout): True when this call stored the key, False when it was there;
    None when the cache is unreachable (now, or failed within the last DOWN_SECONDS)."""
    if _known_down():
        return None
    try:
        return bool(cache.add(key, value, timeout=timeout))
    except UNREACHABLE as exc:
        _went_down(exc)
        return None


def cache_count(key: str, *, timeout: int) -> int | None:
    """Add one to the counter `key` and return its new value; a new counter starts at 0 and
    expires `timeout` seconds after it was made (not after each count: a fixed window). None when
    the cache is unreachable (now, or failed within the last DOWN_SECONDS)."""
    if _known_down():
        return None
    try:
        cache.add(key, 0, timeout=timeout)
        try:
            return int(cache.incr(key))
        except ValueError:  # the key expired between add and incr: a new window has begun
            cache.add(key, 1, timeout=timeout)
            return 1
    except UNREACHABLE as exc:
        _went_down(exc)
        return None


def cache_forget_down() -> None:
    """Ask the cache again at once (tests that point it elsewhere start from a reachable cache)."""
    global _down_until
    _down_until = 0.0


def _known_down() -> bool:
    return time.monotonic() < _down_until


def _went_down(exc: BaseException) -> None:
    global _down_until
    _down_until = time.monotonic() + DOWN_SECONDS
    logger.warning("cache unreachable (%s: %s); consensus triggers and sign-up/reset throttles skip it for %g s",
                   type(exc).__name__, exc, DOWN_SECONDS)
