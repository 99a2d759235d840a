"""The claim's gold-serving SQL (see labeling/sql.py for the rest of the hot path and its rules).

A gold item goes out without a lock and outside the overlap count; what keeps gold within the
job's share is the advisory lock and the count below, read under it (gates.gold_share_left).
"""

from __future__ import annotations

# A gold item the worker never met (no lock, no overlap): the first one at or after a random
# point of the job's gold id range, else the first before it. Two walks of item_job_gold, no
# sort; `fraction` is a random number in [0, 1) drawn by the caller. A gold item whose answer an
# upheld appeal retired (quality/appeals.py deletes it) is never served again.
_GOLD_WALK = """
    SELECT {{{{item_columns}}}} FROM jobs_item i
    WHERE i.job_id = %(job)s AND i.is_gold AND i.id {{op}} (SELECT id FROM pivot) AND {never_met}
      AND EXISTS (SELECT 1 FROM jobs_goldanswer g WHERE g.item_id = i.id)
    ORDER BY i.id LIMIT 1"""
_GOLD = """
WITH pivot AS (
    SELECT CAST(lo.id + %(fraction)s * (hi.id - lo.id) AS BIGINT) AS id
    FROM (SELECT id FROM jobs_item WHERE job_id = %(job)s AND is_gold ORDER BY id LIMIT 1) AS lo,
         (SELECT id FROM jobs_item WHERE job_id = %(job)s AND is_gold ORDER BY id DESC LIMIT 1) AS hi
)
SELECT * FROM ({from_pivot}
) AS from_pivot
UNION ALL
SELECT * FROM ({before_pivot}
) AS before_pivot
LIMIT 1
"""

# PostgreSQL: serialize gold hand-outs within one job (and nothing else) until the claim commits,
# so two claims cannot both take the last gold slot the job's share allows. A transaction-level
# advisory lock on (namespace, job id); taken last in a claim, after the candidate item's lock.
_GOLD_SERVE_LOCK = "SELECT pg_advisory_xact_lock(7071, %(job)s)"

# Gold handed out so far (accepted gold judgments plus active gold leases, expired ones too: a
# gold lease can still be submitted late) beside the regular judgments accepted, read fresh.
_GOLD_SERVED = """
SELECT COALESCE(SUM(t.gold_judgments), 0) + (
    SELECT COUNT(*) FROM labeling_lease l JOIN jobs_item i ON i.id = l.item_id
    WHERE l.job_id = %(job)s AND l.status = 'active' AND i.is_gold
), COALESCE(SUM(t.judgments), 0)
FROM jobs_jobtally t WHERE t.job_id = %(job)s
"""


def gold_statements(*, postgres: bool, item_columns: str, never_met: str) -> dict[str, tuple[str, ...]]:
    """The named gold statements for labeling/sql.py's table; `never_met` is its fragment (the
    worker has neither judged nor leased item `i`), passed in so this module imports nothing of it."""
    walk = _GOLD_WALK.format(never_met=never_met)
    gold = _GOLD.format(from_pivot=walk.format(op=">="), before_pivot=walk.format(op="<"))
    return {
        "gold": (gold.format(item_columns=item_columns),),
        "gold_serve_lock": (_GOLD_SERVE_LOCK,) if postgres else (),
        "gold_served": (_GOLD_SERVED,),
    }
