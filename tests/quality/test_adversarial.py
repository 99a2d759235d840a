"""The adversarial crowd (issue 3, must-show 3): spammers and constant answerers are caught on
gold within their first 20 gold answers, their items are relabeled by others, and consensus
still reaches 95% accuracy.

25 simulated workers take turns through the real claim and submit path (lease_claim and the
submit flow, so judgment_assess applies the standard tier's default rules): 15 good workers
(accuracy 0.85, mistakes spread over the other labels), 5 uniform spammers and 5 workers who
always answer "cat". 300 items with a uniform true label over three labels, overlap 5, 60 gold
items (20 per label), gold rate 0.3. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from marketplace.errors import NothingLeft, NotQualified
from marketplace.flows import work_submit
from marketplace.jobs.models import Job, JobStatus
from marketplace.jobs.services import ItemRow, item_bulk_create
from marketplace.labeling import claiming
from marketplace.labeling.models import JobBlock, Judgment, JudgmentStatus
from marketplace.labeling.services import lease_claim
from marketplace.quality.models import ItemResult, QualityEvent, WorkerJobStats
from marketplace.quality.runs import consensus_run
from tests.factories import THREE_LABELS, JobFactory, WorkerFactory, publish_funded

LABELS = [choice["key"] for choice in THREE_LABELS]
ITEMS, GOLD_PER_LABEL, OVERLAP = 300, 20, 5
GOOD, SPAMMERS, CONSTANT = 15, 5, 5


def _job(rng: random.Random) -> tuple[Job, dict[int, str]]:
    job = JobFactory(overlap=OVERLAP, gold_rate=Decimal("0.3"), tier="standard")
    truth_of_row = [rng.choice(LABELS) for _ in range(ITEMS)]
    item_bulk_create(
        job=job, rows=[ItemRow(data={"n": n}, external_id=f"i{n}") for n in range(ITEMS)], gold=False
    )
    gold_rows = [
        ItemRow(data={"g": f"{label}{k}"}, external_id=f"g-{label}-{k}", gold_label=label)
        for label in LABELS for k in range(GOLD_PER_LABEL)
    ]
    item_bulk_create(job=job, rows=gold_rows, gold=True)
    job.refresh_from_db()
    job = publish_funded(job)  # funded and published through the flow, escrow and all
    truth = {}
    for item_id, external_id, gold_label in job.items.values_list("id", "external_id", "gold__label"):
        truth[item_id] = gold_label or truth_of_row[int(external_id[1:])]
    return job, truth


def _answer(kind: str, true_label: str, rng: random.Random) -> str:
    if kind == "good":
        return true_label if rng.random() < 0.85 else rng.choice([x for x in LABELS if x != true_label])
    if kind == "spammer":
        return rng.choice(LABELS)
    return "cat"  # constant answerer


@pytest.mark.django_db(transaction=True)  # the completion trigger's consensus run fires on commit
def test_an_adversarial_crowd_is_caught_on_gold_and_consensus_stays_accurate(settings: Any) -> None:
    settings.QUORUM_TASKS = "inline"
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 0  # no periodic runs while simulating
    settings.QUORUM_CONSENSUS_EVERY_MINUTES = 0
    rng = random.Random(20240603)
    claiming._rng.seed(11)
    job, truth = _job(rng)
    kinds = ["good"] * GOOD + ["spammer"] * SPAMMERS + ["constant"] * CONSTANT
    workers = [(WorkerFactory(username=f"{kind}{n}"), kind) for n, kind in enumerate(kinds)]
    kind_of = {worker.pk: kind for worker, kind in workers}

    active = list(workers)
    rng.shuffle(active)
    while active:  # round robin: every worker still in the job takes one item per turn
        for worker, kind in list(active):
            try:
                lease = lease_claim(worker=worker, job=job)
            except (NothingLeft, NotQualified):
                active.remove((worker, kind))
                continue
            seconds = "1" if kind != "good" else str(rng.randint(4, 30))
            label = _answer(kind, truth[lease.item_id], rng)
            work_submit(worker=worker, lease_id=lease.pk, label=label, seconds_spent=seconds)

    job.refresh_from_db()
    bad = {pk for pk, kind in kind_of.items() if kind != "good"}
    blocked = set(JobBlock.objects.filter(job=job).values_list("worker_id", flat=True))
    assert blocked == bad, "every spammer and constant answerer is blocked, and no good worker"
    gold_at_block = {
        event.worker_id: event.evidence["gold"]["seen"]
        for event in QualityEvent.objects.filter(job=job, kind=QualityEvent.Kind.BLOCKED)
    }
    assert all(seen <= 20 for seen in gold_at_block.values()), gold_at_block

    # Relabeled: every regular item ends with exactly 5 accepted judgments, none by a blocked worker.
    accepted = Judgment.objects.filter(job=job, status=JudgmentStatus.ACCEPTED, is_gold=False)
    per_item = Counter(accepted.values_list("item_id", flat=True))
    assert len(per_item) == ITEMS and set(per_item.values()) == {OVERLAP}
    assert not accepted.filter(worker_id__in=bad).exists()
    dropped = Judgment.objects.filter(job=job, status=JudgmentStatus.DROPPED, is_gold=False).count()
    assert dropped > 0 and job.status == JobStatus.COMPLETED and job.judgment_count == ITEMS * OVERLAP

    run = consensus_run(job=job)
    assert run.status == "succeeded", run.error
    results = dict(
        ItemResult.objects.filter(run=run, item__is_gold=False).values_list("item_id", "label")
    )
    correct = sum(results[item] == truth[item] for item in results)
    accuracy = correct / len(results)
    good_stats = WorkerJobStats.objects.filter(job=job).exclude(worker_id__in=bad)
    flagged = sorted(kind_of[pk] for pk in WorkerJobStats.objects.filter(
        job=job, flagged_fast_at__isnull=False).values_list("worker_id", flat=True))
    print(
        f"\nadversarial crowd: consensus accuracy {accuracy:.4f} on {len(results)} regular items "
        f"({run.method}); gold answers at block per bad worker: "
        f"{sorted((kind_of[pk], seen) for pk, seen in gold_at_block.items())}; "
        f"regular judgments dropped and relabeled: {dropped}; good workers' gold seen: "
        f"{sorted(good_stats.values_list('gold_seen', flat=True))}; flagged fast: {flagged}"
    )
    assert len(results) == ITEMS and accuracy >= 0.95
