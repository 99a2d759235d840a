"""Start-up refuses bad configuration with a message that names the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def start_with(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "marketplace.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"DEBUG": "0", "SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"SECRET_KEY": "x" * 40, "DATABASE_URL": "mysql://db/quorum"}, "DATABASE_URL"),
        ({"SECRET_KEY": "x" * 40, "REDIS_URL": "http://cache"}, "REDIS_URL"),
        ({"SECRET_KEY": "x" * 40, "ALLOWED_HOSTS": " , "}, "ALLOWED_HOSTS"),
        ({"SECRET_KEY": "x" * 40, "QUORUM_MAX_IMPORT_BYTES": "lots"}, "QUORUM_MAX_IMPORT_BYTES"),
        ({"SECRET_KEY": "x" * 40, "QUORUM_TASKS": "cron"}, "QUORUM_TASKS"),
        ({"SECRET_KEY": "x" * 40, "QUORUM_CONSENSUS_EVERY_JUDGMENTS": "-1"}, "QUORUM_CONSENSUS_EVERY_JUDGMENTS"),
        ({"SECRET_KEY": "x" * 40, "QUORUM_EARNINGS_HOLD_DAYS": "a week"}, "QUORUM_EARNINGS_HOLD_DAYS"),
        ({"SECRET_KEY": "x" * 40, "QUORUM_CONSENSUS_HEARTBEAT_SECONDS": "90"}, "QUORUM_CONSENSUS_STALE_SECONDS"),
        ({"SECRET_KEY": "x" * 40, "QUORUM_MIN_PAYOUT": "10.001"}, "QUORUM_MIN_PAYOUT"),
        ({"SECRET_KEY": "x" * 40, "QUORUM_MIN_PAYOUT": "ten"}, "QUORUM_MIN_PAYOUT"),
    ],
)
def test_a_bad_setting_stops_start_up_naming_the_variable(env: dict[str, str], named: str) -> None:
    result = start_with(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr.strip().splitlines()[-1]


def test_good_settings_start() -> None:
    result = start_with(SECRET_KEY="x" * 40)
    assert result.returncode == 0, result.stderr


def test_the_health_check_answers(client, db) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
