"""Sign-up and password reset while the cache (Redis) is unreachable: their throttles cannot count,
so they let people through rather than fail every request. The cache is Django's real RedisCache
pointed at a port where nothing listens."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import override_settings
from rest_framework.test import APIClient

from marketplace.accounts.models import User
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
        response = APIClient().post("/password-reset/", {"email": cleo.email})

    assert response.status_code == 302
    assert [message.to for message in mail.outbox] == [["cleo@example.com"]]
