"""What the server says after a simulation, read through the client's and workers' own API:

- per job, a fresh consensus run (POST jobs/<id>/consensus/, polled until it ends), then the
  streamed results (jobs/<id>/results/?format=jsonl) scored against the simulated truth of each
  item's data, and majority vote over all the job's judgments (jobs/<id>/judgments/export/) on
  the same items, for comparison;
- the workers' earnings (me/earnings/) before and after, so the report's cost can be checked
  against the ledger.

Everything is best effort with short timeouts: after Ctrl-C in the demo the server may be gone.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

import httpx

from marketplace.demo.simulator.client import Credential, gather_limited, auth, error_kind
from marketplace.demo.simulator.crowd import item_truth, majority


async def earnings_total(client: httpx.AsyncClient, credentials: list[Credential]) -> Decimal | None:
    """Sum over the workers of pending + available + in flight + paid (None if any read fails)."""

    async def one(credential: Credential) -> Decimal | None:
        try:
            response = await client.get("/me/earnings/", headers=auth(credential.token), timeout=5.0)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        body = response.json()
        return sum((Decimal(body[k]) for k in ("pending", "available", "in_flight", "paid")), Decimal("0"))

    values = await gather_limited([lambda c=c: one(c) for c in credentials], 16)
    if any(v is None for v in values):
        return None
    return sum(values, Decimal("0"))


async def _consensus(client: httpx.AsyncClient, token: str, job: int) -> dict[str, Any]:
    """Start a run (or join the one in progress) and wait up to 60 s for it to end."""
    response = await client.post(f"/jobs/{job}/consensus/", json={}, headers=auth(token), timeout=60.0)
    if response.status_code == 201:
        return response.json()
    if response.status_code == 202:
        run_id = response.json()["id"]
    elif response.status_code == 409 and response.json().get("error", {}).get("details", {}).get("run"):
        run_id = response.json()["error"]["details"]["run"]
    else:
        raise RuntimeError(error_kind(response))
    for _ in range(120):
        response = await client.get(f"/jobs/{job}/consensus/{run_id}/", headers=auth(token), timeout=10.0)
        run = response.json()
        if run.get("status") != "running":
            return run
        await asyncio.sleep(0.5)
    raise RuntimeError(f"run {run_id} still running after 60 s")


async def _lines(client: httpx.AsyncClient, token: str, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    async with client.stream("GET", path, params=params, headers=auth(token), timeout=60.0) as response:
        if response.status_code != 200:
            raise RuntimeError(error_kind(response))
        async for line in response.aiter_lines():
            if line.strip():
                rows.append(json.loads(line))
    return rows


async def job_accuracy(client: httpx.AsyncClient, token: str, job: int, keys: list[str]) -> dict[str, Any]:
    run = await _consensus(client, token, job)
    if run.get("status") != "succeeded":
        return {"run": run.get("id"), "error": f"run {run.get('status')}: {run.get('error', '')}"}
    results = await _lines(client, token, f"/jobs/{job}/results/", {"format": "jsonl"})
    judgments = await _lines(client, token, f"/jobs/{job}/judgments/export/", {"format": "jsonl"})
    truth_by_task: dict[str, str] = {}
    labelled = correct = 0
    for row in results:
        truth = item_truth(row["data"], keys)
        truth_by_task[row["external_id"] if row["external_id"] is not None else str(row["item_id"])] = truth
        if row["consensus_label"] is not None:
            labelled += 1
            correct += row["consensus_label"] == truth
    votes: dict[str, list[str]] = defaultdict(list)
    for row in judgments:
        votes[row["task"]].append(row["label"])
    mv_correct = sum(majority(labels, keys) == truth_by_task.get(task) for task, labels in votes.items())
    return {
        "run": run["id"], "method": run.get("method", ""), "items": labelled,
        "accuracy": round(correct / labelled, 4) if labelled else None,
        "judged_items": len(votes),
        "majority_vote_accuracy": round(mv_correct / len(votes), 4) if votes else None,
        "judgments": len(judgments),
    }


async def server_report(
    client: httpx.AsyncClient, *, owner_token: str | None, label_keys: dict[int, list[str]]
) -> dict[str, Any]:
    jobs: dict[str, Any] = {}
    if owner_token is None:
        return {"jobs": jobs, "note": "no client credentials (--client): server consensus not read"}
    for job, keys in sorted(label_keys.items()):
        try:
            jobs[str(job)] = {"consensus": await job_accuracy(client, owner_token, job, keys)}
        except (httpx.HTTPError, RuntimeError, ValueError, KeyError) as exc:
            jobs[str(job)] = {"consensus": {"error": f"{type(exc).__name__}: {exc}"[:200]}}
    return {"jobs": jobs}
