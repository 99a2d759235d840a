"""Dropping a blocked worker's judgments from a job and reopening the items they counted for.

Set-based: a handful of statements whatever the number of judgments, never a Python loop of
saves. Consensus reads accepted judgments only, so a dropped judgment leaves it at once; an item
whose accepted count falls under overlap + extra_judgments is open again, and claims (which
serve started items first) hand it to another worker soon.

Locking contract (labeling/submitting.py takes lease → item → worker's tally → job KEY SHARE):
- called on its own (an admin's block), this locks the affected items in id order, then the
  worker's tally row, then the job in KEY SHARE mode, waiting for each: the same order as every
  submit, so no cycle is possible. KEY SHARE keeps the job's status still until we commit (every
  status move takes FOR UPDATE) without making concurrent submits wait for us;
- called inside a submit of the same worker (a gold answer tripped the rule), which already
  holds that tally and the job, it must not wait for an item lock: a concurrent submit of the
  worker (a lease fetched ahead) may hold that item while it waits for our tally. With
  `skip_locked=True` it takes the items it can get and reports the rest as `pending`; the caller
  drops those in a second call after commit.
Leases are only ever taken with SKIP LOCKED here, for the same reason.

The counts dropped leave the dropped worker's own tally row (jobs.models.JobTally), which may go
below zero: the items it reopens may have been completed by others' submits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from marketplace.jobs.models import JobStatus
from marketplace.labeling import sql

# Statuses in which reopened items would be served again; completed and cancelled jobs are over.
_REOPENABLE = frozenset({JobStatus.OPEN, JobStatus.PAUSED, JobStatus.DRAFT})

_AFFECTED = """
SELECT i.id FROM jobs_item i
WHERE i.id IN (
    SELECT j.item_id FROM labeling_judgment j
    WHERE j.job_id = %(job)s AND j.worker_id = %(worker)s AND j.status = 'accepted' AND NOT j.is_gold
)
ORDER BY i.id{lock}
"""

_JOB = "SELECT status, overlap FROM jobs_job WHERE id = %(job)s{lock}"

# {items} is the vendor's "in this id list" (an array on PostgreSQL, json_each on SQLite).
_DROP = """
UPDATE labeling_judgment SET status = 'dropped'
WHERE job_id = %(job)s AND worker_id = %(worker)s AND status = 'accepted'
  AND (is_gold OR item_id {items})
RETURNING is_gold
"""

_REOPENED = """
SELECT id FROM jobs_item
WHERE id {items} AND is_complete AND judgment_count - 1 < %(overlap)s + extra_judgments
ORDER BY id
"""

# SET expressions all read the row's old values, on both databases.
_UNCOUNT = """
UPDATE jobs_item SET
    judgment_count = CASE WHEN judgment_count > 0 THEN judgment_count - 1 ELSE 0 END,
    is_complete = CASE
        WHEN %(reopen)s AND judgment_count - 1 < %(overlap)s + extra_judgments THEN %(false)s
        ELSE is_complete END,
    full_until = NULL
WHERE id {items}
"""

_LEASES_END = """
UPDATE labeling_lease SET status = 'released', finished_at = %(now)s
WHERE id IN (
    SELECT id FROM labeling_lease
    WHERE job_id = %(job)s AND worker_id = %(worker)s AND status = 'active'{lock}
)
"""


@dataclass(frozen=True)
class DropResult:
    job_id: int
    worker_id: int
    judgments: int  # regular judgments dropped
    gold_judgments: int  # gold judgments dropped (they leave consensus too)
    items: tuple[int, ...]  # regular items whose accepted count went down by one
    reopened: tuple[int, ...]  # of those, the ones that were complete and are open again
    reopen_allowed: bool  # False when the job was completed or cancelled: dropped, not reopened
    job_status: str
    pending: int = 0  # items another transaction held (skip_locked only): drop them later


def _postgres() -> bool:
    return transaction.get_connection().vendor == "postgresql"


def _in_list(ids: Sequence[int]) -> tuple[str, Any]:
    """SQL for "is in this id list" and its parameter, without one placeholder per id."""
    if _postgres():
        return "= ANY(%(ids)s)", list(ids)
    return "IN (SELECT value FROM json_each(%(ids)s))", json.dumps(list(ids))


def _rows(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []


@transaction.atomic
def judgments_drop(*, job_id: int, worker_id: int, skip_locked: bool = False) -> DropResult:
    """Drop every accepted judgment of the worker in the job; reopen items that fall short.

    Regular items lose one from judgment_count and reopen when under overlap + extra_judgments;
    the job's judgment, gold judgment and completed item counts follow (in the worker's tally). In a completed or
    cancelled job the judgments are dropped and counted out, but no item reopens. Idempotent:
    a second call finds nothing accepted. See the module docstring for the locks.
    """
    postgres = _postgres()
    lock = ("\nFOR UPDATE SKIP LOCKED" if skip_locked else "\nFOR UPDATE") if postgres else ""
    params: dict[str, Any] = {"job": job_id, "worker": worker_id}
    # Lock the affected items first (id order), so the item → job order holds.
    items = [row[0] for row in _rows(_AFFECTED.format(lock=lock), params)]
    pending = 0
    if skip_locked and postgres:
        pending = len(_rows(_AFFECTED.format(lock=""), params)) - len(items)
    # Then the worker's tally (a zero upsert), then the job, KEY SHARE; inside a submit of this
    # worker we hold both already, which is fine.
    sql.run("tally_add", job=job_id, shard=worker_id, judgments=0, gold_judgments=0, completed=0)
    job_row = _rows(_JOB.format(lock="\nFOR KEY SHARE" if postgres else ""), params)
    if not job_row:
        raise ValueError(f"job {job_id} does not exist")
    status, overlap = job_row[0]
    reopen = status in _REOPENABLE
    in_items, ids_param = _in_list(items)
    params.update(ids=ids_param, overlap=overlap, reopen=reopen, false=False)

    dropped = _rows(_DROP.format(items=in_items), params)
    gold = sum(1 for (is_gold,) in dropped if is_gold)
    reopened: list[int] = []
    if items:
        if reopen:
            reopened = [row[0] for row in _rows(_REOPENED.format(items=in_items), params)]
        _rows(_UNCOUNT.format(items=in_items), params)
    regular = len(dropped) - gold
    if dropped:
        sql.run(
            "tally_add", job=job_id, shard=worker_id, judgments=-regular, gold_judgments=-gold,
            completed=-len(reopened),
        )
    return DropResult(
        job_id=job_id, worker_id=worker_id, judgments=regular, gold_judgments=gold, items=tuple(items),
        reopened=tuple(reopened), reopen_allowed=reopen, job_status=str(status), pending=pending,
    )


@transaction.atomic
def leases_end_for_worker(*, job_id: int, worker_id: int) -> int:
    """Release the worker's active leases in the job, so their slots go to others at once
    rather than at expiry. Leases being submitted right now are skipped (their submit is
    refused as blocked). Returns how many were released."""
    lock = "\n    FOR UPDATE SKIP LOCKED" if _postgres() else ""
    connection = transaction.get_connection()
    now = connection.ops.adapt_unknown_value(timezone.now())  # SQLite wants UTC text
    with connection.cursor() as cursor:
        cursor.execute(_LEASES_END.format(lock=lock), {"job": job_id, "worker": worker_id, "now": now})
        return cursor.rowcount
