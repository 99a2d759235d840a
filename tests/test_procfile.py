"""The Procfile (`make serve`) starts a Celery worker for every queue tasks are sent to, and only
one per queue: a queue no process consumes would leave its tasks waiting for ever (the tests of
tests/quality/test_celery_queues.py run their workers on private queues, so they would not see a
name that drifted here)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _processes() -> dict[str, list[str]]:
    processes = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            processes[name.strip()] = shlex.split(command)
    return processes


def _queues(command: list[str]) -> list[str]:
    return [q for arg in command if (m := re.fullmatch(r"--queues=(.+)", arg)) for q in m.group(1).split(",")]


def test_every_queue_tasks_are_sent_to_has_exactly_one_worker_process(settings: Any) -> None:
    processes = _processes()
    workers = {name: command for name, command in processes.items() if "worker" in command}
    sent_to = {settings.CELERY_TASK_DEFAULT_QUEUE, settings.QUORUM_CONSENSUS_QUEUE,
               settings.QUORUM_CONSENSUS_ASKED_QUEUE}
    consumed = [queue for command in workers.values() for queue in _queues(command)]

    assert sorted(consumed) == sorted(sent_to)
    assert all(_queues(command) for command in workers.values()), "a worker with no --queues takes every queue"
    assert ["beat" in command for command in processes.values()].count(True) == 1
