"""python manage.py migrate: Django's migrate, one run at a time per PostgreSQL database.

Several hosts start at once on a deploy (`make serve` migrates at every start). Two Django
migrates on one fresh database both plan the same migrations and the slower one fails with
`relation "..." already exists`; on an upgrade both may build the same online index. Here a run
on PostgreSQL first takes a session-level advisory lock held until it ends: a second run waits,
then plans anew and finds nothing to apply. SQLite has one writer anyway: nothing changes there.

It lives in accounts because accounts is the bottom app: an app's command replaces Django's own.
"""

from __future__ import annotations

import time
import zlib
from typing import Any

from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import connections

# The advisory lock's key: any fixed bigint, the same in every process of every release.
MIGRATE_LOCK_KEY = zlib.crc32(b"quorum: manage.py migrate")
# Seconds between two tries while another run holds the lock.
RETRY_SECONDS = 1.0


class Command(DjangoMigrate):
    help = DjangoMigrate.help + " On PostgreSQL one run at a time: a second waits for the first to finish."

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":
            super().handle(*args, **options)
            return
        import psycopg  # PostgreSQL's driver, only needed here

        # A connection of its own, outside Django's pool: the lock belongs to this session for
        # the whole run, whatever Django does with its connections meanwhile (a pooled one closed
        # and reopened would leave the lock behind on the pool). Ending the process, however it
        # ends, ends the session and so releases the lock.
        with psycopg.connect(**connection.get_connection_params(), autocommit=True) as lock:
            # Tries, not a blocking pg_advisory_lock: a statement waiting on the lock holds a
            # snapshot, and the running migrate's CREATE INDEX CONCURRENTLY waits for every older
            # snapshot to end, so the two would wait on each other for ever (seen).
            if not _try_lock(lock):
                self.stdout.write("Waiting for another migrate of this database to finish...")
                self.stdout.flush()
                while not _try_lock(lock):
                    time.sleep(RETRY_SECONDS)
            try:
                super().handle(*args, **options)
            finally:
                lock.execute("SELECT pg_advisory_unlock(%s)", [MIGRATE_LOCK_KEY])


def _try_lock(lock: Any) -> bool:
    return bool(lock.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATE_LOCK_KEY]).fetchone()[0])
