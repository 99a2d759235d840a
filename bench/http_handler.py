"""python -m bench http-handler: CPU per request of the web process's HTTP handler, in-process.

The same views (POST work/next/ with a bearer token, a worker asking again for the lease it
holds: authentication, DRF, one claim transaction) served by three ASGI applications, driven by
--concurrency simulated clients on one event loop with no network between: Django's own ASGI
handler, marketplace/httpthreads.py (Django's WSGI handler on a thread pool, what asgi.py
serves HTTP with), and the a2wsgi library's WSGIMiddleware (the same handler on a pool of the
same size, the body read and the answer sent through the loop chunk by chunk). Rounds interleave
the three; CPU is the whole process's (every thread), so a busy machine inflates all alike.
Options: --requests=400 per round, --concurrency=8, --rounds=3.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from a2wsgi import WSGIMiddleware
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application
from django.test.utils import override_settings

from bench._db import bench_database
from bench.http_load import _setup
from marketplace.httpthreads import ThreadedWSGI

DEFAULTS = {"requests": 400, "concurrency": 8, "rounds": 3}
PATH = "/api/v1/work/next/"


def _options(argv: list[str]) -> dict[str, int]:
    options = dict(DEFAULTS)
    for arg in argv:
        name, _, value = arg.lstrip("-").partition("=")
        if name in options and value.isdigit():
            options[name] = max(int(value), 1)
    return options


async def _request(app: Any, token: str, job_id: int) -> None:
    body = json.dumps({"job": job_id}).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": PATH, "raw_path": PATH.encode(), "root_path": "", "query_string": b"",
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode()),
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # the client never disconnects
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    if sent[0]["status"] != 200:
        raise RuntimeError(f"{PATH} answered {sent[0]['status']}: {sent[1:]}")


async def _drive(app: Any, tokens: list[str], job_id: int, requests: int) -> None:
    async def client(token: str) -> None:
        for _ in range(requests // len(tokens)):
            await _request(app, token, job_id)
    await asyncio.gather(*(client(token) for token in tokens))


def run(argv: list[str]) -> None:
    options = _options(argv)
    with bench_database() as vendor, override_settings(ALLOWED_HOSTS=["127.0.0.1"]):
        if vendor != "postgresql":  # the pool's threads need a database other connections see
            raise SystemExit("http-handler needs PostgreSQL; set DATABASE_URL")
        job, _, credentials = _setup(workers=options["concurrency"], items=100, overlap=3)
        tokens = [c.token for c in credentials]
        apps = {"Django's ASGI handler": get_asgi_application(),
                "httpthreads (WSGI handler, thread pool)": ThreadedWSGI(get_wsgi_application(), threads=20),
                "a2wsgi (WSGI handler, thread pool)": WSGIMiddleware(get_wsgi_application(), workers=20)}
        cpu: dict[str, list[float]] = {name: [] for name in apps}

        async def main() -> None:
            for app in apps.values():
                await _drive(app, tokens, job.pk, 10 * len(tokens))  # warm: imports, the pool
            for _ in range(options["rounds"]):
                for name, app in apps.items():
                    started = time.process_time()
                    await _drive(app, tokens, job.pk, options["requests"])
                    cpu[name].append(1000 * (time.process_time() - started) / options["requests"])

        asyncio.run(main())
    print(f"CPU ms per request (POST {PATH}, {options['concurrency']} clients), round by round:")
    for name, figures in cpu.items():
        print(f"  {name}: {' / '.join(f'{v:.2f}' for v in figures)}")
    base = sum(cpu["httpthreads (WSGI handler, thread pool)"])
    for name, figures in cpu.items():
        print(f"  {name} / httpthreads, all rounds: {sum(figures) / base:.2f}")
