"""HTTP under the ASGI server runs Django's WSGI handler on a pool thread (marketplace/httpthreads.py).

These drive the ASGI application directly, with a small WSGI application standing in for Django,
so they need no server and no database. The realtime two-process test and the browser tests
serve the real stack through it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

from django.conf import settings

from marketplace import asgi
from marketplace.httpthreads import ConnectionRecycling, ThreadedWSGI


def _scope(path: str = "/api/v1/work/next/", headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {
        "type": "http", "http_version": "1.1", "method": "POST", "scheme": "http", "path": path,
        "root_path": "", "query_string": b"job=7", "client": ("10.0.0.9", 51000),
        "server": ("127.0.0.1", 8000), "headers": headers or [],
    }


def _serve(app: ThreadedWSGI, scope: dict[str, Any], body_parts: list[bytes],
           disconnect: bool = False) -> list[dict[str, Any]]:
    """Run one request through `app`; the messages it sent back."""
    sent: list[dict[str, Any]] = []

    async def run() -> None:
        parts = list(body_parts)

        async def receive() -> dict[str, Any]:
            if not parts:
                return {"type": "http.disconnect"}
            part = parts.pop(0)
            more = bool(parts) or disconnect
            return {"type": "http.request", "body": part, "more_body": more}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)

    asyncio.run(run())
    return sent


class Recorder:
    """A WSGI application that answers with what it was given, and notes the threads it ran on."""

    def __init__(self, chunks: list[bytes] | None = None) -> None:
        self.chunks = chunks
        self.environ: dict[str, Any] = {}
        self.body = b""
        self.threads: dict[str, str] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.environ = environ
        self.body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        self.threads["call"] = threading.current_thread().name
        start_response("201 Created", [("Content-Type", "application/json"), ("Set-Cookie", "a=b")])
        return Answer(self, self.chunks or [b'{"ok": ', b"true}"], streaming=self.chunks is not None)


class Answer:
    def __init__(self, recorder: Recorder, chunks: list[bytes], *, streaming: bool) -> None:
        self.recorder, self.chunks, self.streaming = recorder, chunks, streaming

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.recorder.threads.setdefault("chunks", threading.current_thread().name)
            yield chunk

    def close(self) -> None:
        self.recorder.threads["close"] = threading.current_thread().name


def test_a_request_reaches_the_application_as_django_would_read_it() -> None:
    app = Recorder()
    sent = _serve(ThreadedWSGI(app, threads=2), _scope(headers=[
        (b"authorization", b"Bearer abc"), (b"content-type", b"application/json"),
        (b"accept", b"text/html"), (b"accept", b"application/json"),
        (b"x_forwarded_for", b"6.6.6.6"),  # underscores: dropped, as Django's ASGIRequest does
        (b"transfer-encoding", b"chunked"),
    ]), [b'{"label": ', b'"cat"}'])

    env = app.environ
    assert app.body == b'{"label": "cat"}'  # a chunked body (no Content-Length) arrives whole
    assert env["CONTENT_LENGTH"] == "16"
    assert (env["REQUEST_METHOD"], env["PATH_INFO"], env["QUERY_STRING"]) == ("POST", "/api/v1/work/next/", "job=7")
    assert env["HTTP_AUTHORIZATION"] == "Bearer abc"
    assert env["CONTENT_TYPE"] == "application/json"
    assert env["HTTP_ACCEPT"] == "text/html,application/json"
    assert "HTTP_X_FORWARDED_FOR" not in env
    assert (env["REMOTE_ADDR"], env["SERVER_NAME"], env["SERVER_PORT"]) == ("10.0.0.9", "127.0.0.1", "8000")
    assert sent == [
        {"type": "http.response.start", "status": 201,
         "headers": [(b"content-type", b"application/json"), (b"set-cookie", b"a=b")]},
        {"type": "http.response.body", "body": b'{"ok": true}'},
    ]
    # The whole request ran on one pool thread: its database connection is closed where it was used.
    assert app.threads["call"].startswith("http") and app.threads["close"] == app.threads["call"]


def test_a_streamed_answer_is_sent_chunk_by_chunk_from_the_thread_that_made_it() -> None:
    app = Recorder(chunks=[b"id,label\n", b"", b"1,cat\n", b"2,dog\n"])
    sent = _serve(ThreadedWSGI(app, threads=2), _scope(path="/api/v1/jobs/1/results/"), [b""])

    assert [m["type"] for m in sent] == ["http.response.start"] + ["http.response.body"] * 4
    assert [m["body"] for m in sent[1:]] == [b"id,label\n", b"1,cat\n", b"2,dog\n", b""]
    assert [m.get("more_body", False) for m in sent[1:]] == [True, True, True, False]
    assert app.threads["chunks"] == app.threads["close"] == app.threads["call"]


def test_a_client_gone_before_its_body_arrived_gets_nothing_and_runs_nothing() -> None:
    app = Recorder()
    assert _serve(ThreadedWSGI(app, threads=2), _scope(), [b'{"label": '], disconnect=True) == []
    assert app.threads == {}


def test_the_server_runs_views_in_as_many_threads_as_its_database_pool_has_connections() -> None:
    assert isinstance(asgi.http, ThreadedWSGI)
    assert asgi.http.threads == settings.QUORUM_WEB_THREADS


def _closes(sent: list[dict[str, Any]]) -> bool:
    return (b"connection", b"close") in sent[0]["headers"]


def test_a_client_connection_is_closed_after_its_allotted_answers_so_the_client_reconnects() -> None:
    app = ThreadedWSGI(Recorder(), threads=2, recycle=ConnectionRecycling(requests=3))
    neighbour = {**_scope(), "client": ("10.0.0.8", 40000)}

    closes = [_closes(_serve(app, _scope(), [b""])) for _ in range(4)]
    closes += [_closes(_serve(app, neighbour, [b""]))]  # another connection is counted apart
    closes += [_closes(_serve(app, _scope(), [b""])) for _ in range(2)]

    assert closes == [False, False, True, False, False, False, True]


def test_the_server_recycles_each_connection_after_the_configured_number_of_answers() -> None:
    assert asgi.http.recycle is not None
    assert asgi.http.recycle.requests == settings.QUORUM_CONNECTION_REQUESTS == 100
