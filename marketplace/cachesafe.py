"""The cache where asking it is best effort: an unreachable cache answers "unknown", never an error.

The submit's consensus triggers ask the cache (Redis in production) whether a refit is due. A
judgment must never be lost because that question could not be asked: with Redis down, every
submit raised redis's ConnectionError and rolled back. Here the question answers None instead;
the caller treats it as "not due", and the triggers catch up once the cache is back (the next
submit claims a refit size nobody claimed). After a failure the cache is not asked again for
DOWN_SECONDS, so a host that drops packets (each try waiting for the connect timeout) costs one
request in that span, not every request; the warning is logged at most once per span too.
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
    global _down_until
    if time.monotonic() < _down_until:
        return None
    try:
        return bool(cache.add(key, value, timeout=timeout))
    except UNREACHABLE as exc:
        _down_until = time.monotonic() + DOWN_SECONDS
        logger.warning("cache unreachable (%s: %s); consensus triggers skipped for %g s",
                       type(exc).__name__, exc, DOWN_SECONDS)
        return None


def cache_forget_down() -> None:
    """Ask the cache again at once (tests that point it elsewhere start from a reachable cache)."""
    global _down_until
    _down_until = 0.0
