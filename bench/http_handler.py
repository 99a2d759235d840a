"""python -m bench http-handler: CPU per request of the web process's HTTP handler, in-process.

The same views (POST work/next/ with a bearer token, a worker asking again for the lease it
holds: authentication, DRF, one claim transaction) served by three ASGI applications, driven by
--concurrency simulated clients on one event loop with no network between: Django's own ASGI
handler, marketplace/httpthreads.py (Django's WSGI handler on a thread pool, what asgi.py
serves HTTP with), and the a2wsgi library's WSGIMiddleware (the same handler on a pool of the
same size, the body read and the answer sent through the loop chunk by chunk). Rounds interleave
the three; CPU is the whole process's (every thread), so a busy machine inflates all alike.
Options: --requests=400 per round, --concurrency=8, --rounds=3.

--submit=1 measures a judgment instead: POST work/leases/<id>/submit/ with "next": true (the
answer saved, the next lease taken, one request per judgment, as the simulator and the labeling
page work), through httpthreads only, since that is what serves HTTP.
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
from bench._options import int_options
from marketplace.httpthreads import ThreadedWSGI

DEFAULTS = {"requests": 400, "concurrency": 8, "rounds": 3, "submit": 0}
PATH = "/api/v1/work/next/"


def _options(argv: list[str]) -> dict[str, int]:
    return {name: max(value, 1) for name, value in int_options(argv, DEFAULTS).items()}


async def _request(app: Any, token: str, job_id: int, path: str = PATH,
                   payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST `payload` (by default: next of the job) to `path`; the answer's JSON."""
    body = json.dumps({"job": job_id} if payload is None else payload).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
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
    if sent[0]["status"] not in (200, 201):
        raise RuntimeError(f"{path} answered {sent[0]['status']}: {sent[1:]}")
    return json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


async def _drive_submits(app: Any, tokens: list[str], job_id: int, requests: int) -> None:
    """Each client: its lease (next), then submits that carry the next lease."""
    async def client(token: str) -> None:
        lease = (await _request(app, token, job_id))["lease"]
        for _ in range(requests // len(tokens)):
            answer = await _request(app, token, job_id, f"/api/v1/work/leases/{lease}/submit/",
                                    {"label": "cat", "next": True})
            lease = answer["next"]["lease"]
    await asyncio.gather(*(client(token) for token in tokens))


async def _drive(app: Any, tokens: list[str], job_id: int, requests: int) -> None:
    async def client(token: str) -> None:
        for _ in range(requests // len(tokens)):
            await _request(app, token, job_id)
    await asyncio.gather(*(client(token) for token in tokens))


def run(argv: list[str]) -> None:
    options = _options(argv)
    if options["submit"]:
        return _run_submits(options)
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


def _run_submits(options: dict[str, int]) -> None:
    clients, requests, rounds = options["concurrency"], options["requests"], options["rounds"]
    with bench_database() as vendor, override_settings(ALLOWED_HOSTS=["127.0.0.1"]):
        if vendor != "postgresql":
            raise SystemExit("http-handler needs PostgreSQL; set DATABASE_URL")
        judgments = requests * rounds + 20 * clients
        job, _, credentials = _setup(workers=clients, items=judgments // 3 + 100, overlap=3)
        tokens = [c.token for c in credentials]
        app = ThreadedWSGI(get_wsgi_application(), threads=20)
        cpu: list[float] = []

        async def main() -> None:
            await _drive_submits(app, tokens, job.pk, 20 * clients)  # warm: imports, the pool
            for _ in range(rounds):
                started = time.process_time()
                await _drive_submits(app, tokens, job.pk, requests)
                cpu.append(1000 * (time.process_time() - started) / requests)

        asyncio.run(main())
    print(f"CPU ms per judgment (POST work/leases/<id>/submit/ with next, {clients} clients, httpthreads), "
          f"round by round: {' / '.join(f'{v:.2f}' for v in cpu)}; median {sorted(cpu)[len(cpu) // 2]:.2f}")
