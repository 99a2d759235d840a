"""The data browser's reads: a job's items with their latest consensus result, a page at a time.

Keyset pagination, never OFFSET: a page starts after the cursor's (confidence, item id) or item
id, so page 20,000 of a million items costs what page 1 does. Every walk follows an index:
- by id, no result filter: `item_job_id` (job, id), the latest run's row probed per item;
- by confidence, or any filter on the result: the run's rows along `item_result_confidence`
  (run, confidence, item) or `item_result_label` (run, label, item), the item probed per row;
- external id prefix: `item_external_id_prefix` on PostgreSQL (jobs migration 0006).
- the compared model's prediction (quality/browse_model.py): probed per row through the
  (item, model) unique index; `model_agrees` filters those rows like `agreement_below` does.
Two filters no index serves scan instead: a search in item data (JSON text) and "judged or not"
(an index on judgment_count would slow every submit: it would stop PostgreSQL's in-place HOT
updates of the item row). They read SCAN_WINDOW items after the cursor at most, in id order, and
the page says how far it read, so a page stays fast and the next one continues the scan.

The SQL is assembled only from fixed fragments chosen by the typed filter (browse_params); every
value a user gave is a bound parameter. The same text runs on PostgreSQL and SQLite.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection

from marketplace.csvcells import csv_cell, number_cell
from marketplace.errors import ApplicationError
from marketplace.jobs.models import Job
from marketplace.labeling.models import JudgmentStatus
from marketplace.quality.browse_model import BrowsedModel, browse_model_choose
from marketplace.quality.browse_params import BrowseFilter, Cursor
from marketplace.quality.models import ConsensusRun

SCAN_WINDOW = 20_000  # items a page reads at most under a filter no index serves (text, judged)
PREVIEW_CHARS = 160

# {bound} repeats the cursor's id bound on the joined rows (result, review, prediction): r.item_id
# = i.id makes it redundant, but an outer join's inner side does not inherit i.id's bound, and
# without it PostgreSQL may merge-join from the run's first row (185 ms at the middle of a million
# items instead of 5; the prediction's join, without it, 300 ms).
_SELECT = """
SELECT i.id, i.external_id, i.data, i.is_gold, {judgments}, i.is_complete,
       i.extra_judgments, r.label, r.confidence, r.agreement, r.judgments, e.status, p.label
FROM jobs_item i
{join} quality_itemresult r ON r.item_id = i.id AND r.run_id = %(run)s{r_bound}
LEFT JOIN quality_expertreview e ON e.item_id = i.id{e_bound}
LEFT JOIN jobs_prediction p ON p.item_id = i.id AND p.model_id = %(model)s{p_bound}
WHERE i.job_id = %(job)s{where}
ORDER BY {order}
LIMIT %(limit)s
"""

# The judgments a row counts: Item.judgment_count counts those towards the overlap, which gold has
# none of (it is served at the gold rate), so a gold row said "0 wants 3" beside the answers its
# item page listed; it counts its accepted answers (judgment_item_worker, a probe per gold row).
_JUDGMENTS = ("CASE WHEN i.is_gold THEN (SELECT COUNT(*) FROM labeling_judgment g WHERE g.item_id = i.id"
              " AND g.status = %(accepted)s) ELSE i.judgment_count END")

_ORDER = {
    "id": "i.id",
    "-id": "i.id DESC",
    "confidence": "r.confidence, r.item_id",
    "-confidence": "r.confidence DESC, r.item_id DESC",
}

# After the cursor, as a row comparison the index can start from (both databases have them).
_AFTER = {
    "id": "i.id > %(after_id)s",
    "-id": "i.id < %(after_id)s",
    "confidence": "(r.confidence, r.item_id) > (%(after_conf)s, %(after_id)s)",
    "-confidence": "(r.confidence, r.item_id) < (%(after_conf)s, %(after_id)s)",
}
_BOUND = {"id": " AND {t}.item_id > %(after_id)s", "-id": " AND {t}.item_id < %(after_id)s"}

# The far end of the window a scanning filter reads: SCAN_WINDOW items on from the cursor.
_WINDOW_END = {
    "id": """SELECT w.id FROM jobs_item w WHERE w.job_id = %(job)s AND w.id > %(after_id)s
ORDER BY w.id LIMIT 1 OFFSET %(last)s""",
    "-id": """SELECT w.id FROM jobs_item w WHERE w.job_id = %(job)s AND w.id < %(after_id)s
