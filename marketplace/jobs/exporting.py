"""Streamed exports of a job: results per item, and raw judgments in crowd-kit's shape.

Each export is a generator of bytes over keyset-paginated batches (`id > last`, on an index), so
a million-item job streams in constant memory and no cursor stays open between chunks. Nothing
runs until the first chunk is asked for: callers resolve the job (and the requester's right to
it) before they hand the generator to a StreamingHttpResponse.

Consensus lives in the quality app, which this app must not import: the results export takes a
`consensus_lookup` (item ids of a batch -> (label, confidence), or (label, confidence, source)
with `source_column=True`) and leaves the columns empty without one.
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
from django.db.models import TextField
from django.db.models.functions import Cast

from marketplace.csvcells import csv_cell
from marketplace.errors import ApplicationError
from marketplace.jobs.models import Item, Job

ConsensusLookup = Callable[[list[int]], Mapping[int, tuple[str, float] | tuple[str, float, str]]]

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "jsonl": "application/x-ndjson",
}
BATCH_SIZE = 2000
RESULT_COLUMNS = (
    "item_id", "external_id", "data", "consensus_label", "confidence", "judgment_count",
)
JUDGMENT_COLUMNS = ("task", "worker", "label")
# labeling.models.JudgmentStatus.ACCEPTED; jobs sits below labeling and may not import it.
_ACCEPTED = "accepted"

Record = dict[str, Any]


class RawJSON(str):
    """JSON text as the database holds it, written out as is: no decode and re-encode per row."""


def export_format_check(fmt: str | None, *, default: str = "csv") -> str:
    fmt = (fmt or default).strip().lower()
    if fmt not in CONTENT_TYPES:
        raise ApplicationError(
            f"Unknown export format {fmt!r}; use one of {', '.join(CONTENT_TYPES)}.",
            details={"reason": "unknown_format"},
        )
    return fmt


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
) -> Iterator[bytes]:
    """The job's non-gold items with their consensus, as CSV (header), a JSON array or JSONL.

    `source_column` adds a last column, `source`: the third element of the lookup's values
    (where the label came from, e.g. "consensus" or "expert").
    """
    fmt = export_format_check(fmt)  # now, not at the first chunk: a bad format is a clean 400
    columns = (*RESULT_COLUMNS, "source") if source_column else RESULT_COLUMNS
    return _encode(_result_batches(job, consensus_lookup, batch_size, source_column), fmt, columns)


def judgments_export(
    *, job: Job, fmt: str = "csv", batch_size: int = BATCH_SIZE
) -> Iterator[bytes]:
    """Accepted judgments on non-gold items as task,worker,label (crowd-kit's input shape).

    task is the item's external_id, or its id when it has none; worker is a pseudonym.
    """
    fmt = export_format_check(fmt)
    return _encode(_judgment_batches(job, batch_size), fmt, JUDGMENT_COLUMNS)


def _result_batches(
    job: Job, lookup: ConsensusLookup | None, batch_size: int, source_column: bool = False
) -> Iterator[list[Record]]:
    items = (
        Item.objects.filter(job=job, is_gold=False)
        .annotate(data_text=Cast("data", TextField()))
        .order_by("id")
        .values_list("id", "external_id", "data_text", "judgment_count")
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
                "data": RawJSON(data),
                "consensus_label": label,
                "confidence": confidence,
                "judgment_count": judgment_count,
            }
            if source_column:
                record["source"] = found[2] if found and len(found) > 2 else None
            records.append(record)
        yield records


def _judgment_batches(job: Job, batch_size: int) -> Iterator[list[Record]]:
    # Through the reverse relation (labeling.Judgment.job, related_name "judgments"): no import.
    judgments = (
        job.judgments.filter(status=_ACCEPTED, item__is_gold=False)  # type: ignore[attr-defined]
        .order_by("id")
        .values_list("id", "item_id", "item__external_id", "worker_id", "label")
    )
    pseudonyms: dict[int, str] = {}
    last = 0
    while batch := list(judgments.filter(id__gt=last)[:batch_size]):
        last = batch[-1][0]
        records = []
        for _, item_id, external_id, worker_id, label in batch:
            if worker_id not in pseudonyms:
                pseudonyms[worker_id] = worker_pseudonym(job_id=job.pk, worker_id=worker_id)
            task = external_id if external_id is not None else str(item_id)
            records.append({"task": task, "worker": pseudonyms[worker_id], "label": label})
        yield records


def _encode(batches: Iterator[list[Record]], fmt: str, columns: Sequence[str]) -> Iterator[bytes]:
    """One bytes chunk per batch; JSON output is a single valid array however long."""
    if fmt == "csv":
        yield from _csv_chunks(batches, columns)
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


def _csv_chunks(batches: Iterator[list[Record]], columns: Sequence[str]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for records in batches:
        writer.writerows([_csv_cell(record[c]) for c in columns] for record in records)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # only the header: the job has nothing to export yet
        yield buffer.getvalue().encode()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return _dumps(value)  # one cell holds a whole object, JSON-encoded (RawJSON already is)
    return csv_cell(value)  # external ids, labels: formula-like text stays text


def _record_json(record: Record) -> str:
    """The record as one JSON object, splicing RawJSON values in after the encoded rest."""
    raw = "".join(f",{_dumps(k)}:{v}" for k, v in record.items() if isinstance(v, RawJSON))
    if not raw:
        return _dumps(record)
    return _dumps({k: v for k, v in record.items() if not isinstance(v, RawJSON)})[:-1] + raw + "}"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
