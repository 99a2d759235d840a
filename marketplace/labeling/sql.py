"""The assignment hot path's SQL, written out once so every reader sees what the database runs.

Next-item and submit run thousands of times a minute. Built through the ORM, these statements
cost more CPU to compile than to execute (about 7 ms of Python per next+submit cycle), so they
are plain parameterized SQL. PostgreSQL and SQLite share them except where noted: row-lock
clauses exist only on PostgreSQL (SQLite's `BEGIN IMMEDIATE` already serializes writers), and
SQLite runs as two statements what PostgreSQL does in one data-modifying CTE.

"Live" always means status = 'active' AND expires_at > %(now)s; nothing else holds a slot (a
'returned' lease neither: its worker takes it back only where a slot is free, returning.py).
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from django.db import connections, models, transaction
from django.db.models import DEFERRED

from marketplace.jobs.models import Item, Job
from marketplace.labeling.sql_gold import gold_statements
from marketplace.labeling.sql_submit import submit_statements

M = TypeVar("M", bound=models.Model)

# How often the worker has met an item: judgments plus leases of any status (0 = never). Scalar
# counts, not NOT EXISTS: PostgreSQL may turn NOT EXISTS into an anti-join that hashes every
# judgment the worker ever made; a scalar subquery stays one index probe per candidate row.
_NEVER_MET = """(
    (SELECT COUNT(*) FROM labeling_judgment m WHERE m.item_id = i.id AND m.worker_id = %(worker)s)
  + (SELECT COUNT(*) FROM labeling_lease m WHERE m.item_id = i.id AND m.worker_id = %(worker)s)
) = 0"""

# An item's live leases, as `s`; {item} is the item's id in the statement around it. Every count
# of an item's held slots reads these rows (the slot check, SQLite's full mark, PostgreSQL's
# `live`), so written once they cannot drift apart.
_LIVE_LEASES = """FROM labeling_lease s
    WHERE s.item_id = {item} AND s.status = 'active' AND s.expires_at > %(now)s"""

# Accepted judgments plus live leases leave room for one more.
_SLOT_FREE = f"""i.judgment_count + (
    SELECT COUNT(*) {_LIVE_LEASES.format(item="i.id")}
) < %(overlap)s + i.extra_judgments"""

# The job, every refusal reason, the worker's live lease in it and a lease their page returned
# that still lasts (labeling/returning.py: taken back before any new item), in one statement.
_JOB_FOR_CLAIM = """
SELECT {job_columns},
    EXISTS (SELECT 1 FROM labeling_jobblock b WHERE b.job_id = j.id AND b.worker_id = %(worker)s)
        AS blocked,
    EXISTS (
        SELECT 1 FROM jobs_jobqualification r
        WHERE r.job_id = j.id AND NOT EXISTS (
            SELECT 1 FROM accounts_workerqualification q
            WHERE q.worker_id = %(worker)s AND q.qualification_id = r.qualification_id
              AND q.score >= r.min_score
        )
    ) AS unqualified,
    (SELECT l.id FROM labeling_lease l
     WHERE l.job_id = j.id AND l.worker_id = %(worker)s AND l.status = 'active'
       AND l.expires_at > %(now)s
     ORDER BY l.expires_at DESC LIMIT 1) AS own_lease_id,
    (SELECT l.id FROM labeling_lease l
     WHERE l.job_id = j.id AND l.worker_id = %(worker)s AND l.status = 'returned'
       AND l.expires_at > %(now)s
     ORDER BY l.expires_at DESC LIMIT 1) AS returned_lease_id{walk}
