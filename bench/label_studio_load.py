"""python -m bench label-studio-load: the same load as http-load, against a running Label Studio.

Label Studio runs outside this repository (bench/label_studio.md says how to install and start
it on PostgreSQL). Given its URL and tokens in the environment:
  LABEL_STUDIO_URL            e.g. http://127.0.0.1:8090
  LABEL_STUDIO_TOKEN          an admin's legacy API token (creates the project and its tasks)
  LABEL_STUDIO_WORKER_TOKENS  comma-separated legacy tokens of distinct users, one per worker
  LABEL_STUDIO_PID            optional: the server's pid (else found from the listening port)
it creates a project with a 3-choice config, --tasks tasks and maximum_annotations --overlap,
then runs --workers workers, each with its own user's token, doing GET /api/projects/<id>/next
then POST /api/tasks/<task>/annotations/ at once, for --seconds. One token for all workers would
not do: Label Studio gives a user who already holds a task lock that same task again, so
concurrent workers sharing a user would all annotate one task.

Printed: judgments/s, next and submit latency percentiles, errors by kind, and the server
processes' CPU per judgment (bench._server.cpu_seconds: the process and its descendants).

Options: --workers=8 --seconds=30 --tasks=2000 --overlap=3 --seed=0."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench._options import int_options
from bench._server import cpu_seconds
from marketplace.demo.simulator.lanes import Lane, LaneError
from marketplace.demo.simulator.report import percentile

DEFAULTS = {"workers": 8, "seconds": 30, "tasks": 2000, "overlap": 3, "seed": 0}
CHOICES = ("cat", "dog", "bird")
LABEL_CONFIG = (
    '<View><Text name="text" value="$text"/>'
    '<Choices name="label" toName="text" choice="single">'
    + "".join(f'<Choice value="{c}"/>' for c in CHOICES)
    + "</Choices></View>"
)
SETUP_DOC = "bench/label_studio.md"


@dataclass(frozen=True)
class Target:
    """A running Label Studio: where, whose tokens, which process to charge CPU to."""

    url: str
    admin_token: str
    worker_tokens: tuple[str, ...]
    pid: int | None


@dataclass
class LoadResult:
    """One measured run of either system; latencies in seconds, CPU in seconds. `quantiles`
    (ms by name and percentile) stands in for the samples when a report kept only those."""

    system: str
    workers: int
    judgments: int
    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"next": [], "submit": []})
    errors: Counter[str] = field(default_factory=Counter)
    cpu_seconds: float | None = None
    quantiles: dict[str, dict[int, float]] | None = None

    @property
    def rate(self) -> float:
        return self.judgments / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_judgment(self) -> float | None:
        if self.cpu_seconds is None or not self.judgments:
            return None
        return self.cpu_seconds * 1000 / self.judgments

    def latency_ms(self, name: str, q: int) -> float:
        if self.quantiles is not None:
            return self.quantiles[name][q]
        return percentile(sorted(self.latencies[name]), q) * 1000


def options_parse(argv: list[str], defaults: dict[str, int]) -> dict[str, int]:
    return int_options(argv, defaults)


def _listening_inodes(port: int) -> set[str]:
    """Inodes of sockets listening on `port` (state 0A), from /proc/net/tcp and tcp6."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _exe(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def server_pid(port: int) -> int | None:
    """The process serving `port`: one holding the listening socket, raised to its topmost
    ancestor running the same program (uwsgi's http router is a child of its master, whose
    other children are the workers that do the work), so cpu_seconds counts all of them."""
    inodes = {f"socket:[{i}]" for i in _listening_inodes(port)}
    if not inodes:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            held = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:
            continue  # not ours, or gone
        if held & inodes:
            pid = int(entry.name)
            while (parent := _parent(pid)) > 1 and _exe(parent) == _exe(pid):
                pid = parent
            return pid
    return None


def target_from_env(environ: dict[str, str] | None = None) -> Target | None:
    env = os.environ if environ is None else environ
    url, token = env.get("LABEL_STUDIO_URL", "").rstrip("/"), env.get("LABEL_STUDIO_TOKEN", "")
    if not url or not token:
        return None
    workers = tuple(t.strip() for t in env.get("LABEL_STUDIO_WORKER_TOKENS", "").split(",") if t.strip())
    pid = env.get("LABEL_STUDIO_PID", "")
    if not pid.isdigit():
        port = httpx.URL(url).port or 80
        return Target(url=url, admin_token=token, worker_tokens=workers, pid=server_pid(port))
    return Target(url=url, admin_token=token, worker_tokens=workers, pid=int(pid))


def not_configured_text() -> str:
    return (f"Label Studio is not configured: set LABEL_STUDIO_URL, LABEL_STUDIO_TOKEN and "
            f"LABEL_STUDIO_WORKER_TOKENS for a running server; {SETUP_DOC} says how to install "
            "and start it (outside this repository, on PostgreSQL).")


