"""Workers' global skill: gold answers' evidence plus every job's latest consensus run's share.

The evidence and its arithmetic are pure (consensus.dynamic: `Evidence`, `gold_evidence`,
`run_evidence`); the replay uses the same functions. The two halves live in rows of their own:
WorkerSkill holds the gold answers' evidence, written by submits, undos and gold rescoring as
increments (never read-modify-write); WorkerRunShare holds each job's latest run's share per
worker, written by runs only, replaced whole by the job's next run. Readers add them up
(`skill_expressions`, `worker_skills`), so the figure is the one a single row once held.

Locks: a submit increments its worker's skill row after their WorkerJobStats row (the last rows
it locks, after billing's accounts). A run takes its job's fold lock (an advisory lock only runs
take) and rewrites its job's WorkerRunShare rows, a table no submit writes: a run and a submit
never wait on each other, whatever rows a submit holds and however long a run's transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping

from django.db import connection, transaction
from django.db.models import F, FloatField, OuterRef, Subquery, Sum, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.consensus import ConsensusResult, Votes
from marketplace.consensus.dynamic import Evidence, gold_evidence, run_evidence
from marketplace.quality.models import WorkerRunShare
from marketplace.quality.writing import copy_lines

# "right" is a reserved word in SQL: quoted. Adds to the row, or creates it.
_SKILL_ADD = """
INSERT INTO quality_workerskill (worker_id, "right", seen, updated_at) VALUES {values}
ON CONFLICT (worker_id) DO UPDATE SET
    "right" = quality_workerskill."right" + excluded."right",
    seen = quality_workerskill.seen + excluded.seen,
    updated_at = excluded.updated_at
"""
# The job's latest run's share per worker; the previous run's rows are deleted first.
_SHARE_ADD = """
INSERT INTO quality_workerrunshare (job_id, worker_id, "right", seen, updated_at) VALUES {values}
"""
# PostgreSQL: one run's shares at a time per job, until its transaction ends: (namespace, job id).
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


def worker_run_shares_replace(
    *, job_id: int, result: ConsensusResult, votes: Votes, gold_items: list[int]
) -> int:
    """Replace the job's previous run's per-worker shares of the global skill with this run's.

    Inside the run's transaction (results and shares commit together, or not at all); returns
    the workers with a share. Writes no row a submit writes (see the module's lock order).
    """
    return worker_run_shares_replace_from(
        job_id=job_id, current=run_evidence(result, votes, gold_items=gold_items)
    )


def worker_run_shares_replace_from(*, job_id: int, current: Mapping[Hashable, Evidence]) -> int:
    """`worker_run_shares_replace` from a run's per-worker evidence, however it was measured (a
    multi-label run's: consensus.multilabel.multi_run_evidence). Same transaction and locks."""
    # One run's shares per job at a time: a run declared dead may still be finishing, and two
    # runs deleting and inserting one job's rows in turn could deadlock. Not a row lock: the job
    # may have no share rows yet.
    _fold_lock(job_id)
    WorkerRunShare.objects.filter(job_id=job_id).delete()
    now = timezone.now()
    rows = sorted(
        (job_id, int(worker), share.right, share.seen)
        for worker, share in current.items()
        if share.seen or share.right
    )
    if connection.vendor == "postgresql":  # one COPY: a run may share among tens of thousands
        at = now.isoformat()
        copy_lines(WorkerRunShare, 'job_id, worker_id, "right", seen, updated_at',
                   (f"{job}\t{worker}\t{right!r}\t{seen!r}\t{at}\n" for job, worker, right, seen in rows))
    else:
        stamp = connection.ops.adapt_unknown_value(now)
        _execute_batches(_SHARE_ADD, [(*row, stamp) for row in rows], width=5)
    return len(rows)


def skill_expressions(worker: str = "pk") -> dict[str, Combinable]:
    """Annotations of a User queryset (`worker` names the user's id) with their global skill:
    `skill_right` and `skill_seen`, their gold evidence plus every job's latest run's share."""
    shares = WorkerRunShare.objects.filter(worker_id=OuterRef(worker)).order_by().values("worker_id")
    zero = Value(0.0, output_field=FloatField())

    def total(column: str) -> Combinable:
        runs = Subquery(shares.annotate(total=Sum(column)).values("total"), output_field=FloatField())
        return Coalesce(F(f"skill__{column}"), zero) + Coalesce(runs, zero)

    return {"skill_right": total("right"), "skill_seen": total("seen")}


def worker_skills(*, worker_ids: Collection[int]) -> dict[int, Evidence]:
    """The global skill of each of these workers (nothing known: Evidence(0, 0)); one query."""
    rows = (
        User.objects.filter(pk__in=list(worker_ids))
        .annotate(**skill_expressions())
        .values_list("pk", "skill_right", "skill_seen")
    )
    return {pk: Evidence(float(right), float(seen)) for pk, right, seen in rows}


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
