"""Two hosts running `manage.py migrate` at once on one fresh PostgreSQL database both succeed
(README, "Upgrading"): the second waits for the first, then finds nothing to apply.

Real processes with their own connections. Each stops just before applying its first migration
until the test says go; the test says it once both have planned their migrations (the race) or
one of them says it waits for the other (the lock), so the overlap is certain, not a timing."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from tests.conftest import needs_postgres

ROOT = Path(__file__).resolve().parents[1]
WAIT = 300.0  # seconds: a migrate takes well under a minute; the bound is for a busy machine

# manage.py migrate, holding on at its first migration until a line arrives on stdin.
_MIGRATE_HELD_AT_FIRST = """
import sys
import django
django.setup()
from django.db.migrations.executor import MigrationExecutor
apply = MigrationExecutor.apply_migration
held = []
def apply_migration(self, state, migration, **kwargs):
    if not held:
        held.append(migration)
        print("about to apply the first migration", flush=True)
        sys.stdin.readline()
    return apply(self, state, migration, **kwargs)
MigrationExecutor.apply_migration = apply_migration
from django.core.management import execute_from_command_line
execute_from_command_line(["manage.py", "migrate", "--noinput"])
"""


def _admin_url(name: str) -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """An empty database of its own on the test server; dropped after."""
    name = f"{connection.settings_dict['NAME']}_migrate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_admin_url("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _admin_url(name)
    finally:
        with psycopg.connect(_admin_url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _start_migrate(url: str, lines: queue.Queue[tuple[int, str | None]], index: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUORUM_")}
    # A pool, as `make serve` migrates with one.
    env.update(DATABASE_URL=url, DEBUG="0", SECRET_KEY=settings.SECRET_KEY, QUORUM_DB_POOL_MAX="2")
    proc = subprocess.Popen([sys.executable, "-u", "-c", _MIGRATE_HELD_AT_FIRST], cwd=ROOT, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put((index, line))
        lines.put((index, None))  # the process closed its output: it is ending

    threading.Thread(target=read, daemon=True).start()
    return proc


@needs_postgres
def test_two_migrates_started_together_on_a_fresh_database_both_succeed(fresh_database: str) -> None:
    lines: queue.Queue[tuple[int, str | None]] = queue.Queue()
    runs = [_start_migrate(fresh_database, lines, index) for index in (0, 1)]
    output: list[list[str]] = [[], []]
    held: set[int] = set()
    try:
        # Until both hold at their first migration, or one waits for the other, or one ends.
        while len(held) < 2:
            index, line = lines.get(timeout=WAIT)
            if line is None:
                break
            output[index].append(line)
            if "about to apply the first migration" in line:
                held.add(index)
            if "Waiting for another migrate" in line:
                break
        for run in runs:
            assert run.stdin is not None
            run.stdin.write("go\n")
            run.stdin.close()
        for run in runs:
            run.wait(timeout=WAIT)
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
    while not lines.empty():
        index, line = lines.get()
        if line is not None:
            output[index].append(line)

    assert [run.returncode for run in runs] == [0, 0], "".join(output[0] + ["-----\n"] + output[1])
    waited = [i for i in (0, 1) if any("Waiting for another migrate" in line for line in output[i])]
    assert len(waited) == 1
    assert any("No migrations to apply." in line for line in output[waited[0]])
    with psycopg.connect(fresh_database) as db:
        applied = db.execute("SELECT count(*) FROM django_migrations").fetchone()[0]
    assert applied == len(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
