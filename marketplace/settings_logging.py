"""LOGGING for settings.py (README, "Logs"): one line per record, to standard error, as
2026-12-07T21:48:54.380Z WARNING django.request pid=8916 req=3f2a... user=42 Internal Server Error: /api/v1/jobs/
(user= only on 5xx lines; req=- outside a request: Celery tasks, start-up)."""

from __future__ import annotations

from typing import Any

# Fields from logging, but request_id and user: marketplace/requestlog.RequestContextFilter adds them.
FORMAT = "%(asctime)s %(levelname)s %(name)s pid=%(process)d req=%(request_id)s%(user)s %(message)s"

# Celery's lines for every task received and succeeded, and beat's for every task it sends: with
# the periodic ticks every few seconds, ~80 lines a minute that bury real warnings. Shown with
# LOG_LEVEL=DEBUG; a task failing or a beat error is logged at ERROR/WARNING whatever the level.
ROUTINE_CELERY_LOGGERS = ("celery.app.trace", "celery.worker.strategy", "celery.beat")


def logging_config(level: str) -> dict[str, Any]:
    routine = {"DEBUG": "DEBUG", "INFO": "WARNING"}.get(level, level)  # never below LOG_LEVEL
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": "marketplace.requestlog.RequestContextFilter"}},
        "formatters": {"line": {"()": "marketplace.requestlog.UtcFormatter", "format": FORMAT}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "line", "filters": ["request"]}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {name: {"level": routine} for name in ROUTINE_CELERY_LOGGERS},
    }
