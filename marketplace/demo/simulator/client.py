"""The simulated crowd at work: one asyncio task per worker, each with its own API token, asking
for work and answering through the public HTTP API exactly as a real client would.

The loop of one worker is one request per judgment: POST work/next/ once, then think (lognormal,
or not at all) and POST work/leases/<id>/submit/ with the profile's answer and `"next": true`,
whose answer carries the next lease: of the same job when the run names one (--job), else of any
job (`"next_from": "any"`: the server's fair serving order picks it). When it carries none
(`next` null: nothing left for this worker, the job paused, or they were blocked), or a request
failed, the worker asks work/next/ again, which says why in the usual way: `no_work` (404) makes
it wait and ask again; `busy` (409: the items left for it are held by other workers' submits this
moment) makes it ask again after the answer's `retry_after`, without counting it idle;
`not_qualified` (403: blocked, suspended) retires it; anything else
unexpected is counted by kind and retried after a short back-off. A stop (duration, item count, every worker idle, or
Ctrl-C) lets requests in flight finish, hands back leases not yet answered, and ends.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from marketplace.demo.simulator.crowd import Profile, item_key, think_seconds
from marketplace.demo.simulator.lanes import Lane, LaneError, Reply
from marketplace.demo.simulator.report import Stats

API = "/api/v1"


@dataclass(frozen=True)
class Credential:
    username: str
    token: str
    token_id: int | None = None  # set when the simulator obtained it, so it can revoke it


@dataclass
class Options:
    workers: int
    duration: float | None = None  # seconds; None: until items, idle or Ctrl-C
    items: int | None = None  # stop after this many accepted judgments
    think_ms: float = 1500.0  # mean think time; 0 for none (load)
    job: int | None = None  # None: any open job the worker may work on
    # With job None: each submit asks for the next item from any job (`"next_from": "any"`), so
    # the server's fair serving order places the worker again after every answer; False keeps a
    # worker in one job until it runs dry for them (as every client did before).
    next_any: bool = True
    seed: int = 0
    stop_when_idle: bool = True  # stop once every worker finds no work
    idle_poll: float = 2.0  # seconds between asks while there is no work
    progress: str = "bar"  # bar (tqdm on stderr), log (a line every 10 s), none
    # HTTP connections the crowd shares (None: one per worker). A cap plays the part of a proxy's
    # upstream limit: workers beyond it queue for a connection, and that wait counts as latency.
    connections: int | None = None
    # With think time, each worker's first request comes at its own moment within one mean think
    # time, as in a crowd already at work; False: all at once (a herd: every worker's first
    # request in the same instant, then waves of submits one think time apart).
    spread_start: bool = True
    # Seconds from the crowd's start after which the report also gives the latencies apart (its
    # "after warm-up" table): the arrival of a thinking crowd and the server's first requests per
    # worker and connection weigh on the whole run's tail, not on a crowd at work (0: not apart).
    warmup: float = 0.0
    # A worker stops after this many failed requests in a row (5xx, refused connections...), as a
    # person would: a server that only fails ends the run with a report, not an endless loop.
    give_up_after: int = 60


def error_kind(response: httpx.Response | Reply) -> str:
    """'409 conflict': the status and the API's error code (our one error body)."""
    code = ""
    try:
        body = response.json()
        code = body.get("error", {}).get("code", "") if isinstance(body, dict) else ""
    except ValueError:
        pass
    return f"{response.status_code} {code}".strip()


def retry_after(response: httpx.Response | Reply) -> float:
    """Seconds a `busy` answer asks to wait before asking again (its details, as in a submit's
    next_error; 1 if unreadable)."""
    try:
        return float(response.json()["error"]["details"]["retry_after"])
    except (ValueError, KeyError, TypeError):
        return 1.0


def http_client(url: str, *, connections: int, tls: ssl.SSLContext | None = None) -> httpx.AsyncClient:
    # httpx logs every request at INFO, and Django's root logger shows INFO: thousands of lines.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    # No pool timeout: with connections capped, waiting for one is the queue a proxy would hold
    # (and counts in the latency), not an error; a minute without an answer is one.
    return httpx.AsyncClient(base_url=url.rstrip("/") + API, limits=limits, verify=tls or True,
                             timeout=httpx.Timeout(60.0, connect=10.0, pool=None))


