"""ASGI entry point: HTTP through Django, WebSockets through Channels (marketplace.realtime)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
django_asgi = get_asgi_application()

# The periodic jobs' embedded timers start with this server's first request (marketplace/periodic.py).
from django.core.signals import request_started  # noqa: E402

from marketplace.periodic import timers_on_request  # noqa: E402

request_started.connect(timers_on_request, dispatch_uid="periodic-timers")

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from marketplace.realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
