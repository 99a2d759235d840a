"""gunicorn's settings for the production web process (README, "Running in production").

gunicorn reads this file from the working directory by itself: `gunicorn marketplace.asgi:application`
is the whole command (the Procfile's `web`). gunicorn supervises WEB_CONCURRENCY worker processes
(it restarts one that dies or hangs); each runs uvicorn's event loop, serving HTTP and WebSockets,
with Django's sync views in threads. Each worker opens its own database pool (QUORUM_DB_POOL_MAX).
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from marketplace.env import env_bool

worker_class = "uvicorn_worker.UvicornWorker"
# One process per core keeps every core busy (a sync view holds the GIL while it runs Python);
# more only adds memory and connections. Raise it on bigger machines, or run more machines.
workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 2)
bind = [f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"]
# Not behind gunicorn's idea of a proxy: the client address stays the socket's, and
# QUORUM_PROXY_COUNT (settings) alone decides how far X-Forwarded-For is trusted.
forwarded_allow_ips = ""
# A worker silent this long is restarted; a deploy waits this long for open requests to finish.
timeout = 60
graceful_timeout = 30
# Seconds an idle connection stays open. Longer than a client's own idle limit (httpx's 5 s;
# browsers keep theirs longer; load balancers' idle timeouts are around 60 s), so the client is
# the one that closes: a server closing an idle connection just as the client reuses it makes
# that request fail (httpx ReadError; measured: 16-19 of ~900 submits at 200 workers with 5).
keepalive = 75
# No access log of gunicorn's (uvicorn's lines carry no time and no request id): with ACCESS_LOG
# the app logs one line per request itself (marketplace/requestlog.py, settings_logging.py).
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

# The master's pid file and control socket (`gunicornc`), per deployment and port: gunicorn's
# default socket is one per user account ($HOME/.gunicorn/gunicorn.ctl), which a second server of
# the same account takes over and removes as it stops. To signal the master:
# `kill -HUP $(cat var/gunicorn-8000.pid)` (README, "Running in production").
VAR_DIR = Path(__file__).resolve().parent / "var"
VAR_DIR.mkdir(exist_ok=True)
pidfile = str(VAR_DIR / f"gunicorn-{os.environ.get('PORT', '8000')}.pid")
control_socket = str(VAR_DIR / f"gunicorn-{os.environ.get('PORT', '8000')}.ctl")

# Young objects a process may gain before the collector's first generation runs (Python's default:
# 700). A request allocates thousands that its end frees; at 700 the collector ran several times
# per judgment, and promoted survivors fed the full collections (BENCHMARKS.md, "The tail").
GC_THRESHOLD = (10_000, 10, 10)

# Leave room beside the web pools for Celery, beat, migrations and an operator's psql.
RESERVED_CONNECTIONS = 10


def on_starting(server: object) -> None:
    """Refuse to start with DEBUG on, or when the web processes' pools could exhaust PostgreSQL's
    max_connections."""
    # This is the production command. DEBUG on shows every visitor tracebacks and settings, and
    # without SECRET_KEY it signs sessions and reset links with a key published in this repository.
    # Nothing starts gunicorn with DEBUG on (`make demo` and the tests' servers use daphne or set
    # DEBUG=0), so there is no way around this: develop with `make demo`.
    if env_bool("DEBUG", False):
        _refuse(server, "DEBUG is on: gunicorn is the production server and refuses to serve with "
                "DEBUG=1 (unset DEBUG; for local development use `make demo`)")
    pool_max = int(os.environ.get("QUORUM_DB_POOL_MAX") or 0)
    url = os.environ.get("DATABASE_URL", "")
    if not pool_max or not url.startswith(("postgres://", "postgresql://", "pgsql://")):
        return
    try:
        with psycopg.connect(url.replace("pgsql://", "postgres://", 1), connect_timeout=5) as conn:
            limit = int(conn.execute("SHOW max_connections").fetchone()[0])
    except psycopg.OperationalError as exc:
        # PostgreSQL down at boot (a host reboot restarting both): come up anyway, /healthz says
        # 503 until the database answers, and the load balancer keeps traffic away meanwhile.
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        server.log.warning(  # type: ignore[attr-defined]  # gunicorn's Arbiter
            "max_connections check skipped: PostgreSQL at DATABASE_URL (%s) did not answer (%s)",
            _without_password(url), reason)
        return
    if workers * pool_max > limit - RESERVED_CONNECTIONS:
        _refuse(
            server,
            f"{workers} workers x QUORUM_DB_POOL_MAX={pool_max} = {workers * pool_max} connections, "
            f"more than PostgreSQL's max_connections={limit} less {RESERVED_CONNECTIONS} reserved: "
            "lower QUORUM_DB_POOL_MAX or WEB_CONCURRENCY"
        )


def _refuse(server: object, message: str) -> None:
    """Stop start-up with `message`. gunicorn has written its pid file before on_starting and
    leaves it behind when the hook exits: remove it, or a reused pid would read as running."""
    pidfile = getattr(server, "pidfile", None)
    if pidfile is not None:
        pidfile.unlink()
    raise SystemExit(message)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{parts.path}"


def post_worker_init(worker: object) -> None:
    """Once the worker has loaded Django and the apps: keep what start-up built out of the cyclic
    garbage collector's passes, and collect young objects less often.

    A full collection walked every object the start-up made (about 225,000: Django, DRF, pandas,
    scipy), 125 ms of CPU holding the GIL, so every request in flight in that process waited it
    out; a few such pauses per process per minute were the submit's p99 at 8 workers
    (BENCHMARKS.md, "The tail"). Frozen, those objects are never collected (they live as long as
    the process anyway) and a full collection walks only what requests left behind."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
