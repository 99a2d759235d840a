"""HTTP under the ASGI server: Django's WSGI handler run whole in a fixed pool of threads.

asgi.py routes HTTP here and WebSockets to Channels. Django's own ASGI handler runs our sync
middleware and views by hopping between the event loop and threads: a new thread per request
(asgiref's ThreadSensitiveContext), then loop -> thread at the first sync-only middleware,
thread -> loop for the async-capable ones below it, loop -> thread again for the view. On the
same views that machinery cost about a fifth of a request's CPU (`python -m bench http-handler`;
BENCHMARKS.md, "http-load"). Here the loop only reads the body and writes the answer; one hop to a long-lived
thread runs request_started, the middleware, the view and request_finished (which hands the
database connection back to the pool) on one thread, as a WSGI server would.

Requests beyond the pool's threads wait on the loop, holding no thread and no connection.
A streamed response (exports) is read on the thread that made it (its database connection) and
sent chunk by chunk, each send awaited before the next chunk is read.

Not the a2wsgi library: it measured 8-13 % more CPU per request in the same bench, and it reads
the body from the pool thread (a slow upload holds a thread), loses chunked bodies and lets
X_Forwarded_For pass for X-Forwarded-For (BENCHMARKS.md, "Why a hand-written bridge").
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from tempfile import SpooledTemporaryFile
from typing import IO, Any

from django.conf import settings

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ThreadedWSGI:
    """An ASGI application for the "http" scope running a WSGI application in `threads` threads."""

    def __init__(self, app: WSGIApp, *, threads: int,
                 on_loop: Callable[[asyncio.AbstractEventLoop], None] | None = None,
                 recycle: ConnectionRecycling | None = None) -> None:
        self.app = app
        self.recycle = recycle
        self.threads = threads
        self.on_loop = on_loop  # told the server's loop at the first request
        self._executor: ThreadPoolExecutor | None = None  # made in the worker process, not before fork

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"ThreadedWSGI serves http only, not {scope['type']!r}")
        body = await _read_body(receive)
        if body is None:
            return  # the client went away before sending its whole request
        loop = asyncio.get_running_loop()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="http")
            if self.on_loop is not None:
                self.on_loop(loop)
        answer = await loop.run_in_executor(self._executor, self._respond, scope, body, send, loop)
        if answer is not None:  # not streamed: the whole answer, sent from here
            start, content = answer
            if self.recycle is not None and self.recycle.due(scope):
                start["headers"].append((b"connection", b"close"))
            await send(start)
            await send({"type": "http.response.body", "body": content})

    def _respond(self, scope: Scope, body: IO[bytes], send: Send,
                 loop: asyncio.AbstractEventLoop) -> tuple[Message, bytes] | None:
        """On a pool thread: run the application; return its answer, or stream it and return None."""
        started: list[Message] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            started[:] = [{
                "type": "http.response.start",
                "status": int(status.split(" ", 1)[0]),
                "headers": [(name.lower().encode("latin1"), value.encode("latin1")) for name, value in headers],
            }]

        try:
            result = self.app(_environ(scope, body), start_response)
        except BaseException:
            body.close()
            raise
        try:
            if not getattr(result, "streaming", False):
                return started[0], b"".join(result)

            def push(message: Message) -> None:  # waits until the loop has sent it: back-pressure
                asyncio.run_coroutine_threadsafe(send(message), loop).result()

            push(started[0])
            for chunk in result:
                if chunk:
                    push({"type": "http.response.body", "body": chunk, "more_body": True})
            push({"type": "http.response.body", "body": b""})
            return None
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()  # Django's request_finished: the connection goes back to the pool, here
            body.close()


class ConnectionRecycling:
    """Closes a client's keep-alive connection after every `requests` answers on it.

    The web processes share one listening socket, and whichever wakes first accepts: a crowd
    that connects at once often lands wholly on one process (8 of 8 connections in 5 of 10
    tries, measured), which then runs every request on one core while the other idles, for as
    long as the connections live. A client reconnecting is accepted by whichever process is
    free to accept, usually the less busy one, so recycling spreads long-lived clients over
    the processes. nginx's keepalive_requests does the same (1,000 by default)."""

    MEMORY_MAX = 10_000  # connections remembered; past it all are forgotten (a count restarts)

    def __init__(self, *, requests: int) -> None:
        self.requests = requests
        self._served: dict[tuple[Any, ...], int] = {}

    def due(self, scope: Scope) -> bool:
        """Count an answer on the scope's connection; True when it is its last."""
        client = scope.get("client")
        if not client:
            return False
        key = tuple(client)
        served = self._served.get(key, 0) + 1
        if served < self.requests:
            if len(self._served) >= self.MEMORY_MAX:
                self._served.clear()
            self._served[key] = served
            return False
        self._served.pop(key, None)
        return True


async def _read_body(receive: Receive) -> IO[bytes] | None:
    """The request body, spooled to disk past FILE_UPLOAD_MAX_MEMORY_SIZE as Django's ASGI
    handler does; None when the client disconnected first."""
    body: IO[bytes] = SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b")
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            body.close()
            return None
        body.write(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body.seek(0)
    return body


def _environ(scope: Scope, body: IO[bytes]) -> dict[str, Any]:
    """A WSGI environ carrying what Django's ASGIRequest reads from the scope, the same way."""
    script_name = scope.get("root_path", "")
    path = scope["path"]
    path_info = path.removeprefix(script_name) if script_name else path
    size = body.seek(0, 2)
    body.seek(0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"].upper(),
        # WSGI carries the path as bytes decoded as latin-1; WSGIRequest decodes it back as UTF-8.
        "SCRIPT_NAME": script_name.encode("utf-8").decode("latin-1"),
        "PATH_INFO": path_info.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "SERVER_NAME": "unknown",
        "SERVER_PORT": "0",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if scope.get("client"):
        environ["REMOTE_ADDR"] = environ["REMOTE_HOST"] = scope["client"][0]
        environ["REMOTE_PORT"] = str(scope["client"][1])
    if scope.get("server"):
        environ["SERVER_NAME"] = scope["server"][0]
        environ["SERVER_PORT"] = str(scope["server"][1])
    headers: dict[str, list[str]] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1")
        if "_" in name:
            continue  # as ASGIRequest: X_Forwarded_For must not pass for X-Forwarded-For
        if name == "content-length":
            key = "CONTENT_LENGTH"
        elif name == "content-type":
            key = "CONTENT_TYPE"
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
        headers.setdefault(key, []).append(raw_value.decode("latin-1"))
    environ.update({key: ",".join(values) for key, values in headers.items()})
    # WSGIRequest reads CONTENT_LENGTH bytes: a chunked request (no such header) has them all too.
    environ["CONTENT_LENGTH"] = str(size)
    return environ
