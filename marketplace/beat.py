"""Celery beat's scheduler, saying a broker outage once rather than a traceback per due task.

Celery's own logs "Message Error" with the stack and the exception's traceback (some 25 lines)
each time a periodic entry falls due and cannot be sent: a 20-second Redis outage printed 50 of
them. Here a send that failed because the broker cannot be reached logs one WARNING when the
outage starts and one INFO line when a send works again; the entries skipped meanwhile are DEBUG
lines (each runs again at its next due time, as before). Any other failure to send keeps Celery's
full traceback. marketplace/celery.py makes this beat's scheduler.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import kombu.exceptions
import redis.exceptions
from celery.beat import PersistentScheduler, Scheduler, ScheduleEntry
from celery.beat import logger as celery_beat_logger

logger = logging.getLogger(__name__)

_UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                kombu.exceptions.OperationalError, ConnectionError, socket.timeout)


def broker_unreachable(exc: BaseException | None) -> bool:
    """Whether `exc` or an exception it was raised from says the broker could not be reached
    (Celery wraps the send's error in a SchedulingError)."""
    for _ in range(10):  # a chain, not a cycle; a few links at most
        if exc is None:
            return False
        if isinstance(exc, _UNREACHABLE):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class BrokerOutageQuiet(Scheduler):
    """apply_entry as Celery's, but for the broker outage (module docstring)."""

    _broker_down = False

    def apply_entry(self, entry: ScheduleEntry, producer: Any = None) -> None:
        if not self._broker_down:  # during an outage the skipped line below says it
            celery_beat_logger.info("Scheduler: Sending due task %s (%s)", entry.name, entry.task)
        try:
            self.apply_async(entry, producer=producer, advance=False)
        except Exception as exc:
            if not broker_unreachable(exc):
                celery_beat_logger.error("Message Error: %s", exc, exc_info=True)
                return
            if not self._broker_down:
                self._broker_down = True
                detail = " ".join(str(exc).split())[:300]
                logger.warning("beat: the broker is unreachable; due tasks are skipped until it answers (%s)", detail)
            logger.debug("beat: %s skipped: the broker is unreachable", entry.name)
            return
        if self._broker_down:
            self._broker_down = False
            logger.info("beat: the broker answers again; due tasks are sent")


class QuorumScheduler(BrokerOutageQuiet, PersistentScheduler):
    """Celery's default scheduler (its schedule in the --schedule file), quiet in a broker outage."""
