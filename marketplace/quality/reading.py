"""Judgments of a job as three numpy arrays, without a Python object per judgment.

On PostgreSQL the rows travel by `COPY … TO STDOUT (FORMAT binary)` and are decoded in one
`numpy.frombuffer` call: a million judgments take well under a second. Labels are turned into
codes inside the query (`array_position`), so no label string crosses the wire. Elsewhere
(SQLite) rows stream through `values_list` in chunks into preallocated arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from django.db import connection

from marketplace.labeling.models import Judgment, JudgmentStatus

_PG_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
# One binary COPY row of three bigints: field count, then (length, value) three times.
_ROW = np.dtype(
    [("n", ">i2"), ("l1", ">i4"), ("item", ">i8"), ("l2", ">i4"), ("worker", ">i8"), ("l3", ">i4"), ("code", ">i8")]
)


@dataclass(frozen=True)
class JudgmentArrays:
    items: npt.NDArray[np.int64]
    workers: npt.NDArray[np.int64]
    codes: npt.NDArray[np.int64]  # index into the label set passed in


def judgment_arrays(*, job_id: int, label_set: Sequence[str]) -> JudgmentArrays:
    """Accepted judgments of the job (gold items included), labels coded by `label_set` order."""
    if connection.vendor == "postgresql":
        return _read_copy(job_id, list(label_set))
    return _read_orm(job_id, list(label_set))


def _read_copy(job_id: int, label_set: list[str]) -> JudgmentArrays:
    sql = (
        "COPY (SELECT item_id, worker_id, COALESCE(array_position(%s::text[], label) - 1, -1)::bigint "
        "FROM labeling_judgment WHERE job_id = %s AND status = %s) TO STDOUT (FORMAT binary)"
    )
    buffer = bytearray()
    with connection.cursor() as cursor:
        with cursor.cursor.copy(sql, (label_set, job_id, JudgmentStatus.ACCEPTED.value)) as copy:
            for block in copy:
                buffer += block
    if not buffer.startswith(_PG_SIGNATURE):
        raise RuntimeError("unexpected COPY binary header")
    extension = int.from_bytes(buffer[15:19], "big")
    body = memoryview(buffer)[19 + extension : len(buffer) - 2]  # drop header and the -1 trailer
    rows = np.frombuffer(body, dtype=_ROW)
    return _checked(rows["item"].astype(np.int64), rows["worker"].astype(np.int64), rows["code"].astype(np.int64))


def _read_orm(job_id: int, label_set: list[str]) -> JudgmentArrays:
    qs = Judgment.objects.filter(job_id=job_id, status=JudgmentStatus.ACCEPTED)
    count = qs.count()
    items = np.empty(count, dtype=np.int64)
    workers = np.empty(count, dtype=np.int64)
    codes = np.empty(count, dtype=np.int64)
    position = {label: k for k, label in enumerate(label_set)}
    n = 0
    for item_id, worker_id, label in qs.values_list("item_id", "worker_id", "label").iterator(chunk_size=20_000):
        if n == count:  # rows arrived while we read; the count bounds this snapshot
            break
        items[n], workers[n], codes[n] = item_id, worker_id, position.get(label, -1)
        n += 1
    return _checked(items[:n], workers[:n], codes[:n])


@dataclass(frozen=True)
class JudgmentTimes:
    """When each accepted judgment of a job was claimed and submitted, in epoch seconds; the
    claim is NaN where the judgment has no lease (its lease row was deleted)."""

    items: npt.NDArray[np.int64]
    workers: npt.NDArray[np.int64]
    claimed: npt.NDArray[np.float64]
    submitted: npt.NDArray[np.float64]


# One binary COPY row of two bigints and two float8s.
_TIME_ROW = np.dtype(
    [("n", ">i2"), ("l1", ">i4"), ("item", ">i8"), ("l2", ">i4"), ("worker", ">i8"),
     ("l3", ">i4"), ("claimed", ">f8"), ("l4", ">i4"), ("submitted", ">f8")]
)


def judgment_times(*, job_id: int, workers: Sequence[int] | None = None) -> JudgmentTimes:
    """Claim and submit times of the job's accepted judgments (collusion's timing scan); only
    those of `workers` when given (every judgment of each, so their think times stay whole)."""
    if workers is not None and not len(workers):
        empty = np.empty(0, np.int64)
        return JudgmentTimes(items=empty, workers=empty, claimed=empty.astype(np.float64),
                             submitted=empty.astype(np.float64))
    if connection.vendor == "postgresql":
        only = "" if workers is None else "AND j.worker_id = ANY(%s) "
        sql = (
            "COPY (SELECT j.item_id, j.worker_id, "
            "COALESCE(EXTRACT(EPOCH FROM l.created_at)::float8, 'NaN'::float8), "
            "EXTRACT(EPOCH FROM j.created_at)::float8 "
            "FROM labeling_judgment j LEFT JOIN labeling_lease l ON l.id = j.lease_id "
            f"WHERE j.job_id = %s AND j.status = %s {only}) TO STDOUT (FORMAT binary)"
        )
        params: tuple[object, ...] = (job_id, JudgmentStatus.ACCEPTED.value)
        if workers is not None:
            params += ([int(w) for w in workers],)
        rows = np.frombuffer(_copy_body(sql, params), dtype=_TIME_ROW)
        return JudgmentTimes(
            items=rows["item"].astype(np.int64), workers=rows["worker"].astype(np.int64),
            claimed=rows["claimed"].astype(np.float64), submitted=rows["submitted"].astype(np.float64),
        )
    judgments = Judgment.objects.filter(job_id=job_id, status=JudgmentStatus.ACCEPTED)
    if workers is not None:
        judgments = judgments.filter(worker_id__in=[int(w) for w in workers])
    values = list(
        judgments.values_list("item_id", "worker_id", "lease__created_at", "created_at")
    )
    return JudgmentTimes(
        items=np.array([v[0] for v in values], dtype=np.int64),
        workers=np.array([v[1] for v in values], dtype=np.int64),
        claimed=np.array([v[2].timestamp() if v[2] else np.nan for v in values], dtype=np.float64),
        submitted=np.array([v[3].timestamp() for v in values], dtype=np.float64),
    )


def _copy_body(sql: str, params: tuple[object, ...]) -> memoryview:
    """The rows of a binary COPY, header and trailer cut off."""
    buffer = bytearray()
    with connection.cursor() as cursor:
        with cursor.cursor.copy(sql, params) as copy:
            for block in copy:
                buffer += block
    if not buffer.startswith(_PG_SIGNATURE):
        raise RuntimeError("unexpected COPY binary header")
    extension = int.from_bytes(buffer[15:19], "big")
    return memoryview(buffer)[19 + extension : len(buffer) - 2]


def _checked(items: npt.NDArray[np.int64], workers: npt.NDArray[np.int64], codes: npt.NDArray[np.int64]) -> JudgmentArrays:
    # Labels outside the job's set cannot be submitted; if an edit ever orphaned some, skip them.
    keep = codes >= 0
    if not keep.all():
        items, workers, codes = items[keep], workers[keep], codes[keep]
    return JudgmentArrays(items=items, workers=workers, codes=codes)
