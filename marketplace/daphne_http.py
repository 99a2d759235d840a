"""Under daphne (the demo's and the tests' server), an over-long request line gets an answer.

Twisted's HTTP parser, which daphne uses, takes lines of up to 16 KB (LineReceiver.MAX_LENGTH) and
just closes the connection on a longer one: a request whose address is over 16 KB (a long search
on the data page) showed the browser's "empty response" error, with nothing to act on. Here it
answers 414 with a page saying what to do. Production's uvicorn (with httptools) has no such
limit, so Django answers those requests itself; this module is only installed when daphne serves.
"""

from __future__ import annotations

from typing import Any

_PAGE = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Address too long</title></head>"
    "<body><h1>This address is too long</h1><p>The server reads addresses of up to 16 KB, and this "
    "one is longer. Shorten the search text or clear some filters, then try again.</p>"
    '<p><a href="/">Back to the start page</a></p></body></html>'
).encode()
_ANSWER = (
    b"HTTP/1.1 414 URI Too Long\r\nContent-Type: text/html; charset=utf-8\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(_PAGE)
) + _PAGE


def _answer_overlong_line(channel: Any, line: bytes) -> None:
    """LineReceiver's hook for a line over MAX_LENGTH; only the request line gets this long here
    (headers stop at totalHeadersSize, the same 16 KB, with twisted's own 400)."""
    channel.transport.write(_ANSWER)
    channel.transport.loseConnection()


def answer_overlong_requests() -> None:
    from twisted.web.http import HTTPChannel

    HTTPChannel.lineLengthExceeded = _answer_overlong_line
