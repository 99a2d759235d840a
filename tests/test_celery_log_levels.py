"""At LOG_LEVEL=INFO Celery's routine lines (a task received, a task succeeded, beat sending a
tick: ~80 a minute with the periodic jobs) are not logged; a task failing still is."""

from __future__ import annotations

import logging

import pytest
from celery import Celery

from marketplace.settings_logging import ROUTINE_CELERY_LOGGERS, logging_config


@pytest.fixture
def app() -> Celery:
    app = Celery("log-levels", set_as_current=False)
    app.conf.task_always_eager = True
    return app


def test_a_task_that_succeeds_logs_nothing_and_one_that_fails_logs_its_error(
    app: Celery, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task(name="tick")
    def tick() -> str:
        return "done"

    @app.task(name="broken")
    def broken() -> None:
        raise RuntimeError("the ledger does not balance")

    caplog.set_level(logging.INFO)  # the root at INFO, as LOG_LEVEL's default

    tick.apply()
    broken.apply()

    traced = [(record.levelname, record.getMessage()) for record in caplog.records if record.name == "celery.app.trace"]
    assert len(traced) == 1
    level, message = traced[0]
    assert level == "ERROR" and "Task broken[" in message and "the ledger does not balance" in message


def test_routine_celery_lines_are_warnings_only_unless_log_level_is_debug() -> None:
    for name in ROUTINE_CELERY_LOGGERS:
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING
    for level in ("DEBUG", "ERROR"):
        loggers = logging_config(level)["loggers"]
        assert {name: loggers[name] for name in ROUTINE_CELERY_LOGGERS} == {
            name: {"level": level} for name in ROUTINE_CELERY_LOGGERS}
    assert set(ROUTINE_CELERY_LOGGERS) == {"celery.app.trace", "celery.worker.strategy", "celery.beat"}