FROM jobs_job j
WHERE j.id = %(job)s AND j.status <> 'draft'
"""

# PostgreSQL: set_config(..., true) is SET LOCAL, folded in to save a round trip. For the rest of
# the claim's transaction the planner may not sort, so the candidate query can only walk
# item_serving_order, even while the statistics do not know a freshly imported job yet (it then
# guesses a handful of rows and sorts them all: 0.5 s for 20k items instead of 0.2 ms). JIT goes
# off too: a forbidden sort's huge cost would otherwise make any sorting query compile (90 ms).
# Prepared statements (settings_db.py) run their generic plan at once: with `auto`, a connection
# whose first claims met fresh jobs may find custom plans cheaper and plan every claim again
# (0.9 ms for the candidate). The generic plan walks the index unsorted (test_query_plan.py).
_WALK_INDEX = """,
    set_config('enable_sort', 'off', true) AS _no_sort,
    set_config('jit', 'off', true) AS _no_jit,
    set_config('plan_cache_mode', 'force_generic_plan', true) AS _generic"""

# Undo _WALK_INDEX when the claim ran inside a caller's transaction, which goes on after us.
_PLANNER_RESET = """
SELECT set_config(name, reset_val, true) FROM pg_settings
WHERE name IN ('enable_sort', 'jit', 'plan_cache_mode')
"""

# Started items come first (finishing them beats starting more), but the ones this worker judged
# stay started until others judge them too, and a single walk stepped over every one of them
# (43.7 ms of PostgreSQL per judgment for a lone worker). So the candidate is four walks: the
# first STARTED_WINDOW started items a slot may be free on (`full_until` null: the small index
# item_serving_open), those whose `full_until` has passed (a lease may have run out unanswered:
# item_lapsing, in the order they lapsed, usually none), the fresh items,
# then every started one (the old walk, exact, run only once nothing fresh is left: nothing
# eligible is ever refused). Without `full_until` a crowd's window filled with items whose three
# leases went out together and wait for their answers: at 200 workers every claim probed 64 full
# items (4 index probes each) and then started a fresh item anyway, 1,399 blocks a claim against
# 55 at 8. With it, but one walk of item_serving_order, a claim read every full item's row to
# turn it away: 485 of them, 246 blocks a claim at 1,000 thinking workers.
# UNION ALL runs its branches in turn and LIMIT 1 stops at the first row; each branch locks its
# own pick (SKIP LOCKED passes over rows held by others and walks on); each WHERE repeats the
# index predicate for the planner.
STARTED_WINDOW = 64
_FITS = f"{_SLOT_FREE}\n      AND {_NEVER_MET}"
_WALK = """
    SELECT {{item_columns}} FROM jobs_item i
    WHERE i.job_id = %(job)s AND NOT i.is_complete AND NOT i.is_gold AND {started}
      AND {fits}
    ORDER BY i.priority DESC, i.id LIMIT 1{{lock}}"""
_WINDOW = f"""
    SELECT {{{{item_columns}}}} FROM (
        SELECT id, {{key}} FROM jobs_item
        WHERE job_id = %(job)s AND NOT is_complete AND NOT is_gold AND started AND {{full}}
        ORDER BY {{key}}{{desc}}, id LIMIT {STARTED_WINDOW}
    ) AS w JOIN jobs_item i ON i.id = w.id
    WHERE NOT i.is_complete AND {_FITS}
    ORDER BY w.{{key}}{{desc}}, w.id LIMIT 1{{{{lock}}}}"""
_CANDIDATE = f"""
SELECT * FROM ({_WINDOW.format(key="priority", desc=" DESC", full="full_until IS NULL")}
) AS started_window
UNION ALL
SELECT * FROM ({_WINDOW.format(key="full_until", desc="", full="full_until <= %(now)s")}
) AS started_lapsed
UNION ALL
SELECT * FROM ({_WALK.format(started="NOT i.started", fits=_FITS)}
) AS fresh
UNION ALL
SELECT * FROM ({_WALK.format(started="i.started", fits=_FITS)}
) AS started_rest
LIMIT 1
"""

# PostgreSQL, run only when the candidate found nothing: is an item left for the worker that the
# candidate passed over because another transaction holds its row locked (SKIP LOCKED)? Usually a
# submit counting a judgment there, which commits within moments and leaves the slot free for this
# worker (a lease becomes a judgment: the item's slot count does not move). Read without locks, so
# it waits for no one and two submits never wait on each other: the claim then answers `busy` (ask
# again), and no_work only when nothing is left, locked or not.
_CANDIDATE_HELD = f"""
SELECT 1 FROM jobs_item i
WHERE i.job_id = %(job)s AND NOT i.is_complete AND NOT i.is_gold AND {_FITS}
LIMIT 1
"""

# Create the lease only if the item still fits. On PostgreSQL this new statement has a new
# snapshot, taken while we hold the item lock, so it sees leases committed after the candidate
# scan began (which the scan could not see).
_INSERT_IF_FREE = f"""
INSERT INTO labeling_lease
    (job_id, item_id, worker_id, status, created_at, expires_at, instructions_version, page)
SELECT i.job_id, i.id, %(worker)s, 'active', %(now)s, %(expires)s,
    (SELECT j.instructions_version FROM jobs_job j WHERE j.id = i.job_id), %(page)s FROM jobs_item i
WHERE i.id = %(item)s AND NOT i.is_complete
  AND {_SLOT_FREE}
  AND {_NEVER_MET}
"""

_MARK_STARTED = "UPDATE jobs_item SET started = true WHERE id = %(item)s AND NOT started"

# SQLite, after the INSERT (which it counts now: one writer, one connection): the item is full
# until its first live lease ends, as _LEASE_IF_FREE_PG marks it, so both databases serve alike
# (the claim's windows order started items by it).
_MARK_FULL = f"""
UPDATE jobs_item SET full_until = (
    SELECT MIN(s.expires_at) {_LIVE_LEASES.format(item="jobs_item.id")})
