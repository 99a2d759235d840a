"""The README stays true: every environment variable the settings read is in its configuration table,
and the commands it offers to try outside `make demo` run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_environment_variable_the_settings_read_is_documented() -> None:
    settings = "".join((ROOT / "marketplace" / name).read_text() for name in ("settings.py", "settings_rules.py", "settings_db.py"))
    read = set(re.findall(r'env_(?:str|int|bool|list|decimal|float)\(\s*"([A-Z_]+)"', settings))
    table = {m for m in re.findall(r"^\| `([A-Z_]+)`", (ROOT / "README.md").read_text(), re.M)}
    assert read, "the settings read no environment variable?"
    assert read <= table, f"not in README's configuration table: {sorted(read - table)}"


def test_the_readmes_simulate_command_runs_as_written_without_a_secret_key() -> None:
    shown = re.search(r"`((?:[A-Z_]+=\S+ )*)(\S*python) manage\.py simulate", (ROOT / "README.md").read_text())
    assert shown, "README no longer shows manage.py simulate"
    # A fresh shell: no SECRET_KEY, no DEBUG, only what the README's line sets.
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE")}
    env.update(pair.split("=", 1) for pair in shown.group(1).split())
    run = subprocess.run([sys.executable, "manage.py", "simulate", "--help"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "--workers" in run.stdout


def test_every_replay_command_shown_sets_debug_like_simulate() -> None:
    readme = (ROOT / "README.md").read_text()
    shown = re.findall(r"(\S*)\s+\S*python manage\.py (?:replay|simulate) ", readme)
    assert shown and all(prefix.endswith("DEBUG=1") for prefix in shown), shown


def _run_the_readmes_worker_loop(tmp_path: Path, answers: list[str]) -> tuple[subprocess.CompletedProcess[str], int]:
    """The README's worker loop in bash, with `curl` answering `answers` in turn (then nothing).

    A loop that asks more than 20 times is taken as spinning: the fake curl ends the shell."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index('WORKER="Authorization: Bearer <worker1 token>"')
    loop = readme[start:readme.index('[ "$MISSED" = - ] && MISSED=', start)]
    (tmp_path / "answers").write_text("".join(f"{answer}\n" for answer in answers))
    (tmp_path / "n").write_text("0")
    fake = f"""T={tmp_path}; Q=http://quorum.test/api/v1; JOB=1
curl() {{ n=$(($(cat $T/n) + 1)); echo $n > $T/n; [ $n -gt 20 ] && kill $$; sed -n "${{n}}p" $T/answers; }}
sleep() {{ :; }}
"""
    run = subprocess.run(["bash", "-c", fake + loop + 'echo "ended LEASE=$LEASE MISSED=$MISSED"'],
                         capture_output=True, text=True, timeout=60)
    return run, int((tmp_path / "n").read_text())


def test_the_readmes_worker_loop_labels_until_no_work_waiting_while_busy(tmp_path: Path) -> None:
    run, asked = _run_the_readmes_worker_loop(tmp_path, [
        '{"error": {"code": "busy", "details": {"retry_after": 1}}}',
        '{"lease": "L1", "item": {"data": {}}}',
        '{"judgment": 7, "feedback": {"right": "cat"}, "next": {"lease": "L2"}, "next_error": null}',
        '{"judgment": 8, "feedback": null, "next": null, "next_error": {"code": "no_work"}}',
    ])
    assert "ended LEASE=- MISSED=7" in run.stdout and asked == 4 and run.stderr == ""


@pytest.mark.parametrize("answers", [
    [],  # the server is not up: curl prints nothing
    ['{"error": {"code": "not_authenticated", "message": "Invalid token."}}'],
    ['{"lease": "L1"}', '{"error": {"code": "lease_lost", "message": "This lease has expired."}}'],
    ['{"lease": "L1"}', '{"judgment": 8, "feedback": null, "next": null, "next_error": {"code": "paused"}}'],
], ids=["no server", "wrong token", "lease lost", "job paused"])
def test_the_readmes_worker_loop_stops_on_an_answer_it_does_not_expect_saying_which(
    tmp_path: Path, answers: list[str]
) -> None:
    run, asked = _run_the_readmes_worker_loop(tmp_path, answers)
    assert "ended LEASE=-" in run.stdout and asked == max(len(answers), 1), (asked, run.stdout, run.stderr)
    assert "Stopping on this answer:" in run.stderr
