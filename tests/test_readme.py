"""The README stays true: every environment variable the settings read is in its configuration table,
and the commands it offers to try outside `make demo` run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

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
