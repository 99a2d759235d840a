"""Workers' global skill (WorkerSkill): written by gold answers and by consensus runs.

The evidence and its arithmetic are pure (consensus.dynamic: `Evidence`, `gold_evidence`,
`run_evidence`, `skill_changes`); the replay uses the same functions. Here they reach the
database as increments, never read-modify-write, so a submit and a run (or runs of two jobs)
touching one worker's skill at once both count.

Locks: a submit increments its worker's skill row after their WorkerJobStats row (the last rows
it locks, after billing's accounts). A run takes its job's fold lock (an advisory lock only runs
take), rewrites its job's WorkerRunShare rows (a table no submit writes), then the skill rows,
each in worker-id order. A run and a submit meet only on the skill row of a worker whose gold
answer the submit scores, the last row that submit locks: whichever comes second waits for the
other's commit, never in a cycle.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

from django.db import connection, transaction
from django.utils import timezone

from marketplace.consensus import ConsensusResult, Votes
from marketplace.consensus.dynamic import Evidence, gold_evidence, run_evidence, skill_changes
from marketplace.quality.models import WorkerRunShare

# "right" is a reserved word in SQL: quoted. Adds to the row, or creates it.
_SKILL_ADD = """
INSERT INTO quality_workerskill (worker_id, "right", seen, updated_at) VALUES {values}
ON CONFLICT (worker_id) DO UPDATE SET
    "right" = quality_workerskill."right" + excluded."right",
    seen = quality_workerskill.seen + excluded.seen,
    updated_at = excluded.updated_at
"""
# The job's latest run's share per worker, replacing the previous run's.
_SHARE_SET = """
INSERT INTO quality_workerrunshare (job_id, worker_id, "right", seen, updated_at) VALUES {values}
ON CONFLICT (job_id, worker_id) DO UPDATE SET
    "right" = excluded."right", seen = excluded.seen, updated_at = excluded.updated_at
"""
# PostgreSQL: one run's fold at a time per job, until its transaction ends: (namespace, job id).
_FOLD_LOCK = "SELECT pg_advisory_xact_lock(7072, %s)"
_BATCH = 1_000  # rows per statement: 4-5 parameters each, far under any driver's limit


def worker_skill_gold(*, worker_id: int, correct: bool, undo: bool = False, share: float | None = None) -> None:
    """Count one scored gold answer in the worker's skill (`undo`: take one back, its worker
    undid it; `share`: a multi-label answer, right in that share of its label decisions).
    Caller: the submit or the undo, inside its transaction, after the worker's WorkerJobStats
    row (see the module's lock order)."""
    evidence = gold_evidence(correct=correct) if share is None else Evidence(share, 1.0)
    _skills_add({worker_id: Evidence(-evidence.right, -evidence.seen) if undo else evidence})


def worker_skills_gold_rescore(*, changes: Mapping[int, tuple[bool | None, bool | None]]) -> None:
    """A gold answer rescored (an upheld appeal, quality/appeals.py): take back what its old
    score added to the worker's skill and add what the new one does. `changes`: worker id →
    (old is_correct, new is_correct); None is unscored. Workers' rows in id order."""
    deltas: dict[int, Evidence] = {}
    for worker_id, (old, new) in changes.items():
        delta = deltas.get(worker_id, Evidence())
        if old is not None:
            delta = delta - gold_evidence(correct=old)
        if new is not None:
            delta = delta + gold_evidence(correct=new)
        deltas[worker_id] = delta
    _skills_add({worker: d for worker, d in deltas.items() if d.right or d.seen})


def worker_skills_fold_run(
    *, job_id: int, result: ConsensusResult, votes: Votes, gold_items: list[int]
) -> int:
    """Put a run's per-worker share into the workers' skill, replacing the job's previous run's.

    Inside the run's transaction (results, shares and skill commit together, or not at all);
    returns the workers whose skill changed.
    """
    return worker_skills_fold(job_id=job_id, current=run_evidence(result, votes, gold_items=gold_items))


def worker_skills_fold(*, job_id: int, current: Mapping[Hashable, Evidence]) -> int:
    """`worker_skills_fold_run` from a run's per-worker evidence, however it was measured (a
    multi-label run's: consensus.multilabel.multi_run_evidence). Same transaction and locks."""
    # One fold per job at a time, before reading the previous shares: a run declared dead may
    # still be finishing, and two runs must never both subtract the same previous share. Not a
    # row lock: the job may have no share rows yet, and submits must not meet it (models.py).
    _fold_lock(job_id)
    previous = {
        worker: Evidence(right, seen)
        for worker, right, seen in WorkerRunShare.objects.filter(job_id=job_id)
        .values_list("worker_id", "right", "seen")
        if seen or right
    }
    changes = skill_changes(previous, current)
    now = connection.ops.adapt_unknown_value(timezone.now())
    rows = [
        (job_id, worker, share.right, share.seen, now) for worker, share in current.items()
    ] + [(job_id, worker, 0.0, 0.0, now) for worker in previous.keys() - current.keys()]
    rows.sort(key=lambda row: row[1])
    _execute_batches(_SHARE_SET, rows, width=5)
    _skills_add({int(worker): change for worker, change in changes.items()})
    return len(changes)


def _fold_lock(job_id: int) -> None:
    """SQLite serializes writers already."""
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_FOLD_LOCK, [job_id])


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
