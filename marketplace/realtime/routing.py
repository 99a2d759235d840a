"""WebSocket URL patterns, one socket per role (marketplace/asgi.py wraps them in the session
auth and the site-origin check, realtime/origins.py)."""

from __future__ import annotations

from typing import Any

from django.urls import path

from marketplace.realtime import consumers
from marketplace.realtime.paths import SOCKET_PATHS

websocket_urlpatterns: list[Any] = [
    path(SOCKET_PATHS["client"].lstrip("/"), consumers.ClientConsumer.as_asgi(), name="ws-client"),
    path(SOCKET_PATHS["worker"].lstrip("/"), consumers.WorkerConsumer.as_asgi(), name="ws-worker"),
    path(SOCKET_PATHS["staff"].lstrip("/"), consumers.StaffConsumer.as_asgi(), name="ws-staff"),
]
