"""Replay a public crowd data set through the marketplace and score its consensus on the truth.

A folder holds `answers.csv` (item,worker,label) and `truth.csv` (item,label); ids and labels are
arbitrary strings. The answers become judgments in a fresh job of the "replay" organization
(labels taken from the data, external ids = item names, one worker account per worker name); a
seeded random share of the truth becomes gold items; `consensus_run` runs as for any job; the
run's labels are compared with the truth on the items not used as gold.

Repeated judgments: the store allows one judgment per item and worker, so when one worker judged
one item more than once the `repeats` rule decides (consensus.datasets): the LAST row in file
order by default (the worker's corrected answer), the first, or none of them ("drop").
`subsample_k=K` imports only K judgments per item, drawn with the same seed as the gold split.

The data's labels must make a job the API would accept (jobs.fields.labels_validate: 2 to 50
labels, none over MAX_LABEL_NAME_CHARS, no two reading the same regardless of case and spacing);
a data set that breaks a rule is refused, naming it, before any row is written.

The job stays a draft: it is never served to workers, and it keeps its runs for inspection.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import Count, OuterRef, Subquery
from django.utils import timezone

from marketplace.accounts.models import Organization, Role, User
from marketplace.consensus import load_dataset, split_gold, subsample
from marketplace.consensus.datasets import Repeats
from marketplace.errors import ApplicationError
from marketplace.jobs.fields import labels_validate
from marketplace.jobs.models import Item, Job, JobStatus, JobTally
from marketplace.jobs.services import ItemRow, item_bulk_create
from marketplace.labeling.models import Judgment, JudgmentStatus
from marketplace.labelsets import KEY_RE
from marketplace.quality.models import ConsensusRun, ItemResult
from marketplace.quality.runs import consensus_run
from marketplace.quality.writing import copy_lines

REPLAY_ORG_SLUG = "replay"
_EXTERNAL_ID_MAX = 200  # Item.external_id max_length
_BATCH = 50_000


@dataclass(frozen=True)
class ReplayReport:
    accuracy: float  # on truth items not used as gold (NaN when none was judged)
    method: str
    items_scored: int
    items: int
    workers: int
    judgments: int
    seconds: float  # import + consensus, wall time
    gold_items: int
    gold_in_fit: bool
    rows_read: int
    repeated_rows_dropped: int
    repeated_pairs: int  # (item, worker) pairs with several rows, resolved by `repeats`
    blank_rows_dropped: int  # answers.csv rows with a blank item, worker or label
    truth_blank_rows_dropped: int  # truth.csv rows with a blank item or label
    repeats: str
    subsample: int | None  # judgments kept per item (None: all)
    seed: int  # of the gold split and the subsample
    import_seconds: float
    consensus_seconds: float
    job_id: int
    run_id: int
    run_status: str
    run_error: str = ""  # a failed run's error (its exception's type and message)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def replay_run(
    *,
    folder: Path,
    gold_fraction: float = 0.0,
    method: str = "quorum",
    seed: int = 0,
    gold_in_fit: bool = True,
    subsample_k: int | None = None,
    repeats: Repeats = "last",
) -> ReplayReport:
    """Import the folder into a fresh job, run consensus, score it. `gold_in_fit=False` splits the
    truth as for `gold_fraction` but gives the job no gold (scoring the same held-out items).
    `subsample_k` keeps that many judgments per item (seeded by `seed`); `repeats` is the rule
    for a worker's repeated judgments of one item ("last", "first" or "drop")."""
    if not 0.0 <= gold_fraction < 1.0:
        raise ValueError("gold fraction must be at least 0 and below 1")
    started = time.perf_counter()
    data = load_dataset(folder, repeats=repeats)
    votes = data.votes if subsample_k is None else subsample(data.votes, subsample_k, seed)
    held_gold, held_out = (
        split_gold(data.truth, share=gold_fraction, seed=seed)
        if gold_fraction
        else ({}, data.truth)
    )
    gold = held_gold if gold_in_fit else {}
    names = list(votes.label_set) + sorted({str(v) for v in gold.values()} - set(votes.label_set))
    keys = _label_keys(names)
    try:  # the API's own rule: figures for a job no client could make would describe nothing
        labels = labels_validate([{"key": key, "name": name} for key, name in zip(keys, names, strict=True)])
    except ApplicationError as exc:
        raise ValueError(f"the data set's labels would be refused for a job: {exc.message}") from None
    job = _job_create(folder.name, labels)
    item_names, item_pos = np.unique(votes.items, return_inverse=True)
    worker_names, worker_pos = np.unique(votes.workers, return_inverse=True)
    item_ids, gold_codes = _items_create(job, item_names, gold, names)
    worker_ids = workers_bulk_create(job=job, count=len(worker_names))
    code_map = np.array([names.index(label) for label in votes.label_set], dtype=np.int64)
    codes = code_map[votes.codes] if len(votes) else votes.codes
    judgments_bulk_create(
        job=job,
        item_ids=item_ids[item_pos],
        worker_ids=worker_ids[worker_pos],
        codes=codes,
        gold_codes=gold_codes[item_pos],
        keys=keys,
    )
    import_seconds = time.perf_counter() - started
    run = consensus_run(job=job, method=method, trigger=ConsensusRun.Trigger.REPLAY)
    accuracy, scored = _score(
        run, item_names, item_ids, held_out, dict(zip(keys, names, strict=True))
    )
    return ReplayReport(
        accuracy=accuracy,
        method=method,
        items_scored=scored,
        items=len(item_names),
        workers=len(worker_names),
        judgments=len(votes),
        seconds=round(time.perf_counter() - started, 3),
        gold_items=int((gold_codes >= 0).sum()),
        gold_in_fit=gold_in_fit,
        rows_read=data.rows_read,
        repeated_rows_dropped=data.repeated_rows_dropped,
        repeated_pairs=data.repeated_pairs,
        blank_rows_dropped=data.blank_rows_dropped,
        truth_blank_rows_dropped=data.truth_blank_rows_dropped,
        repeats=data.repeats,
        subsample=subsample_k,
        seed=seed,
        import_seconds=round(import_seconds, 3),
        consensus_seconds=round(run.seconds or 0.0, 3),
        job_id=job.pk,
        run_id=run.pk,
        run_status=run.status,
        run_error=run.error,
    )