ORDER BY w.id DESC LIMIT 1 OFFSET %(last)s""",
}
_WINDOW = {"id": "i.id <= %(window_end)s", "-id": "i.id >= %(window_end)s"}
_NO_CURSOR = {"id": 0, "-id": 2**63 - 1}


@dataclass(frozen=True)
class BrowseRow:
    id: int
    external_id: str | None
    data: dict[str, Any]
    is_gold: bool
    judgment_count: int  # accepted: towards the overlap, or a gold item's answers (_JUDGMENTS)
    is_complete: bool
    extra_judgments: int
    label: str | None
    confidence: float | None
    agreement: float | None
    result_judgments: int | None
    expert: str | None  # the review's status, None without one
    model_label: str | None = None  # the compared model version's prediction (browse_model)

    @property
    def model_agrees(self) -> bool | None:
        """The model's prediction is the consensus label; None unless both exist."""
        if self.model_label is None or self.label is None:
            return None
        return self.model_label == self.label

    @property
    def preview(self) -> str:
        text = json.dumps(self.data, ensure_ascii=False, separators=(", ", ": "))
        return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


@dataclass(frozen=True)
class BrowsePage:
    rows: list[BrowseRow]
    run: ConsensusRun | None  # the consensus run the labels come from (the latest succeeded)
    next_cursor: Cursor | None
    # A scanning filter (text, judged) read items up to this id; -1: to the job's end; None: no scan.
    searched_to: int | None = None
    model: BrowsedModel | None = None  # the model version compared with the consensus, if any


def latest_run(*, job: Job) -> ConsensusRun | None:
    """The job's latest succeeded consensus run (its labels are what the browser shows)."""
    return (
        ConsensusRun.objects.filter(job_id=job.pk, status=ConsensusRun.Status.SUCCEEDED)
        .order_by("-id").first()
    )


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where(f: BrowseFilter, cursor: Cursor | None, params: dict[str, Any]) -> list[str]:
    """The WHERE fragments for this filter; values go into `params`."""
    where: list[str] = []
    if f.needs_result:
        where.append("r.confidence IS NOT NULL")  # only what the run labelled can match
    if f.label is not None:
        where.append("r.label = %(label)s")
        params["label"] = f.label
    if f.confidence_min is not None:
        where.append("r.confidence >= %(conf_min)s")
        params["conf_min"] = f.confidence_min
    if f.confidence_max is not None:
        where.append("r.confidence <= %(conf_max)s")
        params["conf_max"] = f.confidence_max
    if f.agreement_below is not None:
        where.append("r.agreement < %(agreement)s")
        params["agreement"] = f.agreement_below
    if f.model_agrees is not None:  # the model predicted the item and the run labelled it
        where.append("p.label = r.label" if f.model_agrees else "p.label <> r.label")
    if f.gold is not None:
        where.append("i.is_gold = %(gold)s")
        params["gold"] = f.gold
    if f.judged is not None:
        where.append(f"{_JUDGMENTS} > 0" if f.judged else f"{_JUDGMENTS} = 0")
    if f.expert == "none":
        where.append("e.id IS NULL")
    elif f.expert is not None:
        where.append("e.status = %(expert)s" if f.expert != "any" else "e.id IS NOT NULL")
        params["expert"] = f.expert
    if f.external_id is not None:
        where.append("i.external_id LIKE %(external)s ESCAPE '\\'")
        params["external"] = _like(f.external_id) + "%"
    if f.text is not None:
        where.append("LOWER(CAST(i.data AS TEXT)) LIKE %(text)s ESCAPE '\\'")
        params["text"] = "%" + _like(f.text.lower()) + "%"
    if cursor is not None:
        where.append(_AFTER[f.sort])
        params["after_id"], params["after_conf"] = cursor.item_id, cursor.confidence
    if params.get("window_end") is not None:
        where.append(_WINDOW[f.sort])
    return where


def _row(values: tuple[Any, ...]) -> BrowseRow:
    (item_id, external_id, data, is_gold, judgments, complete, extra, label, confidence, agreement,
     result_judgments, expert, model_label) = values
    if isinstance(data, str):  # SQLite hands JSON back as text
        data = json.loads(data)
    return BrowseRow(
        id=item_id, external_id=external_id, data=data, is_gold=bool(is_gold), judgment_count=judgments,
        is_complete=bool(complete), extra_judgments=extra, label=label, confidence=confidence,
        agreement=agreement, result_judgments=result_judgments, expert=expert, model_label=model_label,
    )


def _fetch(
    job: Job, run: ConsensusRun | None, f: BrowseFilter, cursor: Cursor | None, limit: int,
    window_end: int | None, model: BrowsedModel | None,
) -> list[BrowseRow]:
    params: dict[str, Any] = {"job": job.pk, "run": run.pk if run else -1, "limit": limit,
                              "window_end": window_end, "model": model.id if model else -1,
                              "accepted": JudgmentStatus.ACCEPTED}
    where = _where(f, cursor, params)
    bound = _BOUND.get(f.sort, "") if cursor is not None else ""
    sql = _SELECT.format(
        join="JOIN" if f.needs_result else "LEFT JOIN", judgments=_JUDGMENTS,
        r_bound=bound.format(t="r"), e_bound=bound.format(t="e"), p_bound=bound.format(t="p"),
        where="".join(f"\n  AND {fragment}" for fragment in where),
        order=_ORDER[f.sort],
    )
    with connection.cursor() as db:
        db.execute(sql, params)
        return [_row(values) for values in db.fetchall()]


