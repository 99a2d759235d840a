"""Bulk writes of a run's per-item and per-worker results, without the ORM per row.

On PostgreSQL the rows go in as COPY text built in batches (one string per batch, not one Python
object per cell); elsewhere (SQLite) `bulk_create` in batches. Probabilities are stored per item
as a compact JSON object {label: probability rounded to 6 places}; building that text costs
about a microsecond per item (bench/consensus_run.py prints the write time apart).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
from django.db import connection

from marketplace.consensus import ConsensusResult
from marketplace.quality.models import ItemResult, WorkerResult

PLACES = 6
BATCH = 50_000
_SQLITE_BATCH = 2_000  # 6 columns x 2,000 rows stays under SQLite's bound-variable limit
_SMALLINT_MAX = 32_767  # ItemResult.judgments is a PositiveSmallIntegerField


def _copy_escape(text: str) -> str:
    """COPY text format: backslash, tab, newline and carriage return must be escaped."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def probability_template(labels: Sequence[str]) -> str:
    """A %-format string turning one row of probabilities into the JSON object stored."""
    return "{" + ",".join(json.dumps(label).replace("%", "%%") + ":%r" for label in labels) + "}"


def item_results_write(*, run_id: int, result: ConsensusResult) -> int:
    """Store one ItemResult per item of `result` (item ids are database ids); returns the count."""
    if not len(result.items):
        return 0
    if connection.vendor == "postgresql":
        _copy_items(run_id, result)
    else:
        _bulk_items(run_id, result)
    return len(result.items)


def worker_results_write(*, run_id: int, result: ConsensusResult) -> int:
    """Store one WorkerResult per worker: accuracy and confusion matrix (rows = true label)."""
    if not len(result.workers):
        return 0
    confusions = np.round(result.confusions, PLACES).tolist()
    accuracy = np.round(result.worker_accuracy, PLACES).tolist()
    judgments = result.worker_judgments.tolist()
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


def _copy_items(run_id: int, result: ConsensusResult) -> None:
    template = _copy_escape(probability_template(result.labels))
    escaped_labels = np.asarray([_copy_escape(label) for label in result.labels], dtype=object)
    table = connection.ops.quote_name(ItemResult._meta.db_table)
    columns = "run_id, item_id, label, confidence, probabilities, judgments"
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for block in _copy_blocks(run_id, result, template, escaped_labels):
                copy.write(block)


def _copy_blocks(
    run_id: int, result: ConsensusResult, template: str, escaped_labels: npt.NDArray[np.object_]
) -> Iterator[str]:
    """COPY text in batches of BATCH items: a handful of large strings, never a row object."""
    probabilities = np.round(result.probabilities, PLACES)
    confidence = np.round(result.confidence, PLACES)
    counts = np.minimum(result.item_judgments, _SMALLINT_MAX)
    prefix = f"{run_id}\t"
    for start in range(0, len(result.items), BATCH):
        part = slice(start, start + BATCH)
        labels = escaped_labels[result.label_index[part]].tolist()
        yield "".join(
            f"{prefix}{item}\t{label}\t{conf!r}\t{template % tuple(row)}\t{n}\n"
            for item, label, conf, row, n in zip(
                result.items[part].tolist(),
                labels,
                confidence[part].tolist(),
                probabilities[part].tolist(),
                counts[part].tolist(),
                strict=True,
            )
        )


def _bulk_items(run_id: int, result: ConsensusResult) -> None:
    items, labels, confidence, texts, counts = _columns(result)
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
            )
            for item, label, conf, text, n in zip(
                items[start:end],
                labels[start:end],
                confidence[start:end],
                texts[start:end],
                counts[start:end],
                strict=True,
            )
        )
