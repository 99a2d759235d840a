"""A real SMTP server for tests, on 127.0.0.1 in a thread: the first `refusals` connections are
turned away at the greeting (421, "try again later", as a server restarting or greylisting does);
later ones accept every mail and keep it. Enough SMTP for smtplib (EHLO, MAIL, RCPT, DATA, QUIT)."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

PORTS = range(18900, 19000)  # this test suite's own ports (one free one is taken)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, refusals: int) -> None:
        super().__init__(("127.0.0.1", port), _Session)
        self.refusals = refusals
        self.connections = 0
        self.messages: list[str] = []
        self.lock = threading.Lock()


class _Session(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        with self.server.lock:
            turn = self.server.connections
            self.server.connections += 1
        if turn < self.server.refusals:
            self.wfile.write(b"421 4.3.2 Service not available, try again later\r\n")
            return
        self.wfile.write(b"220 quorum-test ESMTP\r\n")
        body: list[str] | None = None  # the message's lines while in DATA
        for raw in self.rfile:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if body is not None:
                if line == ".":
                    with self.server.lock:
                        self.server.messages.append("\n".join(body))
                    body = None
                    self.wfile.write(b"250 2.0.0 Accepted\r\n")
                else:
                    body.append(line[1:] if line.startswith("..") else line)  # undo dot-stuffing
                continue
            verb = line[:4].upper()
            if verb == "DATA":
                body = []
                self.wfile.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            elif verb == "QUIT":
                self.wfile.write(b"221 Bye\r\n")
                return
            else:  # EHLO, HELO, MAIL, RCPT, RSET, NOOP: all fine
                self.wfile.write(b"250 OK\r\n")


@contextmanager
def smtp_server(*, refusals: int = 0) -> Iterator[_Server]:
    """The server, listening until the block ends; `.server_address[1]` is its port."""
    server = None
    for port in PORTS:
        try:
            server = _Server(port, refusals)
            break
        except OSError:  # taken by another run: the next one
            continue
    assert server is not None, f"no free port in {PORTS}"
    thread = threading.Thread(target=server.serve_forever, name="test-smtp", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
