"""A crowd against a server that only fails: each simulated worker gives up after its run of
failed requests, as a person would, and the run ends with a report saying so, instead of asking
again forever (a test of the demo's crowd then failed by hanging)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from marketplace.demo.simulator.client import Credential, Options
from marketplace.demo.simulator.crowd import mix_parse
from marketplace.demo.simulator.run import Accounts, simulate


class _Broken(BaseHTTPRequestHandler):
    """Every request is a 500 with the API's error body (a deploy gone wrong)."""

    asked = 0

    def _fail(self) -> None:
        type(self).asked += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"error": {"code": "server_error", "message": "broken", "details": {}}}).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _fail  # noqa: N815 (http.server's names)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def broken_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Broken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_crowd_facing_a_server_that_only_fails_gives_up_and_reports_why(broken_server: str) -> None:
    options = Options(workers=2, items=50, think_ms=0.0, give_up_after=3)
    accounts = Accounts(credentials=[Credential(username=f"w{n}", token=f"qrm_fake{n}") for n in range(2)])

    async def run() -> dict:
        # Bounded: before the fix this run never ended.
        return await asyncio.wait_for(
            simulate(url=broken_server, options=options, mix=mix_parse("good=1"), accounts=accounts, server=False),
            timeout=60)

    report = asyncio.run(run())

    assert report["accepted_judgments"] == 0
    assert report["retired_workers"] == {"gave up after 3 failed requests in a row": 2}
    assert report["errors_total"] == 6 and 6 <= _Broken.asked <= 8  # three each (and a release at most)