def lanes_open(url: str, *, count: int) -> list[Lane]:
    """`count` connections to the API (demo/simulator/lanes.py): worker i sends on lane
    i % count. One shared pool of `count` connections would do the same work, but httpcore
    checked every pooled connection on every request: at 40 connections that cost the load
    generator more CPU per judgment than the server spent (BENCHMARKS.md, "http-load")."""
    return [Lane(url.rstrip("/") + API) for _ in range(max(count, 1))]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def gather_limited(calls: list[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await call()

    return list(await asyncio.gather(*(one(c) for c in calls)))


async def credentials_obtain(
    client: httpx.AsyncClient, *, usernames: list[str], password: str, create: bool
) -> list[Credential]:
    """A token per worker: sign up (when `create`; an existing name falls back to a log-in) or
    log in. Password hashing is the server's slow part, so at most 8 at a time."""

    async def login(username: str) -> Credential:
        response = await client.post("/auth/token/", json={
            "username": username, "password": password, "name": "simulator"})
        if response.status_code != 201:
            raise RuntimeError(f"log-in of {username} failed: {error_kind(response)} {response.text[:200]}")
        body = response.json()
        return Credential(username=username, token=body["token"], token_id=body["id"])

    async def signup(username: str) -> Credential:
        response = await client.post("/auth/signup/", json={
            "username": username, "password": password, "role": "worker"})
        if response.status_code == 201:
            return Credential(username=username, token=response.json()["token"])
        if response.status_code in (400, 409):  # taken: the account exists from an earlier run
            return await login(username)
        if response.status_code == 429:  # the server's sign-up limit per address: say what to do
            raise RuntimeError(f"sign-up of {username} refused (429): the server takes QUORUM_SIGNUPS_PER_HOUR "
                               "sign-ups an hour from one address (20 unless set); for a simulated crowd start "
                               "it with QUORUM_SIGNUPS_PER_HOUR=0 (no limit) or above the number of workers")
        raise RuntimeError(f"sign-up of {username} failed: {error_kind(response)} {response.text[:200]}")

    step = signup if create else login
    return await gather_limited([lambda u=u: step(u) for u in usernames], 8)


async def credentials_revoke(client: httpx.AsyncClient, credentials: list[Credential]) -> None:
    """Revoke the tokens this run obtained, so repeated runs do not pile tokens up."""

    async def revoke(credential: Credential) -> None:
        try:
            await client.delete(f"/me/tokens/{credential.token_id}/", headers=auth(credential.token),
                                timeout=3.0)
        except httpx.HTTPError:
            pass  # best effort: the server may be gone already (Ctrl-C in the demo)

    await gather_limited([lambda c=c: revoke(c) for c in credentials if c.token_id], 16)


class Simulation:
    """Runs the crowd; `stop()` may be called from a signal handler (via the loop)."""

    def __init__(self, *, client: httpx.AsyncClient, credentials: list[Credential],
                 profiles: list[Profile], options: Options, lanes: list[Lane]) -> None:
        self.client = client  # set-up and report requests (few, off the measured path)
        self.lanes = lanes  # the connections the workers' requests go on (lanes_open)
        # Workers sharing a lane take turns in arrival order (asyncio.Lock wakes its waiters
        # first in, first out): httpcore's own queue let a worker that had just been answered
        # send again before the others, so a few workers held the lanes and the rest waited
        # (aiohttp's pool of one queues the same way; the lock keeps the order ours).
        self._turns = [asyncio.Lock() for _ in self.lanes]
        self.credentials = credentials
        self.options = options
        self.stats = Stats(profiles=profiles)
        self.stopping = asyncio.Event()
        # worker -> when its latest no_work request started. A submit accepted after it may
        # free work again (an item reopened, a lease given back), so the run is over only when
        # every worker saw no work after the last accepted submit. (Items merely held by other
        # workers' submits answer `busy`, never no_work.)
        self._idle: dict[int, float] = {}
        self._busy_wait: dict[int, float] = {}  # worker -> seconds its latest `busy` said to wait
        self._last_accept = 0.0
        self._in_flight = 0
        self._bar: Any = None

    def stop(self, *, interrupted: bool = False) -> None:
        if interrupted:
            self.stats.interrupted = True
        self.stopping.set()

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake at once when the run stops."""
        if seconds > 0:
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
            except asyncio.TimeoutError:
                pass

    def _lane(self, index: int) -> Lane:
        return self.lanes[index % len(self.lanes)]

    async def _request(self, index: int, name: str, path: str, token: str,
                       body: dict[str, Any]) -> Reply | None:
        started = time.perf_counter()  # the wait for the lane counts, as a proxy's queue would
        since_start = time.monotonic() - self.stats.started
        try:
            async with self._turns[index % len(self.lanes)]:
                response = await self._lane(index).post(path, json_body=body, headers=auth(token))
        except LaneError as exc:
            self.stats.errors[exc.kind] += 1
            return None
        self.stats.latencies[name].append(time.perf_counter() - started)
        self.stats.asked_at[name].append(since_start)
        return response

    async def _job_terms(self, token: str) -> None:
        """Pay per judgment of the open jobs (for the cost in the report)."""
        try:
            response = await self.client.get("/work/jobs/", params={"page_size": 500}, headers=auth(token))
            if response.status_code == 200:
                for job in response.json().get("results", []):
                    self.stats.rewards.setdefault(job["id"], Decimal(job["reward_per_judgment"]))
        except (httpx.HTTPError, ValueError, KeyError):
            pass

    def _enough(self) -> bool:
        items = self.options.items
        return items is not None and self.stats.accepted + self._in_flight >= items

    async def _worker(self, index: int) -> None:
        profile, token = self.stats.profiles[index], self.credentials[index].token
        rng = random.Random(profile.seed ^ 0x5EED)
        body = {} if self.options.job is None else {"job": self.options.job}
        lease: dict[str, Any] | None = None  # in hand: from work/next/ or from the last submit
        if self.options.spread_start and self.options.think_ms > 0:
            await self._pause(rng.uniform(0.0, self.options.think_ms / 1000))
        failed = 0  # requests in a row that failed
        while not self.stopping.is_set():
            if self._enough():
                break
            self._in_flight += 1
            try:
                outcome, lease = await self._cycle(index, profile, token, rng, body, lease)
            finally:
                self._in_flight -= 1
            failed = failed + 1 if outcome == "error" else 0
            if failed >= self.options.give_up_after:
                self.stats.retired[index] = f"gave up after {failed} failed requests in a row"
            if outcome == "retire" or failed >= self.options.give_up_after:
                break
            if outcome == "idle":
                await self._pause(self.options.idle_poll * rng.uniform(0.75, 1.25))
            elif outcome == "busy":
                await self._pause(self._busy_wait.pop(index, 1.0) * rng.uniform(0.75, 1.25))
            elif outcome == "error":
                await self._pause(rng.uniform(0.5, 1.0))
        if lease is not None:  # taken ahead by the last submit, or on screen when the run stopped
            await self._release(index, lease["lease"], token)
        self._idle.pop(index, None)
        self._check_done()

    async def _take(self, index: int, token: str, body: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        """POST work/next/: ("ok", the lease), or the outcome without one (idle, retire, error)."""
        asked = time.monotonic()
        response = await self._request(index, "next", "/work/next/", token, body)
        if response is None:
            return "error", None
        if response.status_code != 200:
            kind = error_kind(response)
            if kind == "404 no_work":
                self.stats.no_work += 1
                self._idle[index] = asked
                self._check_done()
                return "idle", None
            if kind == "409 busy":  # work is left, held by others' submits: not idle, ask again soon
                self.stats.busy += 1
                self._busy_wait[index] = retry_after(response)
                return "busy", None
            self.stats.errors[kind] += 1
            if response.status_code == 403:
                self.stats.retired[index] = kind
                return "retire", None
            return "error", None
        return "ok", dict(response.json())

    async def _cycle(self, index: int, profile: Profile, token: str, rng: random.Random,
                     body: dict[str, Any], lease: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
        """Answer one item (taking one first when none is in hand); returns the outcome and the
        lease now in hand: the submit's `next`, or None (ask work/next/ on the next round)."""
        if lease is None:
            outcome, lease = await self._take(index, token, body)
            if lease is None:
                return outcome, None
        self._idle.pop(index, None)
        job, item = lease["job"], lease["item"]
        keys = [label["key"] for label in job["labels"]]
        self.stats.label_keys.setdefault(job["id"], keys)
        if job["id"] not in self.stats.rewards:
            await self._job_terms(token)
        key = item_key(item["data"])  # a lease carries the item's data, never its id
        label = profile.answer(item=key, data=item["data"], label_keys=keys, rng=rng)
        await self._pause(think_seconds(mean_ms=self.options.think_ms, rng=rng))
        if self.stopping.is_set():
            return "stopped", lease  # handed back by _worker on its way out
        submit: dict[str, Any] = {"label": label, "next": True}
        if self.options.job is None and self.options.next_any:
            submit["next_from"] = "any"
        response = await self._request(index, "submit", f"/work/leases/{lease['lease']}/submit/", token, submit)
        if response is None:
            # Saved or not, work/next/ answers with the lease still live (this one if unsaved).
            return "error", None
        if response.status_code in (200, 201):
            answer = response.json()
            if response.status_code == 201:
                self._last_accept = time.monotonic()
                self.stats.record(job=job["id"], item=key, worker=index, label=label, data=item["data"])
                if self._bar is not None:
                    self._bar.update(1)
            else:
                self.stats.retried += 1
            # null: nothing more for this worker in the job (next_error says why); work/next/
            # then looks in every job (or says why again, which the loop acts on).
            return "ok", answer.get("next")
        kind = error_kind(response)
        self.stats.errors[kind] += 1
        if response.status_code == 403:
            self.stats.retired[index] = kind
            return "retire", None
        return "error", None

    async def _release(self, index: int, lease_id: int, token: str) -> None:
        try:
            await self._lane(index).post(f"/work/leases/{lease_id}/release/", headers=auth(token), timeout=3.0)
        except LaneError:
            pass

    def _check_done(self) -> None:
        active = len(self.stats.profiles) - len(self.stats.retired)
        fresh = sum(1 for asked in self._idle.values() if asked > self._last_accept)
        if self.options.stop_when_idle and active and fresh >= active:
            self.stopping.set()
        if active == 0:
            self.stopping.set()

    async def _progress_log(self) -> None:
        while not self.stopping.is_set():
            await self._pause(10.0)
            if self.stopping.is_set():
                break
            stats = self.stats
            print(f"crowd: {stats.accepted:,} judgments ({stats.accepted / stats.seconds:.1f}/s), "
                  f"{sum(stats.errors.values())} errors, {len(stats.retired)} workers stopped",
                  file=sys.stderr, flush=True)

    async def run(self) -> Stats:
        extra: list[asyncio.Task[None]] = []
        if self.options.progress == "bar":
            from tqdm import tqdm  # a runtime dependency; imported here so the model stays light

            self._bar = tqdm(total=self.options.items, unit="judgment", file=sys.stderr,
                             dynamic_ncols=True, mininterval=0.5, smoothing=0.1)
        elif self.options.progress == "log":
            extra.append(asyncio.create_task(self._progress_log()))
        if self.options.duration is not None:
            extra.append(asyncio.create_task(self._deadline(self.options.duration)))
        self.stats.started = time.monotonic()
        tasks = [asyncio.create_task(self._worker(i)) for i in range(len(self.stats.profiles))]
        done_waiter = asyncio.create_task(self.stopping.wait())
        await asyncio.wait([done_waiter, asyncio.gather(*tasks)], return_when=asyncio.FIRST_COMPLETED)
        # Requests in flight finish, so every judgment the server stored is counted: after
        # Ctrl-C within 5 s (a dead server must not hang the stop), otherwise within the timeout.
        grace = 5.0 if self.stats.interrupted else 90.0
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self.stats.finished = time.monotonic()
        for task in extra:
            task.cancel()
        await asyncio.gather(*extra, return_exceptions=True)
        if self._bar is not None:
            self._bar.close()
        return self.stats

    async def _deadline(self, seconds: float) -> None:
        await self._pause(seconds)
        self.stopping.set()
