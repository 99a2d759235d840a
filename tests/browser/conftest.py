"""Browser tests: a real Chromium (Debian's, driven by Playwright) against a real ASGI server.

The server is daphne in a subprocess, serving the same PostgreSQL test database this pytest
process writes to, so rows a test creates (committed: these tests are transactional) are what the
browser sees, and HTTP and WebSockets are the real stack. The browser tests run in their own pytest
process (`make test` runs them after the rest): Playwright's sync API keeps an event loop that
later async tests must not inherit.

Every test here is marked `browser`. They skip, with the reason, without PostgreSQL (the server
process cannot see an in-memory SQLite test database) or without /usr/bin/chromium (`.ci/run`
installs it with apt; never `playwright install`).

Waits: a test waits for what a person would wait for (text the server's answer puts on the page,
a URL), never for time. Every timeout is a generous upper bound for a busy machine (2 cores shared
by several test runs): 30 s for steps that take well under a second idle.

Set-up that writes (factories, services, flows) goes through `arrange(...)`: once Playwright has
started, its event loop counts as running in the test's thread, where the realtime events a flow
sends on commit cannot be sent (asgiref refuses AsyncToSync there). A live event "not sent" in
this process or in the server fails the test.

Pages run under the site's Content-Security-Policy (no eval): give `wait_for_function` a function
("() => ..."), never a bare expression, which Playwright would re-evaluate as a string on every poll.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import pytest
from django.conf import settings
from django.db import connection, connections

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# (tier seeding, factories, the flush) are still synchronous and in this thread.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.live_server import ROOT, daphne

CHROMIUM = Path(os.environ.get("QUORUM_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "var" / "screenshots"  # git ignores var/
WAIT_MS = 30_000  # upper bound on any one browser wait; idle, each takes well under a second
LOST_EVENT = ("not sent", "not built", "not queued")  # marketplace.realtime's words for a lost event

P = ParamSpec("P")
T = TypeVar("T")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.django_db(transaction=True))


_SERVER_LOG: list[Path] = []  # the session's daphne log, shown when a test fails


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and _SERVER_LOG:
        tail = _SERVER_LOG[0].read_text(errors="replace").splitlines()[-80:]
        report.sections.append(("server log (last 80 lines)", "\n".join(tail)))


@pytest.fixture(scope="session")
def live_url(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of daphne serving the test database (one server for the whole browser session)."""
    if not settings.IS_POSTGRES:
        pytest.skip("browser tests need PostgreSQL (set DATABASE_URL): the server runs in its own process "
                    "and must see this test database")
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (`apt-get install -y chromium`; .ci/run does)")
    log = tmp_path_factory.mktemp("daphne") / "daphne.log"
    _SERVER_LOG[:] = [log]
    with daphne(log) as url:
        yield url


@pytest.fixture(scope="session")
def chromium(live_url: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium: Any, live_url: str) -> Iterator[Any]:
    """new_page() -> a fresh page in its own browser context (own cookies), base URL set.
    Several pages in one test are several people at several browsers."""
    contexts: list[Any] = []
    # Chromium reports what the Content-Security-Policy blocked on the console; any of it is a
    # page that is broken for real users, so the test fails even if its assertions passed.
    violations: list[str] = []

    def make() -> Any:
        context = chromium.new_context(base_url=live_url, viewport={"width": 1280, "height": 860})
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: violations.append(f"{page.url}: {message.text}")
                if "Content Security Policy" in message.text else None)
        return page

    yield make
    for context in contexts:
        context.close()
    _wait_server_idle()
    assert violations == [], "the Content-Security-Policy blocked something"


QUIET_POLLS = 5  # 50 ms apart: a quarter of a second without a statement on the server


def _wait_server_idle(timeout: float = 60.0) -> None:
    """Requests a closed page had sent may still be running in the server; the test database is
    flushed next (TRUNCATE), which would deadlock with them. Wait until no other session on this
    database is inside a statement or a transaction (a bounded poll of the real state: the server
    is another process and announces nothing). Idle in QUIET_POLLS polls in a row, not one: a
    request the browser sent just before its page closed may have reached the server and not yet
    begun its first statement (a fetch-ahead of the next item did, and its transaction then
    deadlocked with the flush)."""
    deadline = time.monotonic() + timeout
    quiet = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')"
            )
            busy = cursor.fetchone()[0]
            quiet = quiet + 1 if busy == 0 else 0
            if quiet >= QUIET_POLLS:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{busy} server requests still ran {timeout:.0f} s after the pages "
                                     "closed")
            time.sleep(0.05)


def arrange(setup: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """setup(*args, **kwargs) in a thread of its own; returns its result.

    For test set-up that writes: Playwright's loop counts as running in the test's thread, so
    the events a flow sends on commit would be refused there ("not sent"). The thread has its
    own database connection, closed before returning (the tests are transactional, so what it
    committed is what the server and the test see)."""

    def run() -> T:
        try:
            return setup(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="arrange") as pool:
        return pool.submit(run).result()


class _LostEvents(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.lost: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if any(words in message for words in LOST_EVENT):
            self.lost.append(f"{record.name}: {message}")


@pytest.fixture(autouse=True)
def _every_live_event_is_sent(live_url: str) -> Iterator[None]:
    """Fail the test if a live event was lost, in this process or in the server's log."""
    handler = _LostEvents()
    realtime = logging.getLogger("marketplace.realtime")
    realtime.addHandler(handler)
    log = _SERVER_LOG[0] if _SERVER_LOG else None
    start = log.stat().st_size if log and log.exists() else 0
    try:
        yield
    finally:
        realtime.removeHandler(handler)
    lost = list(handler.lost)
    if log and log.exists():
        with log.open("rb") as server:
            server.seek(start)
            lost += [f"server: {line}" for line in server.read().decode(errors="replace").splitlines()
                     if any(words in line for words in LOST_EVENT)]
    assert not lost, "\n".join(["live events were lost (set-up that writes goes through arrange()):", *lost])


@pytest.fixture
def page(new_page: Any) -> Any:
    return new_page()


def log_in(page: Any, username: str, password: str) -> None:
    """Log in through the real form, as a person would."""
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login/" not in url)


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under var/screenshots/ (ignored by git) for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
