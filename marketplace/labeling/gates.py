"""Gates a claim asks before handing a worker an item of a job.

An app above labeling may decide that a job should not serve a worker right now — quality's
dynamic-overlap rule (quality/serving.py) turns away, from a dynamic job, a worker it expects to be
near chance. Labeling must not import the apps above it, so they register here at start-up
(their AppConfig.ready) and the claim asks every registered gate.
"""

from __future__ import annotations

from collections.abc import Callable

from marketplace.jobs.models import Job

#: (job, worker id) -> True to serve. Fixed-overlap jobs should answer at once, without queries.
Gate = Callable[[Job, int], bool]

_GATES: list[Gate] = []


def gate_register(gate: Gate) -> None:
    """Add a gate (idempotent: registering the same function twice keeps one)."""
    if gate not in _GATES:
        _GATES.append(gate)


def worker_served(*, job: Job, worker_id: int) -> bool:
    return all(gate(job, worker_id) for gate in _GATES)
