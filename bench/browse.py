"""python -m bench browse [--items=N] [--repeat=R]: data browser page latencies, 1M items by default.

In a throwaway database (bench._db) one job gets N items (1 % gold, every item with an external
id and a small JSON record), put in by COPY, and one succeeded consensus run whose per-item rows
(label, confidence, agreement, posterior) are synthetic and COPYed too: this measures the reads,
not a fit (bench/consensus_run.py times those). 1 % of the items are in expert review. A model
predicted every item (the run's label 85 % of the time), so every page shows its prediction
beside the consensus (quality/browse_model.py). Then ANALYZE of the filled tables, as
autovacuum would leave the statistics (bench._db.analyze_filled; none of this is timed).

Each case is one page of 50 rows, run R times (20 by default): `items_browse` in process (the
SQL and the row objects), then the whole API request in process (GET /api/v1/jobs/<id>/browse/
through Django and DRF, JSON rendered). Printed: median and worst milliseconds per case. Deep
pages start from a cursor in the middle of the job, as a client that walked there holds one;
`walk` follows next_cursor for 20 pages from there to show pages stay flat. The target: every
page under 100 ms on PostgreSQL.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from bench._options import int_options
from bench._db import analyze_filled, bench_database
from marketplace.accounts.models import Organization, Role, User
from marketplace.jobs.models import Item, Job, PredictionModel
from marketplace.quality import browsing
from marketplace.quality.browse_params import BrowseFilter, Cursor, browse_filter_parse, cursor_parse
from marketplace.quality.models import ConsensusRun, ExpertReview, ItemResult

LABELS = ("cat", "dog", "bird")
PAGE = 50
BATCH = 100_000


DEFAULTS = {"items": 1_000_000, "repeat": 20}


def _options(argv: list[str]) -> dict[str, int]:
    return int_options(argv, DEFAULTS)


def _copy(table: str, columns: str, blocks: Any) -> None:
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for block in blocks:
                copy.write(block)


def _job(n: int) -> tuple[Job, User, np.ndarray]:
    org = Organization.objects.create(name="Bench", slug="bench-browse")
    client = User.objects.create(username="bench-client", role=Role.CLIENT, organization=org)
    job = Job.objects.create(
        organization=org, title="Bench browse", status="completed",
        labels=[{"key": key, "name": key.title(), "shortcut": key[0]} for key in LABELS],
    )
    now = timezone.now().isoformat()
    gold = np.arange(n) % 100 == 99

    def items() -> Any:
        for start in range(0, n, BATCH):
            yield "".join(
                f"{job.pk}\titem-{i:07d}\t{{\"text\": \"Picture {i} of a {LABELS[i % 3]}\", "
                f"\"url\": \"https://img.example.com/{i}.jpg\"}}\t{'t' if gold[i] else 'f'}\t0\t3\t0\tt\tt\t{now}\n"
                for i in range(start, min(n, start + BATCH))
            )

    _copy("jobs_item", "job_id, external_id, data, is_gold, priority, judgment_count, extra_judgments, "
          "started, is_complete, created_at", items())
    ids = np.fromiter(Item.objects.filter(job=job).order_by("id").values_list("id", flat=True), np.int64, n)
    Job.objects.filter(pk=job.pk).update(item_count=int((~gold).sum()), gold_item_count=int(gold.sum()))
    return job, client, ids


def _results(job: Job, ids: np.ndarray) -> ConsensusRun:
    """A succeeded run with a synthetic result per item: confidence spread over 0.34..1."""
    now = timezone.now()
    run = ConsensusRun.objects.create(
        job=job, method="quorum", status="succeeded", started_at=now, finished_at=now, items=len(ids),
    )
    rng = np.random.default_rng(0)
    confidence = np.round(np.clip(1 - rng.beta(1, 6, len(ids)), 0.34, 1.0), 6)
    agreement = np.round(rng.choice([1 / 3, 2 / 3, 1.0], len(ids), p=[0.1, 0.3, 0.6]), 6)
    label = rng.integers(0, 3, len(ids))

    def rows() -> Any:
        for start in range(0, len(ids), BATCH):
            part = slice(start, start + BATCH)
            lines = []
            for pk, c, agree, chosen in zip(ids[part].tolist(), confidence[part].tolist(),
                                            agreement[part].tolist(), label[part].tolist(), strict=True):
                rest = round((1 - c) / 2, 6)
                probabilities = json.dumps({key: (c if j == chosen else rest) for j, key in enumerate(LABELS)})
                lines.append(f"{run.pk}\t{pk}\t{LABELS[chosen]}\t{c!r}\t{probabilities}\t3\t{agree!r}\n")
            yield "".join(lines)

    _copy("quality_itemresult", "run_id, item_id, label, confidence, probabilities, judgments, agreement", rows())
    _predictions(job, run, ids, label, rng)
    reviewed = ids[::100]
    ExpertReview.objects.bulk_create(
        [ExpertReview(item_id=int(pk), job=job, reason="bench", confidence=0.5) for pk in reviewed],
        batch_size=5_000,
    )
    return run


def _predictions(job: Job, run: ConsensusRun, ids: np.ndarray, label: np.ndarray, rng: Any) -> None:
    """A model that gives the run's label 85 % of the time, measured so in the run's parameters."""
    model = PredictionModel.objects.create(organization_id=job.organization_id, name="bench-model", version="1")
    predicted = np.where(rng.random(len(ids)) < 0.85, label, (label + rng.integers(1, 3, len(ids))) % 3)
    now = timezone.now().isoformat()

    def rows() -> Any:
        for start in range(0, len(ids), BATCH):
            part = slice(start, start + BATCH)
            yield "".join(f"{job.pk}\t{pk}\t{model.pk}\t{LABELS[code]}\t{now}\n"
                          for pk, code in zip(ids[part].tolist(), predicted[part].tolist(), strict=True))

    _copy("jobs_prediction", "job_id, item_id, model_id, label, updated_at", rows())
    ConsensusRun.objects.filter(pk=run.pk).update(parameters={
        "crowd": {"accuracy": 0.8, "confusion": None},
        "models": [{"model_id": model.pk, "name": model.name, "version": model.version, "accuracy": 0.85,
                    "items": len(ids), "agreement": 0.85, "confusion": None, "blind": None}],
    })


def _ms(action: Callable[[], Any], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def _cases(job: Job, ids: np.ndarray) -> list[tuple[str, dict[str, str], Cursor | None]]:
    middle = int(ids[len(ids) // 2])
    conf_middle = float(ItemResult.objects.get(item_id=middle).confidence)
    prefix = f"item-{len(ids) // 2:07d}"[:-2]  # 100 items share it
    return [
        ("first page, by id", {}, None),
        ("deep page (middle), by id", {}, Cursor(sort="id", item_id=middle)),
        ("deep page (middle), newest first", {"sort": "-id"}, Cursor(sort="-id", item_id=middle)),
        ("confidence <= 0.6, by id", {"confidence_max": "0.6"}, None),
        ("confidence <= 0.6, deep", {"confidence_max": "0.6"}, Cursor(sort="id", item_id=middle)),
        ("least confident first", {"sort": "confidence"}, None),
        ("by confidence, deep", {"sort": "confidence"}, Cursor(sort="confidence", item_id=middle, confidence=conf_middle)),
        ("label=dog, least confident first", {"label": "dog", "sort": "confidence"}, None),
        ("agreement < 0.5 (disagreement)", {"agreement_below": "0.5"}, None),
        ("gold only", {"gold": "yes"}, None),
        ("expert review open", {"expert": "open"}, None),
        ("not judged (matches nothing)", {"judged": "no"}, None),
        (f"external id prefix {prefix}", {"external_id": prefix}, None),
        ("text 'Picture 77' (bounded window)", {"q": "Picture 77"}, None),
        ("label=bird & conf 0.5..0.9 & not gold", {"label": "bird", "confidence_min": "0.5",
                                                   "confidence_max": "0.9", "gold": "no"}, None),
        ("model disagrees with the consensus", {"model_agrees": "no"}, None),
        ("model disagrees, deep", {"model_agrees": "no"}, Cursor(sort="id", item_id=middle)),
        ("model disagrees, least confident first", {"model_agrees": "no", "sort": "confidence"}, None),
    ]


def run(argv: list[str]) -> None:
    options = _options(argv)
    n, repeat = options["items"], options["repeat"]
    with bench_database() as vendor:
        started = time.perf_counter()
        job, client, ids = _job(n)
        _results(job, ids)
        analyze_filled()
        print(f"{n:,} items with consensus results on {vendor} in {time.perf_counter() - started:.1f} s "
              f"(not timed below); pages of {PAGE} rows, {repeat} runs each")
        api = APIClient(SERVER_NAME="localhost")  # an allowed host under the default settings
        api.force_authenticate(client)
        url = f"/api/v1/jobs/{job.pk}/browse/"
        print(f"{'case':<42}{'rows':>5}{'select p50':>12}{'max':>8}{'API p50':>10}{'max':>8}  ms")
        worst_median = worst = 0.0
        for name, params, cursor in _cases(job, ids):
            filters = browse_filter_parse(params, labels=list(LABELS))
            page = browsing.items_browse(job=job, filters=filters, cursor=cursor, page_size=PAGE)
            select = _ms(lambda f=filters, c=cursor: browsing.items_browse(job=job, filters=f, cursor=c, page_size=PAGE), repeat)
            query = {**params, "page_size": str(PAGE), **({"cursor": cursor.encode()} if cursor else {})}
            answer = api.get(url, query)
            assert answer.status_code == 200, answer.content[:200]
            over_api = _ms(lambda q=query: api.get(url, q), repeat)
            worst_median, worst = max(worst_median, over_api[0]), max(worst, over_api[1])
            print(f"{name:<42}{len(page.rows):>5}{select[0]:12.1f}{select[1]:8.1f}{over_api[0]:10.1f}{over_api[1]:8.1f}")
        print(f"walk: 20 pages by confidence from the middle: {_walk(job, ids):.1f} ms per page (median)")
        verdict = "under" if worst_median < 100 else "OVER"
        print(f"slowest case's API median: {worst_median:.1f} ms ({verdict} the 100 ms target); "
              f"slowest single API page: {worst:.1f} ms")


def _walk(job: Job, ids: np.ndarray) -> float:
    """Follow next_cursor 20 pages from the middle, sorted by confidence: each page as fast."""
    middle = int(ids[len(ids) // 2])
    conf = float(ItemResult.objects.get(item_id=middle).confidence)
    cursor: Cursor | None = Cursor(sort="confidence", item_id=middle, confidence=conf)
    filters = BrowseFilter(sort="confidence")
    times = []
    for _ in range(20):
        started = time.perf_counter()
        page = browsing.items_browse(job=job, filters=filters, cursor=cursor, page_size=PAGE)
        times.append((time.perf_counter() - started) * 1000)
        if page.next_cursor is None:
            break
        cursor = cursor_parse({"cursor": page.next_cursor.encode()}, sort="confidence")
    return statistics.median(times)
