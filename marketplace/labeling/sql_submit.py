"""The submit's SQL (see labeling/sql.py for the claim's statements and the rules both keep).

A submit marks its lease submitted, counts the judgment on its item, inserts the judgment and adds
to the worker's tally, then reads the job's status; on PostgreSQL those run as two or three
data-modifying statements in the lock order (lease, item, tally, job).
"""

from __future__ import annotations

# Compare-and-set: only an active lease of this worker becomes submitted. The UPDATE also takes
# the lease's row lock, so a retry of the same submit waits here and then matches nothing.
# It returns what the rest of the submit needs from the job and the item.
_LEASE_SUBMIT = """
UPDATE labeling_lease SET status = 'submitted', finished_at = %(now)s
WHERE id = %(lease)s AND worker_id = %(worker)s AND status = 'active'
RETURNING id, job_id, item_id, worker_id, status, created_at, expires_at, finished_at,
    instructions_version,
    (SELECT j.status FROM jobs_job j WHERE j.id = labeling_lease.job_id) AS job_status,
    (SELECT j.labels FROM jobs_job j WHERE j.id = labeling_lease.job_id) AS job_labels,
    (SELECT j.multi_label FROM jobs_job j WHERE j.id = labeling_lease.job_id) AS job_multi_label,
    (SELECT j.overlap FROM jobs_job j WHERE j.id = labeling_lease.job_id) AS job_overlap,
    (SELECT j.max_overlap FROM jobs_job j WHERE j.id = labeling_lease.job_id) AS job_max_overlap,
    (SELECT i.is_gold FROM jobs_item i WHERE i.id = labeling_lease.item_id) AS item_is_gold,
    EXISTS (
        SELECT 1 FROM labeling_jobblock b
        WHERE b.job_id = labeling_lease.job_id AND b.worker_id = labeling_lease.worker_id
    ) AS blocked
"""

# PostgreSQL: _LEASE_SUBMIT, then _ITEM_COUNT on its (regular) item, in one round trip and in
# the lock order: the item's UPDATE joins the lease's row, so it runs after the lease is locked.
# The item columns are null for gold, or a complete item (its slots are all used). Counting
# before the submit's checks is safe: any refusal rolls the count back with the lease.
_LEASE_SUBMIT_COUNT = f"""
WITH lease AS ({_LEASE_SUBMIT}), counted AS (
    UPDATE jobs_item
    SET judgment_count = jobs_item.judgment_count + 1,
        is_complete = (jobs_item.judgment_count + 1 >= lease.job_overlap + jobs_item.extra_judgments)
    FROM lease
    WHERE jobs_item.id = lease.item_id AND NOT lease.item_is_gold AND NOT jobs_item.is_complete
    RETURNING jobs_item.judgment_count, jobs_item.is_complete, jobs_item.extra_judgments
)
SELECT lease.*, counted.judgment_count AS item_judgments, counted.is_complete AS item_complete,
    counted.extra_judgments AS item_extra
FROM lease LEFT JOIN counted ON true
"""

_LEASE_FINISH = """
UPDATE labeling_lease SET status = %(status)s, finished_at = %(now)s WHERE id = %(lease)s
"""

# Count the judgment on the item; the UPDATE takes the item's row lock. A complete item matches
# nothing: its slots are all used.
_ITEM_COUNT = """
UPDATE jobs_item
SET judgment_count = judgment_count + 1,
    is_complete = (judgment_count + 1 >= %(overlap)s + extra_judgments)
WHERE id = %(item)s AND NOT is_complete
RETURNING judgment_count, is_complete, extra_judgments
"""

# Dynamic overlap: the item reached its judgments but is still uncertain; ask for one more
# instead of completing it (caller holds the row lock through _ITEM_COUNT). The new slot is
# free at once: the claim's first walks may offer the item again (labeling/sql.py, full_until).
_ITEM_WANT_MORE = """
UPDATE jobs_item SET is_complete = false, extra_judgments = extra_judgments + 1, full_until = NULL
WHERE id = %(item)s
"""

# Undo _ITEM_COUNT when a late submit finds its slot taken (caller still holds the row lock);
# the slot is free again, so the item is no longer marked full.
_ITEM_UNCOUNT = """
UPDATE jobs_item SET judgment_count = judgment_count - 1, is_complete = false, full_until = NULL
WHERE id = %(item)s
"""

_JUDGMENT = """
INSERT INTO labeling_judgment
    (job_id, item_id, worker_id, lease_id, label, is_gold, is_correct, status, seconds_spent, created_at,
     instructions_version)
VALUES
    (%(job)s, %(item)s, %(worker)s, %(lease)s, %(label)s, %(is_gold)s, %(is_correct)s, 'accepted',
     %(seconds)s, %(now)s, %(version)s)
RETURNING id
"""