WHERE id = %(item)s AND judgment_count + (
    SELECT COUNT(*) {_LIVE_LEASES.format(item="jobs_item.id")}
) >= %(overlap)s + extra_judgments
"""

# PostgreSQL: lease, "started" (which moves the item to the front of the queue) and, when this
# lease takes the last slot, `full_until` in one statement; the UPDATE runs only when the INSERT
# produced a lease, and writes the row only when one of them changes. `live` is read in the
# statement's snapshot, without the lease the INSERT adds (+ 1), by the item's id (joined to the
# `lease` CTE instead, the generic plan planned before labeling_lease had statistics read 474
# blocks a claim at 200 workers, not 40); every lease of the item is made
# under its row lock, which we hold, so the count is exact. The slots stay held at least until
# the first of these leases ends: an answer turns a lease into a judgment, which holds it too.
_LEASE_IF_FREE_PG = f"""
WITH lease AS ({_INSERT_IF_FREE}RETURNING id, item_id, expires_at),
live AS (
    SELECT COUNT(*) AS n, MIN(s.expires_at) AS first_end {_LIVE_LEASES.format(item="%(item)s")}
),
marked AS (
    UPDATE jobs_item SET started = true,
        full_until = CASE WHEN jobs_item.judgment_count + live.n + 1
                               >= %(overlap)s + jobs_item.extra_judgments
                          THEN LEAST(lease.expires_at, live.first_end) END
    FROM lease, live
    WHERE jobs_item.id = lease.item_id AND (NOT jobs_item.started
        OR jobs_item.judgment_count + live.n + 1 >= %(overlap)s + jobs_item.extra_judgments)
)
SELECT id FROM lease
"""

_LEASE = """
INSERT INTO labeling_lease
    (job_id, item_id, worker_id, status, created_at, expires_at, instructions_version, page)
VALUES (%(job)s, %(item)s, %(worker)s, 'active', %(now)s, %(expires)s,
    (SELECT instructions_version FROM jobs_job WHERE id = %(job)s), %(page)s)
