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


def _normalized(command: list[str]) -> list[str]:
    """A command as both files write it: no leading env assignments or `env`, the program by its
    name, shell defaults (${X:-1}) and systemd's escaped % read the same."""
    while command and (command[0] == "/usr/bin/env" or re.fullmatch(r"[A-Z_]+=\S*", command[0])):
        command = command[1:]
    words = [Path(command[0]).name, *command[1:]]
    return [re.sub(r"\$\{([A-Z_]+)(:-[^}]*)?\}", r"${\1}", word).replace("%%", "%") for word in words]


def test_every_procfile_process_has_a_systemd_unit_running_the_same_command() -> None:
    units = {path.stem.removeprefix("quorum-"): path for path in (ROOT / "deploy" / "systemd").glob("quorum-*.service")}
    processes = _processes()
    assert set(units) == set(processes)
    for name, command in processes.items():
        text = units[name].read_text()
        exec_start = re.search(r"^ExecStart=(.+)$", text, re.M)
        assert exec_start, f"{units[name].name} has no ExecStart"
        assert _normalized(shlex.split(exec_start.group(1))) == _normalized(command), name
        assert re.search(r"^Restart=always$", text, re.M), f"{units[name].name} is not restarted"
        if "QUORUM_DB_POOL_MAX=0" in command:  # Celery's: no pool, whatever the environment file says
            assert "QUORUM_DB_POOL_MAX=0" in exec_start.group(1), name
