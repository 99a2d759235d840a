"""Streamed exports of a job: results per item, and raw judgments in crowd-kit's shape.

Each export is a generator of bytes over keyset-paginated batches (`id > last`, on an index), so
a million-item job streams in constant memory and no cursor stays open between chunks. Nothing
runs until the first chunk is asked for: callers resolve the job (and the requester's right to
it) before they hand the generator to a StreamingHttpResponse.

Consensus lives in the quality app, which this app must not import: the results export takes a
`consensus_lookup` (item ids of a batch -> (label, confidence), or (label, confidence, source)
with `source_column=True`) and leaves the columns empty without one.

Results as CSV come in two layouts: `nested` (the first one, kept for existing clients: the item's
data as one JSON cell) and `flat` (one `data.<field>` column per data field, the union of the
job's keys, found by one query before the first byte). `label_studio` is a JSON array of Label
Studio tasks with the consensus label as an annotation (jobs.label_studio).

The results CSV is meant for spreadsheets, so its text cells are guarded against formulas
(csvcells). The raw judgments are crowd-kit's input, read by programs and joined on `task` with a
truth file: they are written exactly as stored, since a guarded id ("-0" as "'-0") joins nothing.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F, Func, TextField
from django.db.models.functions import Cast

from marketplace.csvcells import csv_cell, number_cell
from marketplace.errors import ApplicationError
from marketplace.jobs import label_studio
from marketplace.jobs.models import Item, Job

# Multi-label jobs: (the label set, confidence, source, {label: probability}).
ConsensusLookup = Callable[[list[int]], Mapping[int, tuple[Any, ...]]]

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "label_studio": "application/json",
}
EXTENSIONS = {"csv": "csv", "json": "json", "jsonl": "jsonl", "label_studio": "label-studio.json"}
FORMATS = ("csv", "json", "jsonl")  # every export; results also take label_studio
RESULT_FORMATS = (*FORMATS, "label_studio")
LAYOUTS = ("nested", "flat")
# A flat CSV wider than this is not a table anyone reads; the nested layout has no such limit.
MAX_FLAT_COLUMNS = 500
BATCH_SIZE = 2000
RESULT_COLUMNS = (
    "item_id", "external_id", "data", "consensus_label", "confidence", "judgment_count",
)
JUDGMENT_COLUMNS = ("task", "worker", "label")
# Multi-label jobs: the set (a JSON list, in CSV too) and each label's probability (a JSON object).
MULTI_RESULT_COLUMNS = (
    "item_id", "external_id", "data", "consensus_labels", "label_probabilities", "confidence",
    "judgment_count",
)
MULTI_JUDGMENT_COLUMNS = ("task", "worker", "labels")
# labeling.models.JudgmentStatus.ACCEPTED; jobs sits below labeling and may not import it.
_ACCEPTED = "accepted"

Record = dict[str, Any]


class RawJSON(str):
    """JSON text as the database holds it, written out as is: no decode and re-encode per row."""


def export_format_check(
    fmt: str | None, *, default: str = "csv", allowed: Sequence[str] = FORMATS
) -> str:
    fmt = (fmt or default).strip().lower()
    if fmt not in allowed:
        raise ApplicationError(
            f"Unknown export format {fmt!r}; use one of {', '.join(allowed)}.",
            details={"reason": "unknown_format"},
        )
    return fmt


def export_layout_check(layout: str | None, *, default: str = "nested") -> str:
    layout = (layout or default).strip().lower()
    if layout not in LAYOUTS:
        raise ApplicationError(
            f"Unknown CSV layout {layout!r}; use flat (a column per data field) or nested.",
            details={"reason": "unknown_layout"},
        )
    return layout


def worker_pseudonym(*, job_id: int, worker_id: int) -> str:
    """A stable id for a worker within one job that reveals neither the user nor other jobs.

    Keyed with SECRET_KEY, so nobody can recompute it from a guessed user id, and salted with
    the job, so two exports cannot be joined to follow a worker across clients.
    """
    message = f"{job_id}:{worker_id}".encode()
    return "w" + hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:12]


def results_export(
    *,
    job: Job,
    fmt: str,
    consensus_lookup: ConsensusLookup | None = None,
    batch_size: int = BATCH_SIZE,
    source_column: bool = False,
    layout: str = "nested",
    from_name: str = label_studio.DEFAULT_FROM_NAME,
    to_name: str = label_studio.DEFAULT_TO_NAME,
) -> Iterator[bytes]:
    """The job's non-gold items with their consensus, as CSV (header), a JSON array, JSONL or
    Label Studio tasks.

    `source_column` adds a last column, `source`: the third element of the lookup's values
    (where the label came from, e.g. "consensus" or "expert"). `layout` shapes the CSV only
    (JSON keeps `data` an object); `flat` reads the job's data keys now, so a job too wide for
    it is a clean 400. `from_name`/`to_name` name the Label Studio project's Choices and Text tags.
    """
    # Checked now, not at the first chunk: a bad format or layout is a clean 400.
    fmt = export_format_check(fmt, allowed=RESULT_FORMATS)
    layout = export_layout_check(layout)
    base = MULTI_RESULT_COLUMNS if job.multi_label else RESULT_COLUMNS
    columns: Sequence[str] = (*base, "source") if source_column else base
    batches = _result_batches(job, consensus_lookup, batch_size, source_column)
    if fmt == "label_studio" and job.multi_label:
        raise ApplicationError(
            "The Label Studio export is for single-label jobs; use csv, json or jsonl.",
            details={"reason": "unknown_format"},
        )
    if fmt == "label_studio":
        tasks = (
            [label_studio.result_task(r, from_name=from_name, to_name=to_name) for r in records]
            for records in batches
        )
        return _encode(tasks, "json", ())
    if fmt == "csv" and layout == "flat":
        keys = _data_keys(job)
        data_columns = [f"data.{key}" for key in keys]
        columns = [*columns[:2], *data_columns, *columns[3:]]
        flat = _result_batches(job, consensus_lookup, batch_size, source_column, decoded=True)
        return _encode(_flatten(flat, keys), fmt, columns)
    return _encode(batches, fmt, columns)


def judgments_export(
    *, job: Job, fmt: str = "csv", batch_size: int = BATCH_SIZE
) -> Iterator[bytes]:
    """Accepted judgments on non-gold items as task,worker,label (crowd-kit's input shape).

    task is the item's external_id, or its id when it has none; worker is a pseudonym. Machine-
    readable: CSV cells are written as stored, with no formula guard (see the module docstring).
    """
    fmt = export_format_check(fmt)
    columns = MULTI_JUDGMENT_COLUMNS if job.multi_label else JUDGMENT_COLUMNS
    return _encode(_judgment_batches(job, batch_size), fmt, columns, guard=False)


def _data_keys(job: Job) -> list[str]:
    """Every key of the job's plain items' data, sorted: the flat layout's data columns."""
    items = Item.objects.filter(job=job, is_gold=False)
    if connection.vendor == "postgresql":
        # One index scan of the job's items; jsonb_object_keys expands each object's keys.
        keys = list(
            items.annotate(key=Func(F("data"), function="jsonb_object_keys", output_field=TextField()))
            .values_list("key", flat=True).order_by("key").distinct()[: MAX_FLAT_COLUMNS + 1]
        )
    else:  # the portable path: read the data a batch at a time
        found: set[str] = set()
        for data in items.values_list("data", flat=True).iterator(chunk_size=BATCH_SIZE):
            found.update(data if isinstance(data, dict) else ())
        keys = sorted(found)
    if len(keys) > MAX_FLAT_COLUMNS:
        raise ApplicationError(
            f"The items have over {MAX_FLAT_COLUMNS} distinct data fields: too wide for the flat "
            "layout; use layout=nested (the data as one JSON cell) or JSON.",
            details={"reason": "too_many_columns"},
        )
    return keys


def _flatten(batches: Iterator[list[Record]], keys: Sequence[str]) -> Iterator[list[Record]]:
    for records in batches:
        for record in records:
            data = record.pop("data")
            record.update({f"data.{key}": data.get(key) for key in keys})
        yield records


def _result_batches(
    job: Job, lookup: ConsensusLookup | None, batch_size: int, source_column: bool = False,
    *, decoded: bool = False,
) -> Iterator[list[Record]]:
    """Batches of result records; `decoded`: data as a dict, else as the database's JSON text."""
    items = (
        Item.objects.filter(job=job, is_gold=False)
        .annotate(data_text=Cast("data", TextField()))
        .order_by("id")
        .values_list("id", "external_id", "data" if decoded else "data_text", "judgment_count")
    )
    last = 0
    while batch := list(items.filter(id__gt=last)[:batch_size]):
        last = batch[-1][0]
        consensus = lookup([row[0] for row in batch]) if lookup else {}
        records = []
        for item_id, external_id, data, judgment_count in batch:
            found = consensus.get(item_id)
            label, confidence = found[:2] if found else (None, None)
            record: Record = {
                "item_id": item_id,
                "external_id": external_id,
                "data": data if decoded else RawJSON(data),
                "consensus_label": label,
                "confidence": confidence,
                "judgment_count": judgment_count,
            }
            if job.multi_label:
                del record["consensus_label"]
                record["consensus_labels"] = label
                record["label_probabilities"] = found[3] if found and len(found) > 3 else None
            if source_column:
                record["source"] = found[2] if found and len(found) > 2 else None
            records.append(record)
        yield records


def _judgment_batches(job: Job, batch_size: int) -> Iterator[list[Record]]:
    # Through the reverse relation (labeling.Judgment.job, related_name "judgments"): no import.
    judgments = (
        job.judgments.filter(status=_ACCEPTED, item__is_gold=False)  # type: ignore[attr-defined]
        .order_by("id")
        .values_list("id", "item_id", "item__external_id", "worker_id",
                     "labels" if job.multi_label else "label")
    )
    key = "labels" if job.multi_label else "label"
    pseudonyms: dict[int, str] = {}
    last = 0
    while batch := list(judgments.filter(id__gt=last)[:batch_size]):
        last = batch[-1][0]
        records = []
        for _, item_id, external_id, worker_id, label in batch:
            if worker_id not in pseudonyms:
                pseudonyms[worker_id] = worker_pseudonym(job_id=job.pk, worker_id=worker_id)
            task = external_id if external_id is not None else str(item_id)
            records.append({"task": task, "worker": pseudonyms[worker_id], key: label})
        yield records


def _encode(
    batches: Iterator[list[Record]], fmt: str, columns: Sequence[str], *, guard: bool = True
) -> Iterator[bytes]:
    """One bytes chunk per batch; JSON output is a single valid array however long. `guard`: CSV
    text cells a spreadsheet would run as formulas are written as text (csvcells)."""
    if fmt == "csv":
        yield from _csv_chunks(batches, columns, guard=guard)
    elif fmt == "jsonl":
        for records in batches:
            yield "".join(_record_json(r) + "\n" for r in records).encode()
    else:  # json
        separator = "[\n"
        for records in batches:
            parts = []
            for record in records:
                parts.append(separator + _record_json(record))
                separator = ",\n"
            yield "".join(parts).encode()
        yield ("[\n]\n" if separator == "[\n" else "\n]\n").encode()


def _csv_chunks(batches: Iterator[list[Record]], columns: Sequence[str], *, guard: bool) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    text = csv_cell if guard else _as_is
    writer.writerow([text(c) for c in columns])  # flat columns carry the client's data keys
    for records in batches:
        writer.writerows([_csv_cell(record[c], text) for c in columns] for record in records)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # only the header: the job has nothing to export yet
        yield buffer.getvalue().encode()


def _as_is(value: Any) -> Any:
    return value


def _csv_cell(value: Any, text: Callable[[Any], Any]) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"  # as the item's JSON said it, not Python's True
    if isinstance(value, float):
        return number_cell(value)  # confidence: as the data browser's CSV writes it
    if isinstance(value, dict | list):
        return _dumps(value)  # one cell holds a whole object, JSON-encoded (RawJSON already is)
    return text(value)  # external ids, labels: guarded, formula-like text stays text


def _record_json(record: Record) -> str:
    """The record as one JSON object, splicing RawJSON values in after the encoded rest."""
    raw = "".join(f",{_dumps(k)}:{v}" for k, v in record.items() if isinstance(v, RawJSON))
    if not raw:
        return _dumps(record)
    return _dumps({k: v for k, v in record.items() if not isinstance(v, RawJSON)})[:-1] + raw + "}"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
