"""Celery beat in a Redis outage: one warning when it starts, one line when it ends, no tracebacks;
any other failure to send a periodic task keeps its traceback."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.exceptions
from celery.beat import SchedulingError, ScheduleEntry
from celery.utils.imports import symbol_by_name

from marketplace.celery import app

REFUSED = "Error 111 connecting to 127.0.0.1:8159. Connection refused."


def _beat(tmp_path: Path, send: Any) -> Any:
    """The scheduler `celery -A marketplace.celery beat` runs, sending through `send`."""
    scheduler = symbol_by_name(app.conf.beat_scheduler)(
        app=app, schedule_filename=str(tmp_path / "schedule"), lazy=True)
    scheduler.apply_async = send
    return scheduler


def _entry(name: str) -> ScheduleEntry:
    return ScheduleEntry(name=name, task=f"tasks.{name}", schedule=timedelta(seconds=5), app=app)


def _send_failing_with(error: Exception) -> Any:
    def send(entry: ScheduleEntry, producer: Any = None, advance: bool = False, **kwargs: Any) -> Any:
        try:
            raise error
        except Exception as exc:  # as Celery's Scheduler.apply_async wraps it
            raise SchedulingError(f"Couldn't apply scheduled task {entry.name}: {exc}") from exc
    return send


def test_a_broker_outage_is_one_warning_and_its_end_one_line_without_tracebacks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    beat = _beat(tmp_path, _send_failing_with(redis.exceptions.ConnectionError(REFUSED)))

    for _ in range(10):  # 20 s of an outage: each entry falls due several times
        for name in ("pay-posting", "notifications-sweep", "consensus-sweep"):
            beat.apply_entry(_entry(name))
    beat.apply_async = lambda entry, **kwargs: object()  # Redis is back
    beat.apply_entry(_entry("pay-posting"))

    lines = caplog.text.splitlines()
    assert "Traceback" not in caplog.text
    warnings = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "the broker is unreachable" in warnings[0].getMessage()
    assert REFUSED in warnings[0].getMessage()
    assert "the broker answers again" in lines[-1]
    assert len(lines) <= 3, lines  # the first "Sending due task", the warning, the recovery


def test_any_other_failure_to_send_keeps_its_traceback(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    beat = _beat(tmp_path, _send_failing_with(KeyError("billing.pay_post")))

    beat.apply_entry(_entry("pay-posting"))

    assert "Message Error" in caplog.text and "Traceback" in caplog.text and "KeyError" in caplog.text
