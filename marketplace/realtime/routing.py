"""WebSocket URL patterns. Consumers arrive with the web portal; the ASGI stack is wired now."""

from __future__ import annotations

from typing import Any

websocket_urlpatterns: list[Any] = []
