"""Where a load run's CPU went on this machine: the server, PostgreSQL and the load generator.

The crowd simulator runs on the same two cores as the server and PostgreSQL, so a judgment's
cost is the sum of the three; the server's share alone (bench._server.cpu_seconds) hides how
much of the machine the other two took. PostgreSQL's share counts the backends serving the
bench's database (pg_stat_activity), read from /proc: a backend that exits during the run takes
its CPU with it (the pools keep theirs open, so few do), and the cluster's shared processes (WAL
writer, checkpointer) are left out because other databases' work feeds them too."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection

TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds a process (a PostgreSQL backend: the server is on this host) has used."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None  # exited, or not ours to read
    return (int(fields[11]) + int(fields[12])) / TICK


def backends_cpu(raw: Any) -> dict[int, float]:
    """CPU seconds so far of each backend serving the database of `raw` (the psycopg connection
    under Django's: usable inside an event loop, where Django refuses its own cursor), but its own."""
    with raw.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                       "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
        pids = [row[0] for row in cursor.fetchall()]
    return {pid: cpu for pid in pids if (cpu := process_cpu(pid)) is not None}


@dataclass
class CpuSplit:
    """CPU seconds during a run: the server's processes, PostgreSQL's backends, this process."""

    server: float = 0.0
    database: float = 0.0
    load_generator: float = 0.0


class DatabaseMeter:
    """PostgreSQL backends' CPU between start() and stop(): a backend that appeared meanwhile
    counts from zero."""

    def __init__(self) -> None:
        self.before: dict[int, float] = {}
        self.generator_before = 0.0
        # Read through psycopg's own connection: start() and stop() may run inside the crowd's
        # event loop (http_load.crowd_run marks the crowd's start and end from there).
        connection.ensure_connection()
        self.raw = connection.connection

    def start(self) -> None:
        self.before = backends_cpu(self.raw)
        self.generator_before = time.process_time()

    def stop(self, split: CpuSplit) -> None:
        after = backends_cpu(self.raw)
        split.database = sum(cpu - self.before.get(pid, 0.0) for pid, cpu in after.items())
        split.load_generator = time.process_time() - self.generator_before
