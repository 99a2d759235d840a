"""Gates a claim asks before handing a worker an item of a job.

A gold item goes out only within the job's gold share (gold_share_left), whether drawn afresh
or taken back from a closed page (labeling/returning.py). An app above labeling may decide that a job should not serve a worker right now — quality's
dynamic-overlap rule (quality/serving.py) turns away, from a dynamic job, a worker it expects to be
near chance. Labeling must not import the apps above it, so they register here at start-up
(their AppConfig.ready) and the claim asks every registered gate.
"""

from __future__ import annotations

from collections.abc import Callable

from decimal import Decimal

from marketplace.jobs.models import Job
from marketplace.labeling import sql

#: (job, worker id) -> True to serve. Fixed-overlap jobs should answer at once, without queries.
Gate = Callable[[Job, int], bool]

_GATES: list[Gate] = []


def gate_register(gate: Gate) -> None:
    """Add a gate (idempotent: registering the same function twice keeps one)."""
    if gate not in _GATES:
        _GATES.append(gate)


def worker_served(*, job: Job, worker_id: int) -> bool:
    return all(gate(job, worker_id) for gate in _GATES)


def gold_share_left(job: Job) -> bool:
    """May one more gold item go out? Only while gold stays within `gold_rate` of what the job
    handed out: gold × (1 − rate) ≤ rate × regular judgments. The draw alone could exceed it (on a
    small job, by luck); the client's escrow holds regular work / (1 − rate) of pay at most
    (billing.pricing), and its share of gold is what the client asked for. So a job's own gold
    never runs its escrow dry, and the first gold comes after some regular work.

    On PostgreSQL gold hand-outs of one job queue on an advisory lock until the claim commits
    (SQLite's writers are serialized already), so the count below cannot go stale under us."""
    sql.run("gold_serve_lock", job=job.pk)
    row = sql.run("gold_served", job=job.pk)
    gold, regular = (row or (0, 0))
    rate = Decimal(str(job.gold_rate))  # raw SQL rows: as the driver returned it
    return (gold + 1) * (1 - rate) <= rate * regular
