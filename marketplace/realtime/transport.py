"""Getting events from synchronous code onto the channel layer, and the job.progress throttle.

Which event loop sends. A layer's state is tied to an event loop: the in-memory layer keeps
asyncio queues that are not thread-safe, and channels-redis keeps one connection pool per loop.
Code running in a sync_to_async thread of the server (a view, a submit) sends with
async_to_sync, which runs the send on the server's loop. A thread of our own (a throttle timer,
a consensus thread) has no such loop: async_to_sync would make a throwaway loop in yet another
thread, and an in-memory layer's consumers would then wait for a wake-up that never comes. So
consumers register the loop they run on (`loop_register`, once per connect) and sends from
other threads are handed to that loop with run_coroutine_threadsafe. With no socket served by
this process (a Celery worker, a management command) there is no loop and async_to_sync is
right: only the Redis layer crosses processes anyway.

Sending never raises: a lost live update must not fail the action that caused it. It is logged.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connections

from marketplace.cachesafe import UNREACHABLE

logger = logging.getLogger(__name__)

HANDLER = "realtime.event"  # the consumers' method realtime_event receives every event
SEND_TIMEOUT = 5.0  # seconds a send may take before it is given up (and logged)

_loop: asyncio.AbstractEventLoop | None = None
UNREACHABLE_LOG_SECONDS = 60.0
_unreachable_logged = -UNREACHABLE_LOG_SECONDS


def loop_register(loop: asyncio.AbstractEventLoop | None) -> None:
    """Called by consumers on connect: the loop this process serves WebSockets on (None: forget)."""
    global _loop
    _loop = loop


def group_send(groups: Iterable[str], event: dict[str, Any]) -> None:
    """Send one event to each group. Never raises; failures are logged."""
    names = list(groups)
    envelope = {"type": HANDLER, "event": event}
    try:
        layer = get_channel_layer()
        if layer is None:
            return

        async def send() -> None:
            for name in names:
                await layer.group_send(name, envelope)

        _run(send)
    except UNREACHABLE as exc:
        _unreachable_warn(exc)
    except Exception:
        logger.exception("live event %s to %s was not sent", event.get("type"), names)


def _unreachable_warn(exc: BaseException) -> None:
    """During a Redis outage every action's events fail alike: one warning per UNREACHABLE_LOG_SECONDS
    says so, not a traceback per event. Pages catch up when they reload or their socket reconnects."""
    global _unreachable_logged
    now = time.monotonic()
    if now - _unreachable_logged >= UNREACHABLE_LOG_SECONDS:
        _unreachable_logged = now
        logger.warning("live events not sent: the channel layer is unreachable (%s: %s)", type(exc).__name__, exc)


def _run(factory: Callable[[], Awaitable[None]]) -> None:
    loop = _loop
    if loop is not None and loop.is_running() and not _running_in(loop):
        asyncio.run_coroutine_threadsafe(factory(), loop).result(timeout=SEND_TIMEOUT)
        return
    async_to_sync(factory)()


def _running_in(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class Coalescer:
    """At most one send per key per `interval` seconds, always ending on the latest state.

    The first request after a quiet spell sends at once (leading edge). Requests inside the window
    arm a single timer for its end (trailing edge); further requests while it is armed do nothing,
    since the timer builds its message when it fires and so carries whatever is latest then. A job
    labelled by a hundred workers thus costs each browser two messages a second, and the last
    judgment is never lost. Chosen over a per-process flusher thread or a debounce: no thread
    while idle, no message delayed for the first change, and the state lives behind one lock
    (submits and consensus threads request concurrently).
    """

    def __init__(self, send: Callable[[Hashable], None], interval: Callable[[], float]) -> None:
        self._send = send
        self._interval = interval
        self._lock = threading.Lock()
        self._last: dict[Hashable, float] = {}  # key -> monotonic time of its last send
        self._timers: dict[Hashable, threading.Timer] = {}
        self._firing: set[threading.Thread] = set()  # timers sending now (reset waits for them)

    def request(self, key: Hashable) -> None:
        interval = self._interval()
        with self._lock:
            if key in self._timers:
                return  # a trailing send is armed; it will read the latest state
            now = time.monotonic()
            wait = self._last.get(key, float("-inf")) + interval - now
            if wait > 0:
                timer = threading.Timer(wait, self._fire, args=(key,))
                timer.daemon = True
                self._timers[key] = timer
                timer.start()
                return
            self._last[key] = now
            self._prune(now, interval)
        self._send(key)

    def _fire(self, key: Hashable) -> None:
        with self._lock:
            self._timers.pop(key, None)
            self._last[key] = time.monotonic()
            self._firing.add(threading.current_thread())
        try:
            self._send(key)
        finally:
            connections.close_all()  # this timer thread's own database connections
            with self._lock:
                self._firing.discard(threading.current_thread())

    def _prune(self, now: float, interval: float) -> None:
        # Keys of jobs quiet for a whole window carry no state worth keeping.
        if len(self._last) > 1024:
            stale = [k for k, t in self._last.items() if now - t >= interval]
            for key in stale:
                if key not in self._timers:
                    del self._last[key]

    def reset(self, wait: float = 10.0) -> None:
        """Forget all windows, cancel armed timers and wait up to `wait` seconds for any sending
        now (tests: a send reads the database, and a test's flush of its tables deadlocked with
        a trailing send still reading them)."""
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
            self._last.clear()
            firing = list(self._firing)
        for thread in firing:
            thread.join(wait)
