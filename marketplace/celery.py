"""The Celery app for QUORUM_TASKS=celery: consensus runs on workers sharing a Redis broker.

    celery -A marketplace.celery worker --loglevel=INFO  # every queue: one worker for all
    celery -A marketplace.celery beat --loglevel=INFO    # one per deployment: periodic jobs

A worker started without --queues consumes all three queues (settings.py names them); the
Procfile runs one worker per queue instead, so a long fit holds back no other kind of task.

Settings come from Django's (CELERY_* names: CELERY_BROKER_URL defaults to REDIS_URL); tasks
are found in each app's tasks.py. Workers need the same DATABASE_URL as the web processes: a
task carries only a run id, and the run reads everything else from the database.
"""

from __future__ import annotations

import os

from celery import Celery
from django.conf import settings
from kombu import Exchange, Queue

from marketplace import periodic

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

app = Celery("marketplace")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Declared, so that a worker given no --queues consumes them all: without this list it would
# consume Celery's default queue alone and never run a consensus run (they wait on the others).
# Each bound as Celery makes a queue it was not told of (its own exchange, its name as the key),
# so a task sent to one queue lands in that queue alone.
app.conf.task_queues = [Queue(name, Exchange(name), routing_key=name) for name in (
    settings.CELERY_TASK_DEFAULT_QUEUE, settings.QUORUM_CONSENSUS_QUEUE, settings.QUORUM_CONSENSUS_ASKED_QUEUE,
)]
app.autodiscover_tasks()
# Beat sends each periodic job's task (marketplace/periodic.py, the one list of them).
app.conf.beat_schedule = periodic.beat_schedule()
# Celery's scheduler, but a broker outage is one warning, not a traceback per due task (beat.py).
app.conf.beat_scheduler = "marketplace.beat:QuorumScheduler"
