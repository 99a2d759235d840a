"""Start-up refuses bad configuration with a message that names the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD_KEY = "a-production-like-secret-key-of-more-than-fifty-characters-0123456789"
# README "Deploying": the environment a production server runs with (plus its DATABASE_URL and REDIS_URL).
PRODUCTION = {"DEBUG": "0", "SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "quorum.example.com",
              "QUORUM_SITE_URL": "https://quorum.example.com", "SECURE_SSL_REDIRECT": "1", "SECURE_HSTS_PRELOAD": "1",
              "EMAIL_HOST": "smtp.example.com"}


def start_with(*command: str, **env: str) -> subprocess.CompletedProcess[str]:
    # DJANGO_ALLOW_ASYNC_UNSAFE: the browser tests' conftest sets it in this process (Playwright's
    # loop beside the ORM); a production server never has it, and check --deploy warns about it.
    dropped = {"DATABASE_URL", "REDIS_URL", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    clean.update(env)
    return subprocess.run(
        list(command) or [sys.executable, "-c", "import django; django.setup()"],
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
        ({"DEBUG": "0", "SECRET_KEY": "a-forty-character-key-that-is-too-short!"}, "SECRET_KEY"),
        ({"DEBUG": "0", "SECRET_KEY": "ab" * 40}, "SECRET_KEY"),  # long, but only two characters
        ({"SECRET_KEY": GOOD_KEY, "QUORUM_LOGIN_FAILURE_LIMIT": "0"}, "QUORUM_LOGIN_FAILURE_LIMIT"),
        ({"SECRET_KEY": GOOD_KEY, "QUORUM_PROXY_COUNT": "-1"}, "QUORUM_PROXY_COUNT"),
        ({"SECRET_KEY": GOOD_KEY, "DATABASE_URL": "mysql://db/quorum"}, "DATABASE_URL"),
        ({"SECRET_KEY": GOOD_KEY, "REDIS_URL": "http://cache"}, "REDIS_URL"),
        ({"SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": " , "}, "ALLOWED_HOSTS"),
        ({"SECRET_KEY": GOOD_KEY, "QUORUM_MAX_IMPORT_BYTES": "lots"}, "QUORUM_MAX_IMPORT_BYTES"),
        ({"SECRET_KEY": GOOD_KEY, "QUORUM_TASKS": "cron"}, "QUORUM_TASKS"),
        ({"SECRET_KEY": GOOD_KEY, "QUORUM_CONSENSUS_EVERY_JUDGMENTS": "-1"}, "QUORUM_CONSENSUS_EVERY_JUDGMENTS"),
        ({"SECRET_KEY": GOOD_KEY, "QUORUM_EARNINGS_HOLD_DAYS": "a week"}, "QUORUM_EARNINGS_HOLD_DAYS"),
        ({"SECRET_KEY": GOOD_KEY, "QUORUM_CONSENSUS_HEARTBEAT_SECONDS": "90"}, "QUORUM_CONSENSUS_STALE_SECONDS"),
        ({"SECRET_KEY": GOOD_KEY, "QUORUM_MIN_PAYOUT": "10.001"}, "QUORUM_MIN_PAYOUT"),
        ({"SECRET_KEY": GOOD_KEY, "QUORUM_MIN_PAYOUT": "ten"}, "QUORUM_MIN_PAYOUT"),
        ({"SECRET_KEY": GOOD_KEY, "LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        # A counted answer must be past undoing (quality/own_figures.py).
        ({"SECRET_KEY": GOOD_KEY, "QUORUM_UNDO_SECONDS": "30", "QUORUM_GOLD_FIGURES_LAG_SECONDS": "20"},
         "QUORUM_GOLD_FIGURES_LAG_SECONDS"),
    ],
)
def test_a_bad_setting_stops_start_up_naming_the_variable(env: dict[str, str], named: str) -> None:
    result = start_with(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr.strip().splitlines()[-1]


def test_good_settings_start() -> None:
    result = start_with(SECRET_KEY=GOOD_KEY)
    assert result.returncode == 0, result.stderr


def test_the_log_level_is_read_in_any_case_as_gunicorn_reads_it() -> None:
    result = start_with(SECRET_KEY=GOOD_KEY, LOG_LEVEL="info")
    assert result.returncode == 0, result.stderr


def test_a_short_secret_key_is_fine_while_debug_is_on() -> None:
    result = start_with(DEBUG="1", SECRET_KEY="a-short-development-key")
    assert result.returncode == 0, result.stderr


def test_check_deploy_is_clean_with_the_documented_production_environment() -> None:
    result = start_with(sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING",
                        **PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_health_check_answers(client, db) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["checks"]["database"] == "ok"


def test_a_load_balancer_probing_by_address_gets_the_health_check_not_disallowed_host(
    client, db, settings  # type: ignore[no-untyped-def]
) -> None:
    settings.ALLOWED_HOSTS = ["quorum.example.com"]  # the README's example
    settings.SECURE_SSL_REDIRECT = True

    probe = client.get("/healthz", HTTP_HOST="10.0.0.5")  # plain HTTP, by address
    page = client.get("/", HTTP_HOST="10.0.0.5", secure=True)

    assert probe.status_code == 200 and probe.json()["status"] == "ok"
    assert page.status_code == 400  # every other path still refuses a host not allowed


def test_the_health_check_answers_503_naming_redis_when_redis_is_unreachable(
    client, db, settings  # type: ignore[no-untyped-def]
) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:6399/13"  # nothing listens there

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["down"] == ["redis"] and response.json()["checks"]["database"] == "ok"


def test_check_deploy_warns_when_the_site_url_is_left_at_its_localhost_default() -> None:
    production = {name: value for name, value in PRODUCTION.items() if name != "QUORUM_SITE_URL"}
    result = start_with(sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING",
                        **production)

    assert result.returncode != 0
    assert "quorum.W002" in result.stderr and "QUORUM_SITE_URL is http://localhost:8000" in result.stderr
    assert "ALLOWED_HOSTS (quorum.example.com) does not accept localhost" in result.stderr


def test_check_deploy_warns_when_any_host_is_allowed() -> None:
    result = start_with(sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING",
                        **{**PRODUCTION, "ALLOWED_HOSTS": "*"})

    assert result.returncode != 0
    assert "quorum.W003" in result.stderr and "ALLOWED_HOSTS is '*'" in result.stderr


@pytest.mark.parametrize(("site", "warned"), [
    ("http://localhost:8000", True),  # the README's production example once left it out: the default
    ("https://quorum.example.com", False),
    ("https://www.quorum.example.com", True),
])
def test_a_production_web_process_warns_once_at_start_up_when_the_site_url_is_not_an_allowed_host(
    site: str, warned: bool
) -> None:
    result = start_with(sys.executable, "-c", "import marketplace.asgi", **{**PRODUCTION, "QUORUM_SITE_URL": site})

    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "QUORUM_SITE_URL" in line]
    assert len(lines) == (1 if warned else 0), result.stderr
    if warned:
        # After the log line's prefix (time, level, logger, pid, request id: settings_logging.py).
        assert " WARNING marketplace.siteurl " in lines[0]
        assert f" QUORUM_SITE_URL is {site}, but ALLOWED_HOSTS (quorum.example.com)" in lines[0]


def test_a_local_server_with_the_default_site_url_says_nothing() -> None:
    # Tests, the bench and `make demo` serve on localhost, which the default ALLOWED_HOSTS accepts.
    result = start_with(sys.executable, "-c", "import marketplace.asgi", SECRET_KEY=GOOD_KEY)

    assert result.returncode == 0, result.stderr
    assert "QUORUM_SITE_URL" not in result.stderr