RETURNING id
"""


def _columns_of(model: type[models.Model], alias: str) -> str:
    """The model's columns, named one by one: never `alias.*`. A prepared statement (settings:
    QUORUM_DB_PREPARE) fixes its result's columns; once a migration adds a column to the table a
    `*` would change them, and PostgreSQL refuses ("cached plan must not change result type")
    until the connection is gone. Named columns are re-planned quietly instead."""
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


@cache
def _for(vendor: str) -> dict[str, tuple[str, ...]]:
    postgres = vendor == "postgresql"
    items = _columns_of(Item, "i")
    return {
        "job_for_claim": (
            _JOB_FOR_CLAIM.format(job_columns=_columns_of(Job, "j"), walk=_WALK_INDEX if postgres else ""),
        ),
        # SKIP LOCKED: pass over rows other claims or submits hold instead of queueing behind them.
        "candidate": (
            _CANDIDATE.format(item_columns=items, lock="\nFOR UPDATE OF i SKIP LOCKED" if postgres else ""),
        ),
        # SQLite's writers are serialized: nothing is ever held, so "candidate" is exact there.
        "candidate_held": (_CANDIDATE_HELD,) if postgres else (),
        # SQLite cannot modify in a CTE; it needs no re-check either (one writer at a time), so
        # marking the item started before inserting is safe there.
        "lease_if_free": (
            (_LEASE_IF_FREE_PG,) if postgres else (_MARK_STARTED, _INSERT_IF_FREE + "RETURNING id", _MARK_FULL)
        ),
        "lease": (_LEASE,),
        **gold_statements(postgres=postgres, item_columns=items, never_met=_NEVER_MET),
        "planner_reset": (_PLANNER_RESET,) if postgres else (),
        **submit_statements(postgres=postgres),
    }


def statements(name: str) -> tuple[str, ...]:
    """The SQL of a named statement for the database in use (SQLite may need two, or lack it)."""
    return _for(transaction.get_connection().vendor)[name]


def has(name: str) -> bool:
    """Whether the database in use runs this named statement (some are PostgreSQL's only)."""
    return bool(statements(name))


def _adapted(connection: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Parameters in the form the driver expects (SQLite wants datetimes as UTC text...). On
    PostgreSQL Django's adapt_unknown_value is the identity (psycopg adapts dates, times and
    decimals itself), so the per-value dispatch is skipped there: it ran on every statement of
    every submit and claim."""
    if connection.vendor == "postgresql":
        return values
    ops = connection.ops
    return {name: ops.adapt_unknown_value(value) for name, value in values.items()}


def run(name: str, **params: Any) -> tuple[Any, ...] | None:
    """Execute a named statement; the first row it returns (RETURNING ...) or None. Of SQLite's
    several statements for one name, the last that returns rows answers."""
    connection = transaction.get_connection()
    adapted = _adapted(connection, params)
    row = None
    with _cursor(connection) as cursor:
        for sql in _for(connection.vendor)[name]:
            cursor.execute(sql, adapted)
            if _result_names(sql, cursor):
                row = cursor.fetchone()
    return row


class _Kept:
    """The connection's kept driver cursor, run inside Django's database-error translation (an
    IntegrityError arrives as django.db's, as through Django's own cursor)."""

    __slots__ = ("connection", "cursor")

    def __init__(self, connection: Any, cursor: Any) -> None:
        self.connection, self.cursor = connection, cursor

    def __enter__(self) -> _Kept:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute(self, sql: str, params: dict[str, Any]) -> None:
        self.connection.validate_no_broken_transaction()
        with self.connection.wrap_database_errors:
            self.cursor.execute(sql, params)

    def fetchone(self) -> Any:
        with self.connection.wrap_database_errors:
            return self.cursor.fetchone()

    @property
    def description(self) -> Any:
        return self.cursor.description


def _cursor(connection: Any) -> Any:
    """A cursor for the hot path's statements. Django's `connection.cursor()` makes a driver
    cursor and a wrapper for every statement, checks the connection's health and thread, and
    looks up the execute wrappers: 0.2 ms of Python per cycle of five statements (cProfile of
    bench assignment's loop). Inside a transaction the connection is open and checked already,
    so one driver cursor per connection, made by Django (its time zone set up), serves them all.
    Django's own cursor still runs whenever anything watches statements (DEBUG, a test's
    CaptureQueriesContext, execute_wrappers), so what they count is what runs, and outside a
    transaction (it may have to connect)."""
    raw = connection.connection
    if (
        connection.vendor != "postgresql" or raw is None or not connection.in_atomic_block
        or connection.queries_logged or connection.execute_wrappers
    ):
        return connection.cursor()
    kept = connection.__dict__.get("_quorum_cursor")
    if kept is None or kept.cursor.connection is not raw or kept.cursor.closed:
        connection.validate_thread_sharing()
        with connection.wrap_database_errors:
            kept = _Kept(connection, connection.create_cursor())
        connection.__dict__["_quorum_cursor"] = kept
    return kept


# The result columns of each statement text, learned from its first execution. psycopg builds the
# cursor's `description` anew on every access, a Column object per column with its type looked
# up (about 0.3 ms per submit-and-claim, a tenth of the in-process cycle, in cProfile of bench
# assignment's loop); a statement's text fixes its columns (they are named, never `*`), so once
# per process is enough. () for a statement that returns no rows.
_NAMES: dict[str, tuple[str, ...]] = {}


def _result_names(sql: str, cursor: Any) -> tuple[str, ...]:
    names = _NAMES.get(sql)
    if names is None:
        description = cursor.description
        names = _NAMES[sql] = tuple(column[0] for column in description) if description else ()
    return names


def first(model: type[M], name: str, **params: Any) -> M | None:
    """The first row of a named one-statement query as a model instance; extra columns become
    attributes (raw JSON text, database booleans: callers convert what they read).

    Built from the cursor's row, as `raw()` would, but without `model.objects`: Job's manager
    annotates three tally sums on every queryset it makes, which costs more Python than the
    claim's statements take to run."""
    connection = transaction.get_connection()
    (sql,) = _for(connection.vendor)[name]
    with _cursor(connection) as cursor:
        cursor.execute(sql, _adapted(connection, params))
        row = cursor.fetchone()
        if row is None:
            return None
        names = _result_names(sql, cursor)
    fields, extras = _columns(model, names, connection.alias)
    values = []
    for position, converters in fields:  # in the model's field order, as from_db wants them
        value = DEFERRED if position is None else row[position]
        for converter, expression in converters:
            value = converter(value, expression, connection)
        values.append(value)
    instance = model.from_db(connection.alias, None, values)
    for attname, position in extras:
        setattr(instance, attname, row[position])
    return instance


@cache
def _columns(
    model: type[models.Model], names: tuple[str, ...], alias: str
) -> tuple[list[tuple[int | None, tuple[tuple[Any, Any], ...]]], list[tuple[str, int]]]:
    """Where each of the model's fields is in the row (None: not selected) with its converters
    from database values, and the extra columns by position."""
    connection = connections[alias]
    positions = {name: position for position, name in enumerate(names)}
    fields: list[tuple[int | None, tuple[tuple[Any, Any], ...]]] = []
    for field in model._meta.concrete_fields:
        position = positions.pop(field.column, None)
        column = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        fields.append((position, () if position is None else tuple((c, column) for c in converters)))
    return fields, sorted(positions.items(), key=lambda pair: pair[1])
