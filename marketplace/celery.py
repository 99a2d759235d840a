"""The Celery app for QUORUM_TASKS=celery: consensus runs on workers sharing a Redis broker.

    celery -A marketplace.celery worker --loglevel=INFO
    celery -A marketplace.celery beat --loglevel=INFO    # one per deployment: periodic jobs

Settings come from Django's (CELERY_* names: CELERY_BROKER_URL defaults to REDIS_URL); tasks
are found in each app's tasks.py. Workers need the same DATABASE_URL as the web processes: a
task carries only a run id, and the run reads everything else from the database.
"""

from __future__ import annotations

import os

from celery import Celery

from marketplace import periodic

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

app = Celery("marketplace")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Beat sends each periodic job's task (marketplace/periodic.py, the one list of them).
app.conf.beat_schedule = periodic.beat_schedule()
