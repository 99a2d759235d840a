"""WebSocket URL patterns, one socket per role (marketplace/asgi.py wraps them in the session
auth and allowed-hosts origin check)."""

from __future__ import annotations

from typing import Any

from django.urls import path

from marketplace.realtime import consumers

websocket_urlpatterns: list[Any] = [
    path("ws/client/", consumers.ClientConsumer.as_asgi(), name="ws-client"),
    path("ws/worker/", consumers.WorkerConsumer.as_asgi(), name="ws-worker"),
    path("ws/staff/", consumers.StaffConsumer.as_asgi(), name="ws-staff"),
]