# The worker's share of the job's counters (jobs.models.JobTally), added by upsert: the row is
# locked only by this worker's own submits, so submits of different workers never queue on a
# counter. (The sums are read apart, by _JOB_STATUS.)
_TALLY_ADD = """
INSERT INTO jobs_jobtally (job_id, shard, judgments, gold_judgments, completed_items)
VALUES (%(job)s, %(shard)s, %(judgments)s, %(gold_judgments)s, %(completed)s)
ON CONFLICT (job_id, shard) DO UPDATE SET
    judgments = jobs_jobtally.judgments + EXCLUDED.judgments,
    gold_judgments = jobs_jobtally.gold_judgments + EXCLUDED.gold_judgments,
    completed_items = jobs_jobtally.completed_items + EXCLUDED.completed_items
"""

# The job's status and size, read under a KEY SHARE lock: those never conflict with each other
# nor with plain UPDATEs of the job, only with SELECT ... FOR UPDATE, which every status move
# takes (jobs.services.job_transition). So a cancel waits for the submits in flight, and a
# submit that comes after it reads the new status (a row lock that waited returns the row's
# newest version). Beside them, the items completed and the judgments (gold included) so far:
# every committed tally plus ours (not the in-flight ones of others); the consensus trigger
# reads the latter. (SQLite: its writers are serialized already.)
_JOB_STATUS = """
SELECT j.status, j.item_count, sums.done, sums.seen FROM jobs_job j, (
    SELECT COALESCE(SUM(completed_items), 0) AS done,
           COALESCE(SUM(judgments + gold_judgments), 0) AS seen
    FROM jobs_jobtally WHERE job_id = %(job)s
) AS sums WHERE j.id = %(job)s
"""

# PostgreSQL: _TALLY_ADD and _JOB_STATUS in one round trip, in the lock order (tally, then job):
# the job is read in a LATERAL subquery of the upsert's row, so it runs after the upsert. The
# sum cannot see the upsert (one statement, one snapshot), so ours is added to it; a sum older
# than a lock wait may miss a submit committed meanwhile, which only leaves the job to the
# re-check after commit (Submission.job_may_be_complete), never completes it early.
_JOB_AFTER_TALLY = """
SELECT {judgment}job.status, job.item_count, sums.done + %(completed)s,
    sums.seen + %(judgments)s + %(gold_judgments)s, tally.own
FROM {judgment_from}tally, LATERAL (
    SELECT status, item_count FROM jobs_job WHERE id = tally.job_id FOR KEY SHARE
) AS job, (
    SELECT COALESCE(SUM(completed_items), 0) AS done,
           COALESCE(SUM(judgments + gold_judgments), 0) AS seen
    FROM jobs_jobtally WHERE job_id = %(job)s
) AS sums
"""
# `own`: the worker's own judgments in the job, ours included (the upsert's row), so the judgments
# of everyone else as we see them are the sum less it (the fast rule's peers, quality/fast_rule.py).
_TALLY_RETURNING = "RETURNING job_id, judgments + gold_judgments AS own"
_TALLY_ADD_JOB_STATUS = f"""
WITH tally AS ({_TALLY_ADD}{_TALLY_RETURNING})
{_JOB_AFTER_TALLY.format(judgment="", judgment_from="")}"""

# PostgreSQL: _JUDGMENT, then _TALLY_ADD_JOB_STATUS, in one round trip; the judgment's id comes
# first. Inserting the judgment locks no row another submit wants (its foreign keys are checked
# at commit), so its place in the statement does not touch the lock order.
_JUDGMENT_TALLY_JOB_STATUS = f"""
WITH judgment AS ({_JUDGMENT}), tally AS ({_TALLY_ADD}{_TALLY_RETURNING})
{_JOB_AFTER_TALLY.format(judgment="judgment.id, ", judgment_from="judgment, ")}"""


# After commit, in autocommit (no transaction): does the job look done? Open, with items, and
# its committed tallies count every item complete. The completion check does nothing otherwise,
# so it runs only when this says yes; it then locks and counts again.
_JOB_LOOKS_DONE = """
SELECT 1 FROM jobs_job j
WHERE j.id = %(job)s AND j.status = 'open' AND j.item_count > 0 AND j.item_count <= (
    SELECT COALESCE(SUM(completed_items), 0) FROM jobs_jobtally WHERE job_id = %(job)s
)
"""


def submit_statements(*, postgres: bool) -> dict[str, tuple[str, ...]]:
    """The named submit statements for labeling/sql.py's table (SQLite may need two, or lack one)."""
    return {
        "lease_submit": (_LEASE_SUBMIT,),
        "lease_submit_count": (_LEASE_SUBMIT_COUNT,) if postgres else (),
        "lease_finish": (_LEASE_FINISH,),
        "item_count": (_ITEM_COUNT,),
        "item_uncount": (_ITEM_UNCOUNT,),
        "item_want_more": (_ITEM_WANT_MORE,),
        "judgment": (_JUDGMENT,),
        "tally_add": (_TALLY_ADD,),
        # Add to the worker's tally, then the job's status, size and completed items (see above).
        "job_looks_done": (_JOB_LOOKS_DONE,),
        "tally_add_job_status": (
            (_TALLY_ADD_JOB_STATUS,) if postgres else (_TALLY_ADD, _JOB_STATUS)
        ),
        # The judgment, then the above (PostgreSQL only: SQLite cannot insert in a CTE).
        "judgment_tally_job_status": (_JUDGMENT_TALLY_JOB_STATUS,) if postgres else (),
    }
