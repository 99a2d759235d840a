"""The take-back's SQL: a lease a closed page returned goes back to its worker (labeling/returning.py).

"Returned -> active if the slot is free and the lease's time lasts" is one compare-and-set,
built from the slot rule the claim's insert checks (sql.py: `_SLOT_FREE` on `_LIVE_LEASES`), so
a take-back and a fresh lease can never disagree on whether an item has room. Like the claim's
insert it marks the item full (`full_until`) when it takes the last slot, so the claim's first
walks no longer probe it. It also refuses what job_for_claim refused a moment earlier (the job no
longer open, the worker blocked), read again in the statement that writes.

Locks, as for every lease on a regular item: the item's row first ("item_lock", a statement of its
own, so the compare-and-set's new snapshot sees every lease committed before we held the lock);
gold takes no lock and no slot (its share is the caller's check, gates.gold_share_left). The lock
skips a row another transaction holds, as the claim's candidate walk does: a take-back inside a
submit (lease_claim_last) already holds the submitted item's lock, and waiting here could deadlock
with another worker's submit crossing the other way. A skipped take-back leaves the lease returned,
for the worker's next claim to take back.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from django.db import transaction

from marketplace.labeling.sql import _LIVE_LEASES, _MARK_FULL, _SLOT_FREE

# The returned lease, still lasting, on an item still open with a free slot (gold: no slot), in a
# job still open to the worker. `i` is the lease's item, as _SLOT_FREE reads it.
_MAY_TAKE_BACK = f"""l.id = %(lease)s AND l.status = 'returned' AND l.expires_at > %(now)s
      AND i.id = l.item_id AND NOT i.is_complete AND (i.is_gold OR {_SLOT_FREE})
      AND EXISTS (SELECT 1 FROM jobs_job j WHERE j.id = l.job_id AND j.status = 'open')
      AND NOT EXISTS (
          SELECT 1 FROM labeling_jobblock b WHERE b.job_id = l.job_id AND b.worker_id = l.worker_id
      )"""

_ITEM_LOCK = "SELECT id FROM jobs_item WHERE id = %(item)s AND NOT is_gold FOR UPDATE SKIP LOCKED"

# PostgreSQL: the compare-and-set and, when it took the item's last slot, `full_until` (as
# sql._LEASE_IF_FREE_PG marks it: `live`, read in the statement's snapshot, lacks the lease taken
# back, hence + 1; we hold the item's lock, so the count is exact).
_TAKE_BACK_PG = f"""
WITH taken AS (
    UPDATE labeling_lease l SET status = 'active', finished_at = NULL, page = %(page)s
    FROM jobs_item i
    WHERE {_MAY_TAKE_BACK}
    RETURNING l.id, l.item_id, l.expires_at
),
live AS (
    SELECT COUNT(*) AS n, MIN(s.expires_at) AS first_end {_LIVE_LEASES.format(item="%(item)s")}
),
marked AS (
    UPDATE jobs_item SET full_until = LEAST(taken.expires_at, live.first_end)
    FROM taken, live
    WHERE jobs_item.id = taken.item_id AND NOT jobs_item.is_gold
      AND jobs_item.judgment_count + live.n + 1 >= %(overlap)s + jobs_item.extra_judgments
)
SELECT id FROM taken
"""

# SQLite (one writer at a time, no data-modifying CTE): the compare-and-set, then the claim's own
# full mark, which counts the lease taken back as live now.
_TAKE_BACK_SQLITE = f"""
UPDATE labeling_lease AS l SET status = 'active', finished_at = NULL, page = %(page)s
WHERE EXISTS (SELECT 1 FROM jobs_item i WHERE {_MAY_TAKE_BACK})
RETURNING id
"""
_MARK_FULL_REGULAR = _MARK_FULL.rstrip() + " AND NOT is_gold\n"


@cache
def _statements(vendor: str) -> tuple[str, ...]:
    if vendor == "postgresql":
        return (_ITEM_LOCK, _TAKE_BACK_PG)
    return (_TAKE_BACK_SQLITE, _MARK_FULL_REGULAR)


def lease_take_back(
    *, lease_id: int, item_id: int, gold: bool, now: datetime, page: str | None, overlap: int
) -> bool:
    """Run the take-back of one returned lease (see the module); True when it is active again,
    False also when another transaction holds its (regular) item's row. Caller holds the claim's
    transaction."""
    connection = transaction.get_connection()
    params = {"lease": lease_id, "item": item_id, "now": now, "page": page, "overlap": overlap}
    if connection.vendor != "postgresql":
        params = {name: connection.ops.adapt_unknown_value(value) for name, value in params.items()}
    taken = False
    with connection.cursor() as cursor:
        for sql in _statements(connection.vendor):
            cursor.execute(sql, params)
            if sql is _ITEM_LOCK and not gold and cursor.fetchone() is None:
                return False  # held by another transaction this moment: left returned (module)
            if sql is _TAKE_BACK_PG or sql is _TAKE_BACK_SQLITE:
                taken = cursor.fetchone() is not None
    return taken
