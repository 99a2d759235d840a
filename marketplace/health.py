"""/healthz: whether this server can do its work, for a load balancer's probe.

Each dependency the service needs is asked, each with a short timeout: the database, and Redis
when configured (REDIS_URL: the cache and the channel layer; the Celery broker under
QUORUM_TASKS=celery when CELERY_BROKER_URL names another). 200 when all answer, else 503 with the
failing ones named, e.g. {"status": "unavailable", "down": ["redis"], "checks": {...}}.

The probe is answered by HealthzMiddleware, before any host validation: a load balancer probes
each backend by its address (http://10.0.0.5/healthz), which ALLOWED_HOSTS rightly does not list,
and Django would answer 400 DisallowedHost, so every backend would look down. It sits after
SecurityMiddleware, whose redirect to HTTPS spares /healthz (SECURE_REDIRECT_EXEMPT) and which
never reads the host for it; nothing in the answer depends on the host.

The answer names what is down at every probe; the log only at a change. A load balancer probes
every few seconds, and a warning per probe during an outage buried everything else in the log: each
process logs a dependency going down once (WARNING, with the details the public answer leaves
out) and its coming back once (INFO, "back up").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial
from urllib.parse import urlparse

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from marketplace.dbpool import pool_down

logger = logging.getLogger(__name__)

PATH = "/healthz"
TIMEOUT_SECONDS = 1.0  # per Redis check: a probe answers within a few seconds even when one hangs

# Each check's last state in this process ("ok" or "down (…)"), so only a change is logged.
_last_states: dict[str, str] = {}
_states_lock = threading.Lock()  # probes are answered on several threads at once


def health_report() -> tuple[bool, dict[str, object]]:
    """(all up, the JSON body)."""
    checks = {"database": _checked("database", _database)}
    for name, url in _redis_urls().items():
        checks[name] = _checked(name, partial(_redis, url))
    down = [name for name, state in checks.items() if state != "ok"]
    body: dict[str, object] = {
        "status": "unavailable" if down else "ok",
        "database": connection.vendor,
        "checks": checks,
        "down": down,
    }
    return not down, body


def healthz_response() -> JsonResponse:
    healthy, body = health_report()
    response = JsonResponse(body, status=200 if healthy else 503)
    # Django's handler logs every 4xx/5xx it answers ("Service Unavailable: /healthz", django.request)
    # unless the response says it was logged already: _checked logged the change, so a 503 per
    # probe would be the very flood this module avoids (django.utils.log.log_response).
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


class HealthzMiddleware:
    """Answers GET/HEAD /healthz itself, before the rest of the stack reads the host."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == PATH and request.method in {"GET", "HEAD"}:
            return healthz_response()
        return self.get_response(request)


def health_states_forget() -> None:
    """Forget the checks' last states (tests start each from a process that has logged nothing)."""
    with _states_lock:
        _last_states.clear()


def _checked(name: str, probe: Callable[[], None]) -> str:
    """Run one check: "ok", or "down (<kind of failure>)"; logs only when the state changed."""
    try:
        probe()
    except Exception as exc:  # any failure means "down"; the body says which kind
        # The probe is public: the body names the kind of failure, the log its details (hosts, ports).
        state = f"down ({type(exc).__name__})"
        detail = f"{type(exc).__name__}: {exc}"
    else:
        state, detail = "ok", ""
    with _states_lock:
        previous = _last_states.get(name, "ok")
        _last_states[name] = state
    if state != previous:
        if state == "ok":
            logger.info("health check: %s back up", name)
        else:
            logger.warning("health check: %s down: %s", name, detail)
    return state


def _database() -> None:
    # With the pool on and every connection attempt failing, a query would wait out the pool's
    # timeout (10 s) and the probe's caller would give up first: answer "down" at once instead.
    if pool_down() is not None:
        raise ConnectionError("every connection attempt of the pool fails")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis_urls() -> dict[str, str]:
    urls: dict[str, str] = {}
    if settings.REDIS_URL:
        urls["redis"] = settings.REDIS_URL
    broker = settings.CELERY_BROKER_URL
    if settings.QUORUM_TASKS == "celery" and broker and broker != settings.REDIS_URL \
            and urlparse(broker).scheme in {"redis", "rediss", "unix"}:
        urls["broker"] = broker
    return urls


def _redis(url: str) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS)
    try:
        client.ping()
    finally:
        client.close()