def _cursor_after(f: BrowseFilter, row: BrowseRow) -> Cursor:
    by_confidence = f.sort in ("confidence", "-confidence")
    return Cursor(sort=f.sort, item_id=row.id, confidence=row.confidence if by_confidence else None)


def _window_end(job: Job, sort: str, cursor: Cursor | None) -> int | None:
    """The last item id a scanning filter's window reads; None when it reaches the job's end."""
    after = cursor.item_id if cursor else _NO_CURSOR[sort]
    params = {"job": job.pk, "after_id": after, "last": SCAN_WINDOW - 1}
    with connection.cursor() as db:
        db.execute(_WINDOW_END[sort], params)
        found = db.fetchone()
    return int(found[0]) if found else None


def items_browse(
    *, job: Job, filters: BrowseFilter, cursor: Cursor | None, page_size: int, run: ConsensusRun | None = None,
    model: BrowsedModel | None = None,
) -> BrowsePage:
    """One page of the job's items under `filters`, after `cursor`. The caller scoped `job` to the
    requester (jobs.selectors.job_get_for_owner) and parsed the inputs (browse_params); a model
    the job's items were not predicted by is an ApplicationError (400)."""
    run = run if run is not None else latest_run(job=job)
    model = model if model is not None else browse_model_choose(
        job=job, model_id=filters.model, run=run, with_prelabels=cursor is None)
    if run is None and filters.needs_result:  # nothing is labelled before the first run
        return BrowsePage(rows=[], run=None, next_cursor=None, model=model)
    window_end = _window_end(job, filters.sort, cursor) if filters.scans else None
    rows = _fetch(job, run, filters, cursor, page_size + 1, window_end, model)
    more = len(rows) > page_size
    rows = rows[:page_size]
    next_cursor = _cursor_after(filters, rows[-1]) if more else None
    if not more and window_end is not None:  # the window ended before the page filled: go on
        next_cursor = Cursor(sort=filters.sort, item_id=window_end)
    searched_to = (window_end if window_end is not None else -1) if filters.scans else None
    return BrowsePage(rows=rows, run=run, next_cursor=next_cursor, searched_to=searched_to, model=model)


def items_browse_all(
    *, job: Job, filters: BrowseFilter, batch: int = 2_000, run: ConsensusRun | None = None,
    model: BrowsedModel | None = None,
) -> Iterator[BrowseRow]:
    """Every row `filters` shows, page after page along the same cursor (exports, actions)."""
    run = run if run is not None else latest_run(job=job)
    model = model if model is not None else browse_model_choose(job=job, model_id=filters.model, run=run)
    cursor: Cursor | None = None
    while True:
        page = items_browse(job=job, filters=filters, cursor=cursor, page_size=batch, run=run, model=model)
        yield from page.rows
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


BROWSE_COLUMNS = (
    "item_id", "external_id", "gold", "judgments", "complete", "consensus_label", "confidence",
    "agreement", "model_label", "model_agrees", "expert_review", "data",
)


def items_browse_csv(*, job: Job, filters: BrowseFilter) -> Iterator[bytes]:
    """Exactly the rows `filters` shows, as CSV, streamed a batch at a time (items_browse_all).
    Cells a spreadsheet would run as formulas are neutralized (marketplace.csvcells). The model
    is chosen now, so a bad one is an ApplicationError before the first byte."""
    run = latest_run(job=job)
    model = browse_model_choose(job=job, model_id=filters.model, run=run)
    return _csv_chunks(items_browse_all(job=job, filters=filters, run=run, model=model))


def _csv_chunks(rows: Iterator[BrowseRow]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(BROWSE_COLUMNS)
    for count, row in enumerate(rows, start=1):
        writer.writerow([
            row.id, csv_cell(row.external_id or ""), "yes" if row.is_gold else "no", row.judgment_count,
            "yes" if row.is_complete else "no", csv_cell(row.label or ""),
            number_cell(row.confidence), number_cell(row.agreement), csv_cell(row.model_label or ""),
            {True: "yes", False: "no", None: ""}[row.model_agrees], row.expert or "",
            csv_cell(json.dumps(row.data, ensure_ascii=False, separators=(",", ":"))),
        ])
        if count % 2_000 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


ACTION_MAX = 50_000  # items one action on a whole filter may touch


def items_browse_ids(*, job: Job, filters: BrowseFilter) -> list[int]:
    """The ids of every item `filters` shows, for an action on the whole filter; ApplicationError
    past ACTION_MAX items (narrow the filter), so one click never rewrites a million rows."""
    ids: list[int] = []
    for row in items_browse_all(job=job, filters=filters):
        ids.append(row.id)
        if len(ids) > ACTION_MAX:
            raise ApplicationError(
                f"The filter shows more than {ACTION_MAX:,} items; narrow it for this action.",
                details={"limit": ACTION_MAX},
            )
    return ids
