"""Workers' global skill (WorkerSkill): written by gold answers and by consensus runs.

The evidence and its arithmetic are pure (consensus.dynamic: `Evidence`, `gold_evidence`,
`run_evidence`, `skill_changes`); the replay uses the same functions. Here they reach the
database as increments, never read-modify-write, so a submit and a run (or runs of two jobs)
touching one worker's skill at once both count.

Locks: a submit increments its worker's skill row after their WorkerJobStats row (the last rows
it locks, after billing's accounts). A run locks its job's WorkerJobStats rows, then the skill
rows, each in worker-id order, and holds no other row lock: neither waits on the other in a cycle.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import connection, transaction
from django.utils import timezone

from marketplace.consensus import ConsensusResult, Votes
from marketplace.consensus.dynamic import Evidence, gold_evidence, run_evidence, skill_changes
from marketplace.quality.models import WorkerJobStats

# "right" is a reserved word in SQL: quoted. Adds to the row, or creates it.
_SKILL_ADD = """
INSERT INTO quality_workerskill (worker_id, "right", seen, updated_at) VALUES {values}
ON CONFLICT (worker_id) DO UPDATE SET
    "right" = quality_workerskill."right" + excluded."right",
    seen = quality_workerskill.seen + excluded.seen,
    updated_at = excluded.updated_at
"""
# The job's latest run's share per worker (replacing the previous run's); creates missing rows
# (a worker whose judgments were imported, never submitted, has none).
_SHARE_SET = """
INSERT INTO quality_workerjobstats (job_id, worker_id, gold_seen, gold_correct, judgments,
                                    run_right, run_seen, updated_at) VALUES {values}
ON CONFLICT (job_id, worker_id) DO UPDATE SET
    run_right = excluded.run_right, run_seen = excluded.run_seen, updated_at = excluded.updated_at
"""
_BATCH = 1_000  # rows per statement: 4-8 parameters each, far under any driver's limit


def worker_skill_gold(*, worker_id: int, correct: bool) -> None:
    """Count one scored gold answer in the worker's skill. Caller: the submit, inside its
    transaction, after the worker's WorkerJobStats row (see the module's lock order)."""
    _skills_add({worker_id: gold_evidence(correct=correct)})


def worker_skills_fold_run(
    *, job_id: int, result: ConsensusResult, votes: Votes, gold_items: list[int]
) -> int:
    """Put a run's per-worker share into the workers' skill, replacing the job's previous run's.

    Inside the run's transaction (results, shares and skill commit together, or not at all);
    returns the workers whose skill changed.
    """
    current = run_evidence(result, votes, gold_items=gold_items)
    # Lock the job's share rows (worker order) before reading them: a run declared dead may
    # still be finishing, and two runs must never both subtract the same previous share.
    previous = {
        worker: Evidence(right, seen)
        for worker, right, seen in WorkerJobStats.objects.select_for_update()
        .filter(job_id=job_id)
        .order_by("worker_id")
        .values_list("worker_id", "run_right", "run_seen")
        if seen or right
    }
    changes = skill_changes(previous, current)
    now = connection.ops.adapt_unknown_value(timezone.now())
    rows = [
        (job_id, worker, 0, 0, 0, share.right, share.seen, now)
        for worker, share in sorted(current.items())
    ] + [
        (job_id, worker, 0, 0, 0, 0.0, 0.0, now)
        for worker in sorted(previous.keys() - current.keys())
    ]
    rows.sort(key=lambda row: row[1])
    _execute_batches(_SHARE_SET, rows, width=8)
    _skills_add({int(worker): change for worker, change in changes.items()})
    return len(changes)


def _skills_add(changes: Mapping[int, Evidence]) -> None:
    if not changes:
        return
    now = connection.ops.adapt_unknown_value(timezone.now())
    rows = [(worker, change.right, change.seen, now) for worker, change in sorted(changes.items())]
    _execute_batches(_SKILL_ADD, rows, width=4)


def _execute_batches(sql: str, rows: list[tuple[object, ...]], *, width: int) -> None:
    """One multi-row statement per batch; rows keep their order (worker ids ascending)."""
    placeholder = "(" + ", ".join(["%s"] * width) + ")"
    with transaction.get_connection().cursor() as cursor:
        for start in range(0, len(rows), _BATCH):
            batch = rows[start : start + _BATCH]
            cursor.execute(
                sql.format(values=", ".join([placeholder] * len(batch))),
                [value for row in batch for value in row],
            )
