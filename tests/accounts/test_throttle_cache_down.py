"""Sign-up and password reset while the cache (Redis) is unreachable: their throttles cannot count,
so they let people through rather than fail every request, and only the first request in
cachesafe's skip window tries the cache (a Redis host that drops packets costs each try the
2-second connect timeout). The cache is Django's real RedisCache pointed at a port where nothing
listens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis.connection
from django.core import mail
from django.test import Client, override_settings
from rest_framework.test import APIClient

from marketplace.accounts.models import User
from marketplace.cachesafe import DOWN_SECONDS
from tests.accounts.helpers import reset_asked
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db
UNREACHABLE = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                           "LOCATION": "redis://127.0.0.1:6399/13",  # nothing listens there
                           "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2}}}


def test_a_worker_signs_up_while_the_cache_is_down(caplog: pytest.LogCaptureFixture) -> None:
    with override_settings(CACHES=UNREACHABLE):
        response = APIClient().post("/api/v1/auth/signup/", {
            "username": "wanda-offline", "password": "correct-horse-battery-staple", "role": "worker",
        }, format="json")

    assert response.status_code == 201, response.content
    assert User.objects.filter(username="wanda-offline").exists()
    assert "cache unreachable" in caplog.text


def test_a_password_reset_mails_its_link_while_the_cache_is_down() -> None:
    cleo = ClientFactory(email="cleo@example.com")
    with override_settings(CACHES=UNREACHABLE):
        response = reset_asked(Client(), cleo.email)

    assert response.status_code == 302
    assert [message.to for message in mail.outbox] == [["cleo@example.com"]]


def connection_attempts(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """How many times redis-py has tried to open a socket to the cache so far."""
    tries: list[int] = []
    connect = redis.connection.Connection._connect

    def counted(self: Any) -> Any:
        tries.append(1)
        return connect(self)

    monkeypatch.setattr(redis.connection.Connection, "_connect", counted)
    return lambda: len(tries)


def sign_up(username: str) -> Any:
    return APIClient().post("/api/v1/auth/signup/", {
        "username": username, "password": "correct-horse-battery-staple", "role": "worker",
    }, format="json")


def test_while_the_cache_is_down_only_the_first_request_in_the_skip_window_waits_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert DOWN_SECONDS >= 5  # the requests below come well within one window
    attempts = connection_attempts(monkeypatch)
    with override_settings(CACHES=UNREACHABLE):
        first = sign_up("wanda-first")
        tried_by_the_first = attempts()
        later = [sign_up("wanda-second"),
                 reset_asked(Client(), "someone@example.com")]

    assert tried_by_the_first >= 1
    assert attempts() == tried_by_the_first  # the sign-up and the reset after it never dialled
    assert [r.status_code for r in (first, *later)] == [201, 201, 302]
    assert User.objects.filter(username__in=["wanda-first", "wanda-second"]).count() == 2
