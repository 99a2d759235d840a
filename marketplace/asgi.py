"""ASGI entry point: HTTP through Django's WSGI handler in a pool of threads
(marketplace/httpthreads.py says why), WebSockets through Channels (marketplace.realtime)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
django_wsgi = get_wsgi_application()

# A production server whose e-mailed links and live updates would go to another address says so.
from marketplace.siteurl import site_url_warn_at_start  # noqa: E402

site_url_warn_at_start()

# Import every URL module while the worker starts rather than in its first request, which would
# otherwise take seconds (the portal's URL modules import the quality app, and with it scipy).
from django.urls import resolve  # noqa: E402

resolve("/healthz")

# Likewise the channel layer and the Redis client: the first live event and the first cache call
# (a submit's consensus trigger) imported channels_redis and redis, 69 modules from source, inside
# a request of the serving process (BENCHMARKS.md, "Server CPU per judgment").
import importlib  # noqa: E402
import sys  # noqa: E402

from channels.layers import get_channel_layer  # noqa: E402
from django.conf import settings as _settings  # noqa: E402

get_channel_layer()
if _settings.CACHES["default"]["BACKEND"].endswith(".RedisCache"):
    importlib.import_module("redis")  # what RedisCacheClient imports at its first use

# The periodic jobs' embedded timers start with this server's first request (marketplace/periodic.py).
from django.core.signals import request_started  # noqa: E402

from marketplace.periodic import timers_on_request  # noqa: E402

request_started.connect(timers_on_request, dispatch_uid="periodic-timers")

# daphne (`make demo`, runserver, the browser tests) serves on Twisted, whose Request parses a
# POST's form or multipart body itself, for an `args` daphne never reads: a 200 MiB import upload
# was parsed once more in memory, and a multipart body Twisted could not parse (one with no parts)
# was answered a bare 400, no body and no Content-Type, before Django saw it. Django parses bodies.
try:
    from daphne.http_protocol import WebRequest
except ImportError:  # not installed: served by gunicorn + uvicorn alone
    pass
else:
    _daphne_request_init = WebRequest.__init__

    def _request_leaving_bodies_to_django(self: WebRequest, *args: object, **kwargs: object) -> None:
        _daphne_request_init(self, *args, parsePOSTFormSubmission=False, **kwargs)

    WebRequest.__init__ = _request_leaving_bodies_to_django  # type: ignore[method-assign]

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from django.conf import settings  # noqa: E402

from marketplace.httpthreads import ConnectionRecycling, ThreadedWSGI  # noqa: E402
from marketplace.realtime.origins import SiteOriginValidator  # noqa: E402
from marketplace.realtime.routing import websocket_urlpatterns  # noqa: E402
from marketplace.realtime.transport import loop_register  # noqa: E402

# The views' live events go out on this process's loop (realtime/transport.py), sockets or not.
# Client connections closed after QUORUM_CONNECTION_REQUESTS answers spread over the processes.
recycle = settings.QUORUM_CONNECTION_REQUESTS
http = ThreadedWSGI(django_wsgi, threads=settings.QUORUM_WEB_THREADS, on_loop=loop_register,
                    recycle=ConnectionRecycling(requests=recycle) if recycle else None)

# Served by daphne (twisted loaded): a request line over 16 KB gets a 414 page, not a dropped socket.
if "twisted.web.http" in sys.modules:
    from marketplace.daphne_http import answer_overlong_requests

    answer_overlong_requests()

application = ProtocolTypeRouter(
    {
        "http": http,
        # The Origin must be the site's, scheme, host and port (realtime/origins.py).
        "websocket": SiteOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
