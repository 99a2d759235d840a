"""A client asks for more judgments on chosen items: each wants `more` beyond what it has.

An item wants overlap + extra_judgments accepted judgments; asking for `more` sets its target to
what it has (or wanted, if it still collects) plus `more`, and reopens it. Claims serve started
items first (item_serving_order), so reopened items go out before untouched ones; workers who
judged an item never get it again, so the new judgments come from new workers.

Locking contract: the items in id order, then the adjustments tally row (shard 0), then the job
in KEY SHARE mode: the order of every submit (lease → item → tally → job), so no cycle. KEY
SHARE keeps the job's status still until commit (a completion takes the job FOR UPDATE and then
sees the reopened items) without holding up submits. The caller (flows_more.items_more_judgments)
goes on to the budget and accounts, which come after the job in that order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from marketplace.errors import ApplicationError, Conflict
from marketplace.jobs.models import JobStatus, JobTally
from marketplace.labeling import sql

MORE_MAX = 10  # judgments one request may add per item
JUDGMENTS_MAX = 100  # accepted judgments an item may want in all

_REOPENABLE = (JobStatus.OPEN, JobStatus.PAUSED)

_ITEMS = """
SELECT id, judgment_count, extra_judgments, is_complete FROM jobs_item
WHERE job_id = %(job)s AND NOT is_gold AND id {items}
ORDER BY id{lock}
"""

# SET expressions read the row's old values on both databases.
_REOPEN = """
UPDATE jobs_item SET
    extra_judgments = CASE WHEN judgment_count - %(overlap)s > extra_judgments
        THEN judgment_count - %(overlap)s ELSE extra_judgments END + %(more)s,
    asked_judgments = asked_judgments + %(more)s,
    is_complete = %(false)s, full_until = NULL,
    reopened_complete = (reopened_complete OR is_complete)
WHERE id {items}
"""

_JOB = "SELECT status, overlap FROM jobs_job WHERE id = %(job)s{lock}"


@dataclass(frozen=True)
class Reopened:
    items: int  # regular items that now want `more` judgments each
    judgments: int  # items × more: the judgments asked for
    completed_before: int  # of those items, how many were complete (they are open again)


def _rows(query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(query, params)
        return list(cursor.fetchall()) if cursor.description else []


def _in_list(ids: Sequence[int]) -> tuple[str, Any]:
    """SQL for "is in this id list" and its parameter, without one placeholder per id."""
    if transaction.get_connection().vendor == "postgresql":
        return "= ANY(%(ids)s)", list(ids)
    return "IN (SELECT value FROM json_each(%(ids)s))", json.dumps(list(ids))


def more_judgments_check(*, more: int) -> None:
    if type(more) is not int or not 1 <= more <= MORE_MAX:
        raise ApplicationError(f"more: a whole number of judgments from 1 to {MORE_MAX}.", details={"parameter": "more"})


@transaction.atomic
def items_reopen(*, job_id: int, item_ids: Sequence[int], more: int) -> Reopened:
    """Reopen the job's regular items among `item_ids` for `more` judgments each (gold items and
    ids of other jobs are passed over). Conflict unless the job is open or paused; ApplicationError
    when an item would want more than JUDGMENTS_MAX. See the module docstring for the locks."""
    more_judgments_check(more=more)
    postgres = transaction.get_connection().vendor == "postgresql"
    in_items, ids = _in_list(sorted(set(item_ids)))
    params: dict[str, Any] = {"job": job_id, "ids": ids, "more": more, "false": False}
    rows = _rows(_ITEMS.format(items=in_items, lock="\nFOR UPDATE" if postgres else ""), params)
    sql.run("tally_add", job=job_id, shard=JobTally.ADJUSTMENTS, judgments=0, gold_judgments=0, completed=0)
    job = _rows(_JOB.format(lock="\nFOR KEY SHARE" if postgres else ""), params)
    if not job or job[0][0] not in _REOPENABLE:
        raise Conflict("Only an open or paused job takes more judgments; this one is over or not published.")
    overlap = int(job[0][1])
    params["overlap"] = overlap
    for _, count, extra, _complete in rows:
        if max(count, overlap + extra) + more > JUDGMENTS_MAX:
            raise ApplicationError(
                f"An item may want at most {JUDGMENTS_MAX} judgments; ask for fewer.",
                details={"parameter": "more"},
            )
    if not rows:
        return Reopened(items=0, judgments=0, completed_before=0)
    locked = [row[0] for row in rows]
    in_locked, params["ids"] = _in_list(locked)
    _rows(_REOPEN.format(items=in_locked), params)
    completed = sum(1 for row in rows if row[3])
    if completed:
        sql.run(
            "tally_add", job=job_id, shard=JobTally.ADJUSTMENTS, judgments=0, gold_judgments=0,
            completed=-completed,
        )
    return Reopened(items=len(rows), judgments=len(rows) * more, completed_before=completed)
