"""`seed_demo` creates a superuser with a published password and prints API tokens: it runs only
where that is harmless (DEBUG on, as `make demo` sets it) or when told in so many words."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from marketplace.accounts.models import ApiToken, User

pytestmark = pytest.mark.django_db


def test_seed_demo_refuses_to_run_with_debug_off_and_creates_nothing(settings: Any) -> None:
    settings.DEBUG = False
    out = StringIO()

    with pytest.raises(CommandError) as refused:
        call_command("seed_demo", stdout=out)

    assert "DEBUG is off" in str(refused.value) and "--i-know-this-is-not-production" in str(refused.value)
    assert not User.objects.filter(username="admin").exists()
    assert not ApiToken.objects.exists() and "API token" not in out.getvalue()


def test_make_demo_runs_seed_demo_with_debug_on() -> None:
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert "DEBUG=$${DEBUG:-1} $(PY) manage.py seed_demo" in makefile