def reachable(target: Target) -> str | None:
    """None when the server answers the admin's token; else why not."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # else Django's root logger shows each request
    try:
        response = httpx.get(f"{target.url}/api/current-user/whoami",
                             headers=_auth(target.admin_token), timeout=10)
    except httpx.HTTPError as exc:
        return f"{target.url} does not answer ({type(exc).__name__})"
    if response.status_code != 200:
        return f"{target.url} refused the admin token: {response.status_code} {response.text[:200]}"
    return None


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


async def project_create(client: httpx.AsyncClient, *, admin_token: str, tasks: int, overlap: int) -> int:
    """A project of `tasks` text tasks wanting `overlap` annotations each; its id."""
    response = await client.post("/api/projects/", headers=_auth(admin_token), json={
        "title": f"Quorum bench {time.strftime('%H:%M:%S')}", "label_config": LABEL_CONFIG,
        "maximum_annotations": overlap, "sampling": "Sequential sampling"})
    response.raise_for_status()
    project = int(response.json()["id"])
    rows = [{"data": {"text": f"photo {n}"}} for n in range(tasks)]
    response = await client.post(f"/api/projects/{project}/import", headers=_auth(admin_token),
                                 json=rows, timeout=300)
    response.raise_for_status()
    return project


async def _worker(lane: Lane, *, token: str, project: int, deadline: float,
                  rng: random.Random, result: LoadResult) -> None:
    """One annotator on a connection of its own, through the same client as Quorum's crowd
    (demo/simulator/lanes.py), so both servers are measured beside the same load generator."""
    headers = _auth(token)
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            response = await lane.get(f"/api/projects/{project}/next", headers=headers)
        except LaneError as exc:
            result.errors[f"next {exc.kind}"] += 1
            continue
        result.latencies["next"].append(time.perf_counter() - started)
        if response.status_code != 200:
            result.errors[f"next {response.status_code}"] += 1
            await asyncio.sleep(0.2)  # 404 is "no more tasks": do not spin on it
            continue
        task = response.json()["id"]
        choice = rng.choice(CHOICES)
        body = {"result": [{"from_name": "label", "to_name": "text", "type": "choices",
                            "value": {"choices": [choice]}}], "lead_time": 0.0, "project": project}
        started = time.perf_counter()
        try:
            response = await lane.post(f"/api/tasks/{task}/annotations/", headers=headers, json_body=body)
        except LaneError as exc:
            result.errors[f"submit {exc.kind}"] += 1
            continue
        result.latencies["submit"].append(time.perf_counter() - started)
        if response.status_code == 201:
            result.judgments += 1
        else:
            result.errors[f"submit {response.status_code}"] += 1


async def _load(target: Target, *, workers: int, seconds: float, tasks: int, overlap: int,
                seed: int) -> LoadResult:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    limits = httpx.Limits(max_connections=workers + 2, max_keepalive_connections=workers + 2)
    async with httpx.AsyncClient(base_url=target.url, limits=limits,
                                 timeout=httpx.Timeout(60.0, connect=10.0)) as client:
        project = await project_create(client, admin_token=target.admin_token, tasks=tasks,
                                       overlap=overlap)
        result = LoadResult(system="Label Studio", workers=workers, judgments=0, seconds=0.0)
        cpu_before = cpu_seconds(target.pid) if target.pid else None
        async with contextlib.AsyncExitStack() as stack:
            lanes = [await stack.enter_async_context(Lane(target.url)) for _ in range(workers)]
            started = time.monotonic()
            await asyncio.gather(*(
                _worker(lanes[i], token=target.worker_tokens[i], project=project,
                        deadline=started + seconds, rng=random.Random(seed * 1000 + i), result=result)
                for i in range(workers)))
            result.seconds = time.monotonic() - started
        if cpu_before is not None and target.pid:
            result.cpu_seconds = cpu_seconds(target.pid) - cpu_before
        # Best effort, outside the measurement: keeps the database from growing run after run.
        try:
            await client.delete(f"/api/projects/{project}/", headers=_auth(target.admin_token), timeout=120)
        except httpx.HTTPError:
            pass
    return result


def label_studio_load(target: Target, *, workers: int, seconds: float, tasks: int = 2000,
                      overlap: int = 3, seed: int = 0) -> LoadResult:
    if len(target.worker_tokens) < workers:
        raise SystemExit(f"{workers} Label Studio workers need as many user tokens in "
                         f"LABEL_STUDIO_WORKER_TOKENS; got {len(target.worker_tokens)} ({SETUP_DOC})")
    return asyncio.run(_load(target, workers=workers, seconds=seconds, tasks=tasks, overlap=overlap,
                             seed=seed))


def result_text(result: LoadResult) -> str:
    cpu = result.cpu_ms_per_judgment
    lines = [
        f"{result.system}: {result.workers} workers, {result.judgments:,} judgments in "
        f"{result.seconds:.1f} s: {result.rate:,.1f} judgments/s",
        f"  {'latency ms':<12}{'p50':>8}{'p95':>8}{'p99':>8}{'requests':>10}",
    ]
    for name in ("next", "submit"):
        lines.append(f"  {name:<12}" + "".join(f"{result.latency_ms(name, q):>8.1f}" for q in (50, 95, 99))
                     + f"{len(result.latencies[name]) or '-':>10}")
    errors = ", ".join(f"{k} ×{v}" for k, v in result.errors.most_common()) or "none"
    lines.append(f"  errors: {errors}")
    lines.append("  server CPU: " + ("unknown (no pid; set LABEL_STUDIO_PID)" if cpu is None else
                                     f"{result.cpu_seconds:.1f} s, {cpu:.0f} ms per judgment"))
    return "\n".join(lines)


def target_or_exit() -> Target:
    """The Label Studio the environment names, answering; otherwise say how to start one and exit 2."""
    target = target_from_env()
    if target is None:
        print(not_configured_text())
        raise SystemExit(2)
    if (why := reachable(target)) is not None:
        print(f"{why}. {not_configured_text()}")
        raise SystemExit(2)
    return target


def run(argv: list[str]) -> None:
    target = target_or_exit()
    options = options_parse(argv, DEFAULTS)
    print(f"Label Studio at {target.url}, server pid {target.pid or 'unknown'}")
    result = label_studio_load(target, workers=options["workers"], seconds=options["seconds"],
                               tasks=options["tasks"], overlap=options["overlap"], seed=options["seed"])
    print(result_text(result))
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
