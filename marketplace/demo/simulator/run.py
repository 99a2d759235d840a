"""`simulate()`: build the crowd, get its tokens, run it, ask the server, report.

Signals: while the crowd runs, SIGINT/SIGTERM stop it cleanly (leases handed back, report
still printed); a second Ctrl-C during the final server reads skips them.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from marketplace.demo.simulator import SIM_PASSWORD, SIM_USERNAME_PREFIX
from marketplace.demo.simulator.client import (
    Credential,
    Options,
    Simulation,
    credentials_obtain,
    credentials_revoke,
    http_client,
    lanes_open,
)
from marketplace.demo.simulator.crowd import crowd_build
from marketplace.demo.simulator.report import money, report_build
from marketplace.demo.simulator.server import earnings_total, server_report

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class Accounts:
    """Where the workers' tokens come from: given (benchmarks), or log-ins of sim-worker-<i>."""

    credentials: list[Credential] | None = None
    prefix: str = SIM_USERNAME_PREFIX
    password: str = SIM_PASSWORD
    create: bool = False  # sign the workers up through the API first (existing ones log in)
    owner: tuple[str, str] | None = None  # the job owner's (username, password): server report
    owner_token: str | None = None


def _on_signals(loop: asyncio.AbstractEventLoop, callback: Any) -> None:
    for sig in _SIGNALS:
        try:
            loop.add_signal_handler(sig, callback)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread (a benchmark may run us elsewhere): no handlers then


def _off_signals(loop: asyncio.AbstractEventLoop) -> None:
    for sig in _SIGNALS:
        try:
            loop.remove_signal_handler(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass


async def simulate(*, url: str, options: Options, mix: Mapping[str, float], accounts: Accounts,
                   server: bool = True, on_crowd: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the crowd against `url` and return the report (see report.report_build).
    `on_crowd`: called with "start" as the crowd starts labelling and "end" as it stops (a
    benchmark measures between them, leaving out the reads before and after)."""
    loop = asyncio.get_running_loop()
    profiles = crowd_build(n=options.workers, mix=mix, seed=options.seed)
    async with http_client(url, connections=options.connections or options.workers + 8) as client:
        credentials = accounts.credentials
        if credentials is None:
            usernames = [f"{accounts.prefix}{i + 1}" for i in range(options.workers)]
            credentials = await credentials_obtain(
                client, usernames=usernames, password=accounts.password, create=accounts.create)
        if len(credentials) < options.workers:
            raise ValueError(f"{options.workers} workers need as many tokens; got {len(credentials)}")
        owner_token, owned = accounts.owner_token, []
        if owner_token is None and accounts.owner:
            owned = await credentials_obtain(client, usernames=[accounts.owner[0]],
                                             password=accounts.owner[1], create=False)
            owner_token = owned[0].token
        before = await earnings_total(client, credentials) if server else None

        async with contextlib.AsyncExitStack() as stack:
            lanes = [await stack.enter_async_context(lane)
                     for lane in lanes_open(url, count=options.connections or options.workers)]
            simulation = Simulation(client=client, credentials=credentials, profiles=profiles,
                                    options=options, lanes=lanes)
            _on_signals(loop, lambda: simulation.stop(interrupted=True))
            try:
                if on_crowd is not None:
                    on_crowd("start")
                stats = await simulation.run()
                if on_crowd is not None:
                    on_crowd("end")
            finally:
                _off_signals(loop)

        extra: dict[str, Any] = {}
        if server:
            finishing = asyncio.create_task(_after(client, credentials, owner_token, stats.label_keys))
            _on_signals(loop, finishing.cancel)  # a second Ctrl-C skips the server reads
            try:
                extra, after = await finishing
                if before is not None and after is not None:
                    extra["earnings_delta"] = str(money(after - before))
            except asyncio.CancelledError:
                extra = {"note": "server reads skipped (interrupted)"}
            finally:
                _off_signals(loop)
        obtained = [c for c in credentials if c.token_id] if accounts.credentials is None else []
        await credentials_revoke(client, obtained + owned)
    return report_build(stats, server=extra, warmup=options.warmup)


async def _after(client: Any, credentials: list[Credential], owner_token: str | None,
                 label_keys: dict[int, list[str]]) -> tuple[dict[str, Any], Any]:
    after = await earnings_total(client, credentials)
    return await server_report(client, owner_token=owner_token, label_keys=label_keys), after