def _label_keys(names: list[str]) -> list[str]:
    """Job label keys for the data's labels, one each: the label itself where it is a valid key
    not taken yet, else `label-<k>`, numbered on where even that is taken (a data set may hold
    both "label-1" and a label that is no key)."""
    keys: list[str] = []
    for k, name in enumerate(names):
        key = name if KEY_RE.match(name) and name not in keys else f"label-{k}"
        base, n = key, 1
        while key in keys:
            n += 1
            key = f"{base}-{n}"
        keys.append(key)
    return keys


def _job_create(title: str, labels: list[dict[str, str]]) -> Job:
    org, _ = Organization.objects.get_or_create(slug=REPLAY_ORG_SLUG, defaults={"name": "Replay"})
    return Job.objects.create(
        organization=org,
        title=f"Replay of {title}"[:200],
        labels=labels,
        status=JobStatus.DRAFT,
        gold_rate=0,
    )


def _items_create(
    job: Job, item_names: npt.NDArray[Any], gold: dict[str, str], names: list[str]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(item id per item name, gold label code per item name or -1), items inserted in bulk."""
    keys = job.label_keys
    gold_codes = np.array(
        [names.index(gold[n]) if n in gold else -1 for n in item_names.tolist()], dtype=np.int64
    )
    rows: dict[bool, list[ItemRow]] = {False: [], True: []}
    order: dict[bool, list[int]] = {False: [], True: []}
    for position, name in enumerate(item_names.tolist()):
        is_gold = bool(gold_codes[position] >= 0)
        external_id = name if len(name) <= _EXTERNAL_ID_MAX else None
        label = keys[gold_codes[position]] if is_gold else None
        rows[is_gold].append(
            ItemRow(data={"name": name}, external_id=external_id, gold_label=label)
        )
        order[is_gold].append(position)
    ids = np.empty(len(item_names), dtype=np.int64)
    for is_gold in (False, True):
        if rows[is_gold]:
            item_bulk_create(job=job, rows=rows[is_gold], gold=is_gold)
            # Fresh job, one import at a time: ids ascend in insertion order.
            new = (
                Item.objects.filter(job=job, is_gold=is_gold)
                .order_by("id")
                .values_list("id", flat=True)
            )
            ids[order[is_gold]] = np.fromiter(new, dtype=np.int64, count=len(rows[is_gold]))
    return ids, gold_codes


def workers_bulk_create(*, job: Job, count: int) -> npt.NDArray[np.int64]:
    """One worker account per worker name (no usable password): replay-<job>-<n>."""
    password = make_password(None)
    users = User.objects.bulk_create(
        (
            User(username=f"replay-{job.pk}-{n}", role=Role.WORKER, password=password)
            for n in range(count)
        ),
        batch_size=2_000,
    )
    return np.array([user.pk for user in users], dtype=np.int64)


@transaction.atomic
def judgments_bulk_create(
    *,
    job: Job,
    item_ids: npt.NDArray[np.int64],
    worker_ids: npt.NDArray[np.int64],
    codes: npt.NDArray[np.int64],
    gold_codes: npt.NDArray[np.int64],
    keys: list[str],
) -> None:
    """Insert accepted judgments from parallel arrays (COPY on PostgreSQL) and set the counters.

    `codes` index `keys`; `gold_codes` is the gold label code of each judgment's item, or -1.
    For imports into a job nobody works on (replays, benchmarks): no leases, no pay.
    """
    is_gold = gold_codes >= 0
    correct = np.where(is_gold, codes == gold_codes, False)
    now = timezone.now()
    if connection.vendor == "postgresql":
        _copy_judgments(job, item_ids, worker_ids, codes, is_gold, correct, keys, now)
    else:
        _bulk_judgments(job, item_ids, worker_ids, codes, is_gold, correct, keys, now)
    gold_count = int(is_gold.sum())
    # The job's judgment counts become these (its tallies: the adjustment shard holds them all).
    JobTally.objects.filter(job=job).exclude(shard=JobTally.ADJUSTMENTS).update(judgments=0, gold_judgments=0)
    JobTally.objects.update_or_create(
        job=job, shard=JobTally.ADJUSTMENTS,
        defaults={"judgments": len(codes) - gold_count, "gold_judgments": gold_count},
    )
    _item_counts_set(job)


def _item_counts_set(job: Job) -> None:
    """Item.judgment_count from the judgments just inserted (non-gold items)."""
    if (
        connection.vendor == "postgresql"
    ):  # one grouped pass: a correlated subquery per item is slower
        item, judgment = Item._meta.db_table, Judgment._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {item} SET judgment_count = c.n FROM (SELECT item_id, COUNT(*) AS n FROM {judgment} "
                f"WHERE job_id = %s GROUP BY item_id) AS c WHERE {item}.id = c.item_id AND {item}.is_gold = false",
                [job.pk],
            )
        return
    counts = (
        Judgment.objects.filter(item=OuterRef("pk"))
        .order_by()
        .values("item")
        .annotate(n=Count("id"))
        .values("n")
    )
    Item.objects.filter(job=job, is_gold=False).update(judgment_count=Subquery(counts))


Ids = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]


def _copy_judgments(
    job: Job, item_ids: Ids, worker_ids: Ids, codes: Ids, is_gold: Flags, correct: Flags, keys: list[str],
    now: datetime,
) -> None:
    # Label keys match KEY_RE (no tab, newline or backslash): safe in COPY's text format as they are.
    label_text = np.asarray(keys, dtype=object)
    correct_text = np.where(is_gold, np.where(correct, "t", "f"), "\\N").astype(object)
    gold_text = np.where(is_gold, "t", "f").astype(object)
    tail = f"\t{JudgmentStatus.ACCEPTED.value}\t{now.isoformat()}\n"
    head = f"{job.pk}\t"
    blocks = (
        "".join(
            f"{head}{i}\t{w}\t{label}\t{g}\t{c}{tail}"
            for i, w, label, g, c in zip(
                item_ids[part].tolist(), worker_ids[part].tolist(), label_text[codes[part]].tolist(),
                gold_text[part].tolist(), correct_text[part].tolist(), strict=True,
            )
        )
        for part in (slice(start, start + _BATCH) for start in range(0, len(codes), _BATCH))
    )
    copy_lines(Judgment, "job_id, item_id, worker_id, label, is_gold, is_correct, status, created_at", blocks)


def _bulk_judgments(
    job: Job, item_ids: Ids, worker_ids: Ids, codes: Ids, is_gold: Flags, correct: Flags, keys: list[str],
    now: datetime,
) -> None:
    labels = np.asarray(keys, dtype=object)[codes].tolist()
    gold_flags, right = is_gold.tolist(), correct.tolist()
    rows = zip(item_ids.tolist(), worker_ids.tolist(), labels, gold_flags, right, strict=True)
    Judgment.objects.bulk_create(
        (
            Judgment(
                job=job,
                item_id=i,
                worker_id=w,
                label=label,
                is_gold=g,
                is_correct=(c if g else None),
            )
            for i, w, label, g, c in rows
        ),
        batch_size=2_000,
    )


def _score(
    run: ConsensusRun,
    item_names: npt.NDArray[Any],
    item_ids: npt.NDArray[np.int64],
    truth: dict[str, str],
    label_of_key: dict[str, str],
) -> tuple[float, int]:
    """Share of held-out truth items given their true label, and how many were scored."""
    if run.status != ConsensusRun.Status.SUCCEEDED:
        return float("nan"), 0
    chosen = dict(
        ItemResult.objects.filter(run=run)
        .values_list("item_id", "label")
        .iterator(chunk_size=20_000)
    )
    id_of = dict(zip(item_names.tolist(), item_ids.tolist(), strict=True))
    hits = scored = 0
    for name, label in truth.items():
        item_id = id_of.get(name)
        if item_id is None or item_id not in chosen:
            continue
        scored += 1
        hits += label_of_key[chosen[item_id]] == label
    return (hits / scored if scored else float("nan")), scored
