"""Must show 4: dynamic overlap keeps fixed overlap 5's accuracy with at least 30% fewer judgments.

One synthetic crowd labels the same 300 items twice through the real claim and submit path
(labeling.lease_claim + flows.work_submit, gold mixed in at the job's gold rate and scored):
once with a fixed overlap of 5, once with a minimum of 2, a maximum of 7 and a target
confidence of 0.95. Consensus runs while the jobs run, through the real periodic trigger (after
100 judgments, then each time they double; run inline on commit, hence a transactional test):
until the first run the judge weighs workers by their gold answers, afterwards by the run's
confusion matrices. The second job's workers also start from the global skill the first job
gave them (its gold answers and runs), as a marketplace's returning workers would. At the end
consensus runs once per job on all its judgments, and each is scored against the truth.

Both passes use the same answers: worker w's label for item i is drawn once, so the two jobs
differ only in how many judgments each item gets (and which workers happen to give them).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from marketplace import flows
from marketplace.accounts.models import User
from marketplace.consensus import Votes, aggregate
from marketplace.errors import NothingLeft, NotQualified
from marketplace.jobs.models import GoldAnswer, Job
from marketplace.jobs.services import ItemRow, item_bulk_create
from marketplace.labeling import claiming
from marketplace.labeling.services import lease_claim
from marketplace.quality import overlap
from marketplace.quality.models import ConsensusRun, ExpertReview, WorkerJobStats
from marketplace.quality.reading import judgment_arrays
from tests.factories import THREE_LABELS, JobFactory, WorkerFactory, publish_funded

pytestmark = pytest.mark.django_db(transaction=True)  # runs start on commit

LABELS = [choice["key"] for choice in THREE_LABELS]
N_ITEMS, N_GOLD, N_WORKERS, SEED = 300, 30, 20, 4


@dataclass(frozen=True)
class Crowd:
    accuracy: np.ndarray  # per worker
    truth: np.ndarray  # label code per regular item
    gold_truth: np.ndarray  # label code per gold item
    answers: np.ndarray  # (items, workers): what worker w answers for item i
    gold_answers: np.ndarray  # (gold items, workers)


def crowd_draw(seed: int) -> Crowd:
    rng = np.random.default_rng(seed)
    k = len(LABELS)
    accuracy = rng.uniform(0.65, 0.95, N_WORKERS)

    def answers_for(truth: np.ndarray) -> np.ndarray:
        right = rng.random((len(truth), N_WORKERS)) < accuracy
        wrong = (truth[:, None] + rng.integers(1, k, (len(truth), N_WORKERS))) % k
        return np.where(right, truth[:, None], wrong)

    truth, gold_truth = rng.integers(0, k, N_ITEMS), rng.integers(0, k, N_GOLD)
    return Crowd(accuracy, truth, gold_truth, answers_for(truth), answers_for(gold_truth))


@dataclass(frozen=True)
class Outcome:
    runs: int  # consensus runs that succeeded while (and when) the job ran
    accuracy: float
    judgments: int
    gold_judgments: int
    to_experts: int
    accuracy_with_experts: float  # if experts settled their items right
    seconds: float


def run_job(crowd: Crowd, workers: list[User], **overlap_fields: object) -> Outcome:
    job = JobFactory(gold_rate=Decimal("0.2"), **overlap_fields)
    item_bulk_create(
        job=job,
        rows=[ItemRow(data={"n": i}, external_id=f"i{i}") for i in range(N_ITEMS)],
        gold=False,
    )
    item_bulk_create(
        job=job,
        rows=[
            ItemRow(data={"g": g}, external_id=f"g{g}", gold_label=LABELS[int(code)])
            for g, code in enumerate(crowd.gold_truth)
        ],
        gold=True,
    )
    job.refresh_from_db()
    job = publish_funded(job)  # funded and published through the flow, escrow and all
    order = random.Random(SEED)  # which worker asks next: the same sequence for both jobs
    idle = list(range(len(workers)))
    started = time.perf_counter()
    while idle:
        w = order.choice(idle)
        try:
            lease = lease_claim(worker=workers[w], job=job)
        except (NothingLeft, NotQualified):  # done, or blocked by a quality rule
            idle.remove(w)
            continue
        kind, n = lease.item.external_id[0], int(lease.item.external_id[1:])
        table = crowd.answers if kind == "i" else crowd.gold_answers
        flows.work_submit(worker=workers[w], lease_id=lease.pk, label=LABELS[int(table[n, w])])
    seconds = time.perf_counter() - started
    return score(job, crowd, seconds)


def score(job: Job, crowd: Crowd, seconds: float) -> Outcome:
    job.refresh_from_db()
    assert WorkerJobStats.objects.filter(job=job, gold_seen__gt=0).exists(), (
        "gold answers must be scored into WorkerJobStats by the submit flow"
    )
    arrays = judgment_arrays(job_id=job.pk, label_set=LABELS)
    gold = dict(GoldAnswer.objects.filter(item__job=job).values_list("item_id", "label"))
    result = aggregate(
        Votes(items=arrays.items, workers=arrays.workers, codes=arrays.codes, label_set=tuple(LABELS)),
        gold=gold, labels=LABELS,
    )
    found = result.item_labels()
    ids = dict(job.items.filter(is_gold=False).values_list("external_id", "pk"))
    reviewed = set(ExpertReview.objects.filter(job=job).values_list("item_id", flat=True))
    right = right_with_experts = 0
    for i, code in enumerate(crowd.truth.tolist()):
        pk = ids[f"i{i}"]
        ok = found.get(pk) == LABELS[code]
        right += ok
        right_with_experts += ok or pk in reviewed
    return Outcome(
        runs=ConsensusRun.objects.filter(job=job, status=ConsensusRun.Status.SUCCEEDED).count(),
        accuracy=right / N_ITEMS,
        judgments=job.judgment_count,
        gold_judgments=job.gold_judgment_count,
        to_experts=len(reviewed),
        accuracy_with_experts=right_with_experts / N_ITEMS,
        seconds=seconds,
    )


def judge_timings(*, job: Job) -> list[float]:
    """Seconds per `more_wanted` call, one fresh judge per call as in a submit, on every item."""
    timings = []
    for item_id, judgments in job.items.filter(is_gold=False).values_list("pk", "judgment_count"):
        begun = time.perf_counter()
        overlap.OverlapJudge().more_wanted(item_id, judgments, 7)
        timings.append(time.perf_counter() - begun)
    return timings


def test_dynamic_overlap_matches_fixed_overlap_5_with_30_percent_fewer_judgments(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: Any
) -> None:
    settings.QUORUM_TASKS = "inline"
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 100  # the default: 100, 200, 400, 800, 1600
    settings.QUORUM_CONSENSUS_EVERY_MINUTES = 0
    # Gold draws are random in claiming; seed them so the two passes are repeatable.
    monkeypatch.setattr(claiming, "_rng", random.Random(SEED))
    crowd = crowd_draw(SEED)
    workers = [WorkerFactory() for _ in range(N_WORKERS)]
    fixed = run_job(crowd, workers, overlap=5)
    monkeypatch.setattr(claiming, "_rng", random.Random(SEED))
    dynamic = run_job(
        crowd, workers, overlap=2, max_overlap=7, target_confidence=Decimal("0.95")
    )
    saving = 1 - dynamic.judgments / fixed.judgments
    timings = judge_timings(job=Job.objects.latest("id"))
    with capsys.disabled():
        print(
            f"\nsynthetic crowd: {N_ITEMS} items, {N_WORKERS} workers (accuracy 0.65-0.95), 3 labels, "
            f"{N_GOLD} gold items at gold rate 0.2"
        )
        for name, o in (("fixed overlap 5", fixed), ("dynamic 2..7 @0.95", dynamic)):
            print(
                f"  {name:<19} accuracy {o.accuracy:.4f}  judgments {o.judgments} (+{o.gold_judgments} gold)"
                f"  to experts {o.to_experts}  accuracy if experts settle them {o.accuracy_with_experts:.4f}"
                f"  runs {o.runs}  {o.seconds:.1f}s"
            )
        print(
            f"  judgments saved {saving:.1%}; accuracy difference {100 * (dynamic.accuracy - fixed.accuracy):+.2f}"
            f" points; judge: {len(timings)} calls, median {1000 * float(np.median(timings)):.2f} ms,"
            f" p95 {1000 * float(np.percentile(timings, 95)):.2f} ms"
        )
    assert dynamic.accuracy >= fixed.accuracy - 0.005
    assert saving >= 0.30
    assert dynamic.runs >= 2  # the judge worked from runs, not only from gold
