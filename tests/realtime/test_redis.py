"""With the Redis channel layer, separate application instances (separate layer objects, as in
separate ASGI processes) share events. Skipped when Redis does not answer.

Uses Redis db 7 and a prefix of its own, flushed (prefix only) at the end."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from django.db import transaction
from django.urls import path

from marketplace.accounts.models import Organization, User
from marketplace.realtime import events, groups
from marketplace.realtime.consumers import ClientConsumer
from marketplace.settings import redis_channel_layer
from tests.factories import open_job_with_items
from tests.realtime.conftest import QUIET, WAIT, open_socket, redis_answers

REDIS = os.environ.get("QUORUM_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")


pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("sockets_db"),
    pytest.mark.skipif(not redis_answers(REDIS), reason=f"Redis does not answer at {REDIS}"),
]


@pytest.fixture
def redis_layers(settings: Any) -> Iterator[str]:
    """Two layer aliases on the same Redis, configured as production's: "default" (this process)
    and "other" (another one)."""
    config = redis_channel_layer(REDIS, prefix=f"quorum-test-realtime-{uuid.uuid4().hex[:8]}")
    settings.CHANNEL_LAYERS = {"default": config, "other": config}
    yield "other"


async def test_two_application_instances_share_events(
    redis_layers: str, acme: Organization, alice: User, carol: User
) -> None:
    job = await database_sync_to_async(open_job_with_items)(items=2, organization=acme)
    # A second application whose consumers use their own layer object: another process's view.
    other_app = AuthMiddlewareStack(
        URLRouter([path("ws/client/", ClientConsumer.as_asgi(channel_layer_alias=redis_layers))])
    )
    here, accepted, _ = await open_socket("/ws/client/", alice)
    there, accepted_there, _ = await open_socket("/ws/client/", alice, application=other_app)
    globex, _, _ = await open_socket("/ws/client/", carol, application=other_app)
    assert accepted and accepted_there

    @database_sync_to_async
    def publish() -> None:
        with transaction.atomic():
            events.job_progress(job_id=job.pk)

    await publish()  # sent through the "default" layer
    assert (await here.receive_json_from(timeout=WAIT))["job"] == job.pk
    assert (await there.receive_json_from(timeout=WAIT))["job"] == job.pk
    assert await globex.receive_nothing(timeout=QUIET)

    # And the other way: an event sent by the other instance's layer reaches this one's socket.
    other_layer = get_channel_layer(redis_layers)
    await other_layer.group_send(
        groups.organization(acme.pk),
        {"type": "realtime.event", "event": {"type": "job.status", "job": job.pk, "status": "paused"}},
    )
    assert (await here.receive_json_from(timeout=WAIT))["status"] == "paused"
    for socket in (here, there, globex):
        await socket.disconnect()
    for alias in ("default", redis_layers):
        layer = get_channel_layer(alias)
        await layer.flush()  # this test's prefix only
        await layer.close_pools()


async def test_a_job_page_left_quiet_for_a_while_still_gets_the_next_event(
    redis_layers: str, acme: Organization, alice: User
) -> None:
    job = await database_sync_to_async(open_job_with_items)(items=2, organization=acme)
    page, accepted, _ = await open_socket("/ws/client/", alice)
    assert accepted
    # Quiet for longer than one blocking read of the layer (Redis ends it empty after 5 s): the
    # socket's read had died here when the Redis client gave up first. Time passing is the test.
    layer = get_channel_layer()
    assert await page.receive_nothing(timeout=layer.brpop_timeout + 3)

    @database_sync_to_async
    def publish() -> None:
        with transaction.atomic():
            events.job_progress(job_id=job.pk)

    await publish()
    assert (await page.receive_json_from(timeout=WAIT))["job"] == job.pk
    await page.disconnect()
    await layer.flush()  # this test's prefix only
    await layer.close_pools()


async def test_a_page_the_layer_forgot_hears_events_again_once_it_rejoins(
    redis_layers: str, acme: Organization, alice: User, settings: Any
) -> None:
    """The layer drops a member after its group_expiry (a day) and every member when Redis
    restarts; the socket adds itself back on a timer (here 0.2 s, in production 5 minutes)."""
    settings.QUORUM_WS_REJOIN_SECONDS = 0.2
    job = await database_sync_to_async(open_job_with_items)(items=2, organization=acme)
    page, accepted, _ = await open_socket("/ws/client/", alice)
    assert accepted
    layer = get_channel_layer()
    (channel,) = [c for c in await _members(layer, groups.organization(acme.pk))]
    await layer.group_discard(groups.organization(acme.pk), channel)  # what a day, or a restart, does

    @database_sync_to_async
    def publish() -> None:
        with transaction.atomic():
            events.job_progress(job_id=job.pk)

    for _ in range(int(WAIT / 0.25)):  # each round: one event, then a quarter second to hear it
        events.throttle_reset()
        await publish()
        if not await page.receive_nothing(timeout=0.25):
            break
    assert (await page.receive_json_from(timeout=WAIT))["job"] == job.pk
    await page.disconnect()
    await layer.flush()  # this test's prefix only
    await layer.close_pools()


async def _members(layer: Any, group: str) -> list[str]:
    """The channels in a group, read from Redis (channels-redis keeps a sorted set per group)."""
    connection = layer.connection(layer.consistent_hash(group))
    return [m.decode() for m in await connection.zrange(layer._group_key(group), 0, -1)]
