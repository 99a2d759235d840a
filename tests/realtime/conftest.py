"""Live-update tests: sockets through the real ASGI stack with a signed-in session cookie.

The cast (tests/conftest.py): Alice is Acme's client, Carol is Globex's and must hear nothing of
Acme; Wendy is a worker; Ada is an admin. Each test gets a fresh in-memory channel layer (even
when REDIS_URL is set: other test processes must not hear us) and a quiet progress throttle;
test_redis.py brings its own Redis layer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections
from django.test import Client

from marketplace.accounts.models import User
from marketplace.asgi import application as asgi_application
from marketplace.realtime import events, transport

# The site's own pages (realtime/origins.py): QUORUM_SITE_URL's scheme, host and port.
_SITE = urlsplit(settings.QUORUM_SITE_URL)
ORIGIN = f"{_SITE.scheme}://{_SITE.netloc}".encode()
# A busy machine can only weaken QUIET (a late message goes unseen), never fail a test with it.
QUIET = 0.4  # seconds a socket must stay silent to count as "received nothing"
WAIT = 30.0  # upper bound on the wait for a message that should come (milliseconds idle; busy machines)


@pytest.fixture(autouse=True)
def _quiet_realtime(settings: Any) -> Iterator[None]:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    events.throttle_reset()
    yield
    events.throttle_reset()
    transport.loop_register(None)


@pytest.fixture
async def sockets_db() -> AsyncIterator[None]:
    """For async tests: close the connection the ORM opened in asgiref's sync thread, so
    PostgreSQL can drop the test database at the end."""
    yield
    await database_sync_to_async(connections.close_all)()


def redis_answers(url: str) -> bool:
    """Whether a Redis answers at `url` (tests that need one skip with the reason otherwise)."""
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except Exception:
        return False


def session_cookie(user: User) -> str:
    """A real session for `user`, as the browser would send it."""
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}"


async def open_socket(
    path: str, user: User | None = None, *, origin: bytes = ORIGIN, application: Any = None
) -> tuple[WebsocketCommunicator, bool, int | None]:
    """Connect to `path` as `user` (anonymous when None): (communicator, accepted, close code)."""
    application = application or asgi_application
    headers = [(b"origin", origin)]
    if user is not None:
        cookie = await database_sync_to_async(session_cookie)(user)
        headers.append((b"cookie", cookie.encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    accepted, code = await communicator.connect(timeout=WAIT)
    return communicator, accepted, code


async def receive_type(
    communicator: WebsocketCommunicator, kind: str, timeout: float = WAIT
) -> dict[str, Any]:
    """The next message of type `kind`, skipping others (a publish sends status and progress)."""
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        if message.get("type") == kind:
            return message
