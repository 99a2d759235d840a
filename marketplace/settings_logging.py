"""LOGGING for settings.py (README, "Logs"): one line per record, to standard error, as
2026-12-07T21:48:54.380Z WARNING django.request pid=8916 req=3f2a... user=42 Internal Server Error: /api/v1/jobs/
(user= only on 5xx lines; req=- outside a request: Celery tasks, start-up).

ACCESS_LOG turns the access log on (marketplace/requestlog.py writes it): `-` among the other
lines, on standard error; a path: that file, in the same format; unset or empty: none."""

from __future__ import annotations

from typing import Any

# Fields from logging, but request_id and user: marketplace/requestlog.RequestContextFilter adds them.
FORMAT = "%(asctime)s %(levelname)s %(name)s pid=%(process)d req=%(request_id)s%(user)s %(message)s"

# Celery's lines for every task received and succeeded, and beat's for every task it sends: with
# the periodic ticks every few seconds, ~80 lines a minute that bury real warnings. Shown with
# LOG_LEVEL=DEBUG; a task failing or a beat error is logged at ERROR/WARNING whatever the level.
ROUTINE_CELERY_LOGGERS = ("celery.app.trace", "celery.worker.strategy", "celery.beat")


ACCESS_LOGGER = "marketplace.access"


def logging_config(level: str, access_log: str = "") -> dict[str, Any]:
    routine = {"DEBUG": "DEBUG", "INFO": "WARNING"}.get(level, level)  # never below LOG_LEVEL
    line: dict[str, Any] = {"formatter": "line", "filters": ["request"]}
    handlers: dict[str, Any] = {"console": {"class": "logging.StreamHandler", **line}}
    # Off: above the INFO it is written at, whatever LOG_LEVEL says.
    access: dict[str, Any] = {"level": "WARNING"}
    if access_log == "-":
        access = {"level": "INFO"}  # through the root's handler, whatever LOG_LEVEL says
    elif access_log:
        handlers["access"] = {"class": "logging.FileHandler", "filename": access_log, "delay": True, **line}
        access = {"level": "INFO", "handlers": ["access"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": "marketplace.requestlog.RequestContextFilter"}},
        "formatters": {"line": {"()": "marketplace.requestlog.UtcFormatter", "format": FORMAT}},
        "handlers": handlers,
        "root": {"handlers": ["console"], "level": level},
        "loggers": {ACCESS_LOGGER: access, **{name: {"level": routine} for name in ROUTINE_CELERY_LOGGERS}},
    }
