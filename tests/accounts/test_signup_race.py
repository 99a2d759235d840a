"""Two clients signing up the same organization at the same moment make one organization."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction

from marketplace.accounts.models import Organization, Role, User
from marketplace.accounts.services import user_signup
from marketplace.errors import Conflict
from tests.threads import WAIT, someone_waits_for_a_lock, thread_recording, until

STRONG = "correct-horse-battery-staple"


@pytest.mark.django_db(transaction=True)
def test_a_second_sign_up_of_the_same_name_waits_for_the_first_and_is_refused() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the race needs PostgreSQL's concurrent writers (SQLite serializes them)")
    cleo_in, cleo_commits = threading.Event(), threading.Event()

    def cleo() -> User:
        with transaction.atomic():  # signed up, not yet committed
            user = user_signup(username="cleo", password=STRONG, role=Role.CLIENT, organization_name="Acme Vision")
            cleo_in.set()
            cleo_commits.wait(WAIT)
        return user

    def dora() -> User:
        return user_signup(username="dora", password=STRONG, role=Role.CLIENT, organization_name="ＡＣＭＥ-Vision")

    outcomes: dict[str, Any] = {}
    first, second = thread_recording(outcomes, "cleo", cleo), thread_recording(outcomes, "dora", dora)
    first.start()
    assert cleo_in.wait(WAIT)
    second.start()
    until(lambda: someone_waits_for_a_lock() or not second.is_alive(), "second sign-up queued or done")
    cleo_commits.set()
    first.join(WAIT)
    second.join(WAIT)

    assert isinstance(outcomes["cleo"], User)
    assert isinstance(outcomes["dora"], Conflict), outcomes["dora"]
    assert "already exists" in str(outcomes["dora"])
    assert list(Organization.objects.values_list("name", flat=True)) == ["Acme Vision"]
    assert not User.objects.filter(username="dora").exists()
