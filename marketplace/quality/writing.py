"""Bulk writes of a run's per-item and per-worker results, without the ORM per row.

On PostgreSQL the rows go in as COPY text built in batches (one string per batch, not one Python
object per cell); elsewhere (SQLite) `bulk_create` in batches. Probabilities are stored per item
as a compact JSON object {label: probability rounded to 6 places}; building that text costs
about a microsecond per item (bench/consensus_run.py prints the write time apart).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import numpy.typing as npt
from django.db import connection
from django.db.models import Model

from marketplace.consensus import ConsensusResult, Votes
from marketplace.errors import Conflict
from marketplace.jobs.models import Item, Job
from marketplace.quality.models import ItemResult, WorkerResult

PLACES = 6
BATCH = 50_000
_SQLITE_BATCH = 2_000  # 6 columns x 2,000 rows stays under SQLite's bound-variable limit
_NULL = "\\N"  # COPY text's null
_COPY_WRITE = 1 << 20  # characters a COPY write gathers: few calls, no whole-table string
_SMALLINT_MAX = 32_767  # ItemResult.judgments is a PositiveSmallIntegerField


def _copy_escape(text: str) -> str:
    """COPY text format: backslash, tab, newline and carriage return must be escaped."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def probability_template(labels: Sequence[str]) -> str:
    """A %-format string turning one row of probabilities into the JSON object stored."""
    return "{" + ",".join(json.dumps(label).replace("%", "%%") + ":%r" for label in labels) + "}"


def item_results_write(*, run_id: int, result: ConsensusResult, votes: Votes | None = None) -> int:
    """Store one ItemResult per item of `result` (item ids are database ids); returns the count.
    With the run's `votes`, each row also gets its agreement (see item_agreement)."""
    if not len(result.items):
        return 0
    agreement = item_agreement(result=result, votes=votes) if votes is not None else None
    if connection.vendor == "postgresql":
        _copy_items(run_id, result, agreement)
    else:
        _bulk_items(run_id, result, agreement)
    return len(result.items)


def copy_lines(model: type[Model], columns: str, blocks: Iterable[str]) -> None:
    """PostgreSQL: rows already in COPY text format (tab-separated, newline-ended, escaped by the
    caller) into the model's table, in one COPY. `blocks` are whole rows, one or many a string;
    small ones are joined to about a megabyte a write, so neither a row a call nor one string
    of the whole table."""
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        pending: list[str] = []
        size = 0
        for block in blocks:
            pending.append(block)
            size += len(block)
            if size >= _COPY_WRITE:
                copy.write("".join(pending))
                pending, size = [], 0
        if pending:
            copy.write("".join(pending))


def item_results_anchor(*, job_id: int, run_id: int) -> None:
    """What the missing foreign key from item results to items would guarantee (models.py), for
    the run's results about to commit: every one names an item that still exists.

    Items are only ever deleted from a draft that was never published (jobs/editing.py, under
    FOR UPDATE of the job row); deleting the job itself deletes the run, which results still
    reference by a real foreign key. So: take KEY SHARE on the job row until COMMIT (it waits
    for such a deletion in flight and keeps new ones out; submits hold the same lock and never
    wait on it), and only for a never-published draft look for results whose item went. Called
    before the run updates its own row: a draft's deletion locks the job row first, then the
    runs' rows, so the other order could deadlock."""
    table = connection.ops.quote_name(Job._meta.db_table)
    lock = " FOR KEY SHARE" if connection.vendor == "postgresql" else ""  # SQLite: one writer at a time
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT published_at FROM {table} WHERE id = %s{lock}", [job_id])
        row = cursor.fetchone()
    if row is not None and row[0] is not None:
        return
    orphans = ItemResult.objects.filter(run_id=run_id).exclude(item_id__in=Item.objects.filter(job_id=job_id).values("pk"))
    if row is None or orphans.exists():
        raise Conflict("Items of this job were deleted while the consensus ran; run it again.")


def unaided_index(result: ConsensusResult) -> npt.NDArray[np.int64]:
    """Per item of `result`, the label index consensus gives it without its known answer (gold
    items: ConsensusResult.gold_unaided), -1 for every other item: `label_without_answer`."""
    index = np.full(len(result.items), -1, dtype=np.int64)
    index[np.searchsorted(result.items, result.gold_items)] = result.gold_unaided_index
    return index


