"""Only the site's own pages open a socket: the Origin must be QUORUM_SITE_URL's scheme, host and
port (and, in development, the address the socket was opened on).

Outside review: with Alice's cookie, a page on another port of the site's host
(Origin http://127.0.0.1:9999 against a server on :8161) opened her socket and read Acme's
live feed; the check compared host names only.
"""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from marketplace.accounts.models import User
from marketplace.asgi import application
from tests.realtime.conftest import WAIT, session_cookie

SITE = "https://quorum.example.com"


@pytest.fixture(autouse=True)
def _site(settings: Any) -> None:
    settings.QUORUM_SITE_URL = SITE
    settings.ALLOWED_HOSTS = ["quorum.example.com", "127.0.0.1", "localhost"]


async def reaches_the_socket(origin: str | None, *, host: str = "quorum.example.com", scheme: str = "wss") -> bool:
    """Whether an anonymous socket gets past the origin check: the consumer then refuses it for
    want of a session (4401), where the origin check refuses it before (1000)."""
    headers = [(b"host", host.encode())] + ([(b"origin", origin.encode())] if origin is not None else [])
    communicator = WebsocketCommunicator(application, "/ws/client/", headers=headers)
    communicator.scope["scheme"] = scheme
    accepted, code = await communicator.connect(timeout=WAIT)
    assert not accepted
    return bool(code == 4401)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("sockets_db")
async def test_a_page_on_another_port_of_the_sites_host_cannot_open_a_signed_in_users_socket(
    settings: Any, alice: User
) -> None:
    settings.QUORUM_SITE_URL = "http://127.0.0.1:8161"
    cookie = await database_sync_to_async(session_cookie)(alice)

    async def opened_from(origin: str) -> bool:
        headers = [(b"host", b"127.0.0.1:8161"), (b"origin", origin.encode()), (b"cookie", cookie.encode())]
        communicator = WebsocketCommunicator(application, "/ws/client/", headers=headers)
        accepted, _ = await communicator.connect(timeout=WAIT)
        if accepted:
            await communicator.disconnect()
        return bool(accepted)

    assert await opened_from("http://127.0.0.1:8161")
    assert not await opened_from("http://127.0.0.1:9999")


@pytest.mark.parametrize(
    ("origin", "reaches"),
    [
        ("https://quorum.example.com", True),
        ("https://quorum.example.com:443", True),  # the default port, written
        ("HTTPS://Quorum.Example.com", True),
        ("https://quorum.example.com:8443", False),  # another port
        ("http://quorum.example.com", False),  # another scheme
        ("https://evil.example", False),
        ("https://quorum.example.com.evil.example", False),
        ("https://sub.quorum.example.com", False),
        ("null", False),
        ("https://quorum.example.com:99999", False),  # malformed port
        ("https://user@quorum.example.com", False),
        (None, False),  # no Origin at all
    ],
)
async def test_in_production_only_the_sites_origin_reaches_the_socket(origin: str | None, reaches: bool) -> None:
    assert await reaches_the_socket(origin) is reaches


async def test_in_production_the_sockets_own_address_is_not_enough() -> None:
    assert not await reaches_the_socket("http://127.0.0.1:8000", host="127.0.0.1:8000", scheme="ws")


async def test_in_development_a_page_of_the_sockets_own_address_reaches_it(settings: Any) -> None:
    settings.DEBUG = True

    assert await reaches_the_socket("http://127.0.0.1:8000", host="127.0.0.1:8000", scheme="ws")
    assert await reaches_the_socket("http://localhost", host="localhost", scheme="ws")
    assert await reaches_the_socket(SITE, host="127.0.0.1:8000", scheme="ws")  # the site's, as always
    assert not await reaches_the_socket("http://127.0.0.1:9999", host="127.0.0.1:8000", scheme="ws")
    assert not await reaches_the_socket("https://127.0.0.1:8000", host="127.0.0.1:8000", scheme="ws")
    # A name that merely resolves to this machine (DNS rebinding) is not in ALLOWED_HOSTS.
    assert not await reaches_the_socket("http://rebound.example:8000", host="rebound.example:8000", scheme="ws")
