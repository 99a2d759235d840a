"""The worker's per-job quality stats row (quality_workerjobstats), counted by each submit: one
upsert that reads back the new totals and, on PostgreSQL, the fast rule's latest answer times in
the same round trip (quality/services.judgment_assess is the caller)."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from marketplace.labeling.models import Judgment
from marketplace.quality import scoring

# One statement: count the judgment and read back the new totals. The row is only ever written
# by this worker's submits in this job, which already queue on the job's row lock.
_STATS_UPSERT = """
INSERT INTO quality_workerjobstats
    (job_id, worker_id, gold_seen, gold_correct, judgments, gold_labels_seen, gold_labels_right,
     gold_pos_seen, gold_pos_right, updated_at)
VALUES (%(job)s, %(worker)s, %(gold_seen)s, %(gold_correct)s, %(judgments)s, %(labels_seen)s,
        %(labels_right)s, %(pos_seen)s, %(pos_right)s, %(now)s)
ON CONFLICT (job_id, worker_id) DO UPDATE SET
    gold_seen = quality_workerjobstats.gold_seen + excluded.gold_seen,
    gold_correct = quality_workerjobstats.gold_correct + excluded.gold_correct,
    judgments = quality_workerjobstats.judgments + excluded.judgments,
    gold_labels_seen = quality_workerjobstats.gold_labels_seen + excluded.gold_labels_seen,
    gold_labels_right = quality_workerjobstats.gold_labels_right + excluded.gold_labels_right,
    gold_pos_seen = quality_workerjobstats.gold_pos_seen + excluded.gold_pos_seen,
    gold_pos_right = quality_workerjobstats.gold_pos_right + excluded.gold_pos_right,
    updated_at = excluded.updated_at
RETURNING id, gold_seen, gold_correct, judgments, flagged_fast_at, gold_labels_seen, gold_labels_right,
    gold_pos_seen, gold_pos_right"""

# PostgreSQL: the upsert, then the fast rule's read of the worker's latest `fast_window` answer
# times (fast_rule._recent's rows, times only), in one round trip: only when the rule will ask
# (not flagged yet, a full window; a window of 0: not asked). The ARRAY subquery is an init plan,
# run only if its CASE branch is taken. It sees our judgment (an earlier statement of ours).
_STATS_UPSERT_RECENT = f"""
WITH stats AS ({_STATS_UPSERT})
SELECT stats.*, CASE WHEN %(fast_window)s > 0 AND stats.flagged_fast_at IS NULL
    AND stats.gold_seen + stats.judgments >= %(fast_window)s
THEN ARRAY(
    SELECT seconds_spent FROM labeling_judgment
    WHERE job_id = %(job)s AND worker_id = %(worker)s AND NOT (status = 'withdrawn')
    ORDER BY id DESC LIMIT %(fast_window)s
) END
FROM stats
"""


def stats_count(
    *, judgment: Judgment, gold_seen: int, gold_correct: int, judgments: int, decided: scoring.LabelDecisions | None,
    fast_window: int = 0,
) -> tuple[int, int, int, int, Any, int, int, int, int, list[Any] | None]:
    """The worker's new totals, and on PostgreSQL their latest answer times when the fast rule
    will ask (None: not read, SQLite or the rule not asking)."""
    params = {
        "job": judgment.job_id, "worker": judgment.worker_id, "gold_seen": gold_seen,
        "gold_correct": gold_correct, "judgments": judgments,
        "labels_seen": decided.seen if decided else 0, "labels_right": decided.right if decided else 0,
        "pos_seen": decided.positives if decided else 0, "pos_right": decided.positives_right if decided else 0,
        "now": connection.ops.adapt_unknown_value(timezone.now()), "fast_window": fast_window,
    }
    db = transaction.get_connection()
    with db.cursor() as cursor:
        cursor.execute(_STATS_UPSERT_RECENT if db.vendor == "postgresql" else _STATS_UPSERT, params)
        row = cursor.fetchone()
    return (int(row[0]), int(row[1]), int(row[2]), int(row[3]), row[4], int(row[5]), int(row[6]),
            int(row[7]), int(row[8]), row[9] if len(row) > 9 else None)