def item_agreement(*, result: ConsensusResult, votes: Votes) -> npt.NDArray[np.float64]:
    """Per item of `result`, the share of its votes that gave its consensus label (NaN without
    votes: a gold item nobody judged). Vectorized: one searchsorted and two bincounts."""
    n = len(result.items)
    if not len(votes):
        return np.full(n, np.nan)
    rows = np.searchsorted(result.items, votes.items)
    known = (rows < n) & (result.items[np.minimum(rows, n - 1)] == votes.items)
    rows, codes = rows[known], votes.codes[known]
    agree = np.bincount(rows, weights=(codes == result.label_index[rows]), minlength=n)
    total = np.bincount(rows, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.round(agree / total, PLACES)


def worker_results_write(*, run_id: int, result: ConsensusResult) -> int:
    """Store one WorkerResult per worker: accuracy and confusion matrix (rows = true label)."""
    if not len(result.workers):
        return 0
    # Each worker's matrix rounded and listed as its line is written, not all at once: 20,000
    # workers x 50 x 50 labels are 50 million Python floats as one list (about 2 GB).
    confusions = (np.round(matrix, PLACES).tolist() for matrix in result.confusions)
    accuracy = np.round(result.worker_accuracy, PLACES).tolist()
    judgments = result.worker_judgments.tolist()
    if connection.vendor == "postgresql":  # one COPY, not ten thousand model objects
        copy_lines(WorkerResult, "run_id, worker_id, accuracy, confusion, judgments", (
            f"{run_id}\t{worker}\t{acc!r}\t{json.dumps(matrix)}\t{n}\n"
            for worker, acc, matrix, n in zip(result.workers.tolist(), accuracy, confusions, judgments, strict=True)
        ))
        return len(result.workers)
    rows = (
        WorkerResult(run_id=run_id, worker_id=worker, accuracy=acc, confusion=matrix, judgments=n)
        for worker, acc, matrix, n in zip(
            result.workers.tolist(), accuracy, confusions, judgments, strict=True
        )
    )
    WorkerResult.objects.bulk_create(rows, batch_size=_SQLITE_BATCH)  # thousands of rows at most
    return len(result.workers)


def _columns(
    result: ConsensusResult,
) -> tuple[list[int], list[str], list[float], list[str], list[int]]:
    """Per-item Python lists for one batch writer: ids, labels, confidences, JSON, counts."""
    template = probability_template(result.labels)
    probabilities = np.round(result.probabilities, PLACES)
    texts = [template % tuple(row) for row in probabilities.tolist()]
    labels = np.asarray(result.labels, dtype=object)[result.label_index].tolist()
    confidence = np.round(result.confidence, PLACES).tolist()
    counts = np.minimum(result.item_judgments, _SMALLINT_MAX).tolist()
    return result.items.tolist(), labels, confidence, texts, counts


def _agreement_cells(agreement: npt.NDArray[np.float64] | None, n: int) -> list[float | None]:
    """One agreement per item, None where unknown (NaN, or no votes given)."""
    if agreement is None:
        return [None] * n
    return [None if value != value else value for value in agreement.tolist()]  # NaN != NaN


def _copy_items(run_id: int, result: ConsensusResult, agreement: npt.NDArray[np.float64] | None) -> None:
    template = _copy_escape(probability_template(result.labels))
    escaped_labels = np.asarray([_copy_escape(label) for label in result.labels], dtype=object)
    columns = "run_id, item_id, label, confidence, probabilities, judgments, agreement, label_without_answer"
    cells = _agreement_cells(agreement, len(result.items))
    copy_lines(ItemResult, columns, _copy_blocks(run_id, result, template, escaped_labels, cells))


def _copy_blocks(
    run_id: int, result: ConsensusResult, template: str, escaped_labels: npt.NDArray[np.object_],
    agreement: list[float | None],
) -> Iterator[str]:
    """COPY text in batches of BATCH items: a handful of large strings, never a row object."""
    probabilities = np.round(result.probabilities, PLACES)
    confidence = np.round(result.confidence, PLACES)
    counts = np.minimum(result.item_judgments, _SMALLINT_MAX)
    unaided = np.append(escaped_labels, "")[unaided_index(result)]  # -1: the "" at the end
    prefix = f"{run_id}\t"
    for start in range(0, len(result.items), BATCH):
        part = slice(start, start + BATCH)
        labels = escaped_labels[result.label_index[part]].tolist()
        yield "".join(
            f"{prefix}{item}\t{label}\t{conf!r}\t{template % tuple(row)}\t{n}\t"
            f"{_NULL if agree is None else repr(agree)}\t{blind}\n"
            for item, label, conf, row, n, agree, blind in zip(
                result.items[part].tolist(),
                labels,
                confidence[part].tolist(),
                probabilities[part].tolist(),
                counts[part].tolist(),
                agreement[start:start + BATCH],
                unaided[part].tolist(),
                strict=True,
            )
        )


def _bulk_items(run_id: int, result: ConsensusResult, agreement: npt.NDArray[np.float64] | None) -> None:
    items, labels, confidence, texts, counts = _columns(result)
    agreements = _agreement_cells(agreement, len(items))
    unaided = np.append(np.asarray(result.labels, dtype=object), "")[unaided_index(result)].tolist()
    for start in range(0, len(items), _SQLITE_BATCH):
        end = start + _SQLITE_BATCH
        ItemResult.objects.bulk_create(
            ItemResult(
                run_id=run_id,
                item_id=item,
                label=label,
                confidence=conf,
                probabilities=json.loads(text),
                judgments=n,
                agreement=agree,
                label_without_answer=blind,
            )
            for item, label, conf, text, n, agree, blind in zip(
                items[start:end],
                labels[start:end],
                confidence[start:end],
                texts[start:end],
                counts[start:end],
                agreements[start:end],
                unaided[start:end],
                strict=True,
            )
        )
