"""Dynamic overlap: an item completes once the crowd is sure of it, or at the maximum overlap.

Cast: Acme's job asks for 2 judgments at least, 5 at most, and a confidence of 0.95. Its
workers have answered gold already (WorkerJobStats), so the judge knows how far to trust them;
some have a record in other jobs too (their global skill: gold answers and consensus runs).
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace import flows
from marketplace.accounts.models import User
from marketplace.errors import NothingLeft
from marketplace.jobs.models import Item, Job
from marketplace.labeling import claiming
from marketplace.labeling.models import Judgment
from marketplace.labeling.services import judgment_submit_outcome, lease_claim
from marketplace.quality.models import (
    ConsensusRun,
    ExpertReview,
    QualityEvent,
    WorkerJobStats,
    WorkerResult,
    WorkerRunShare,
)
from marketplace.quality.runs import consensus_run
from marketplace.quality.skills import worker_skill_gold, worker_skills
from tests.quality.run_helpers import judged_job
from marketplace.consensus.dynamic import DEFAULT_MODEL
from marketplace.quality.overlap import OverlapJudge
from tests.factories import WorkerFactory, open_job_with_items

pytestmark = pytest.mark.django_db


def dynamic_job(*, items: int = 1, low: int = 2, high: int = 5, target: str = "0.95") -> Job:
    return open_job_with_items(
        items=items, overlap=low, max_overlap=high, target_confidence=Decimal(target)
    )


def proven_workers(job: Job, n: int, *, seen: int = 20, correct: int = 19) -> list[User]:
    """Workers whose gold record in the job is `correct` out of `seen`."""
    workers = [WorkerFactory() for _ in range(n)]
    for worker in workers:
        WorkerJobStats.objects.create(job=job, worker=worker, gold_seen=seen, gold_correct=correct)
    return workers


def submit(worker: User, job: Job, label: str) -> Item:
    """Next item + submit through the real flow; returns the item as it is afterwards."""
    lease = lease_claim(worker=worker, job=job)
    flows.work_submit(worker=worker, lease_id=lease.pk, label=label)
    return Item.objects.get(pk=lease.item_id)


def test_an_item_the_crowd_agrees_on_completes_at_the_minimum_overlap() -> None:
    job = dynamic_job()
    first, second = proven_workers(job, 2)
    assert not submit(first, job, "cat").is_complete
    item = submit(second, job, "cat")
    assert item.is_complete and item.judgment_count == 2 and item.extra_judgments == 0
    assert not ExpertReview.objects.exists()


def test_a_disputed_item_asks_for_one_more_judgment_at_a_time() -> None:
    job = dynamic_job()
    first, second, third = proven_workers(job, 3, seen=20, correct=20)
    submit(first, job, "cat")
    item = submit(second, job, "dog")
    assert not item.is_complete and item.extra_judgments == 1
    item = submit(third, job, "dog")  # 2 against 1 from workers right 21 times in 22: about 0.98
    assert item.is_complete and item.judgment_count == 3


def test_an_item_still_uncertain_at_the_maximum_goes_to_expert_review(alice: User) -> None:
    job = dynamic_job(high=4)
    workers = proven_workers(job, 4)
    for worker, label in zip(workers, ["cat", "dog", "bird", "cat"], strict=True):
        item = submit(worker, job, label)
    assert item.is_complete and item.judgment_count == 4  # the maximum: no fifth judgment
    review = ExpertReview.objects.get(item=item)
    assert review.status == ExpertReview.Status.OPEN and review.job_id == job.pk
    assert review.confidence < 0.95 and "maximum of 4 judgments" in review.reason
    event = QualityEvent.objects.get(kind=QualityEvent.Kind.EXPERT_QUEUED)
    assert event.job_id == job.pk and event.evidence["item"] == item.pk
    assert [j["label"] for j in event.evidence["judgments"]] == ["cat", "dog", "bird", "cat"]
    assert set(event.evidence["posterior"]) == {"cat", "dog", "bird"}
    job.refresh_from_db()
    assert job.status == "completed"  # the crowd's part is done; the expert settles the rest


def test_queueing_twice_opens_one_review_and_logs_one_event() -> None:
    job = dynamic_job(low=2, high=2)
    first, second = proven_workers(job, 2)
    submit(first, job, "cat")
    item = submit(second, job, "dog")
    judge = OverlapJudge()
    assert judge.more_wanted(item.pk, 2, 2) is False  # remembered again...
    judge.queue_uncertain()  # ...but the item already has its review
    assert ExpertReview.objects.filter(item=item).count() == 1
    assert QualityEvent.objects.filter(kind=QualityEvent.Kind.EXPERT_QUEUED).count() == 1


def test_an_item_reopened_before_queueing_goes_back_to_the_crowd_not_to_experts() -> None:
    job = dynamic_job(low=2, high=2)
    first, second = proven_workers(job, 2)
    submit(first, job, "cat")
    lease = lease_claim(worker=second, job=job)
    judge = OverlapJudge()
    judgment_submit_outcome(worker=second, lease_id=lease.pk, label="dog", more_wanted=judge.more_wanted)
    # As when a quality rule drops a judgment in the same submit and reopens the item.
    Item.objects.filter(pk=lease.item_id).update(is_complete=False, extra_judgments=1)
    judge.queue_uncertain()
    assert not ExpertReview.objects.exists()


def test_workers_without_gold_count_for_less_than_proven_ones() -> None:
    job = dynamic_job(target="0.97")
    newcomers = [WorkerFactory(), WorkerFactory()]
    submit(newcomers[0], job, "cat")
    item = submit(newcomers[1], job, "cat")
    # Two newcomers at the stated prior (0.7) agreeing give about 0.92: not enough.
    assert not item.is_complete
    assert DEFAULT_MODEL.crowd_accuracy == 0.7


def test_workers_proven_in_other_jobs_settle_an_item_that_newcomers_could_not() -> None:
    job = dynamic_job(items=2, target="0.97")
    newcomers = [WorkerFactory(), WorkerFactory()]
    veterans = [WorkerFactory(), WorkerFactory()]
    for veteran in veterans:  # 95 of 100 gold answers right, all in other jobs
        for k in range(100):
            worker_skill_gold(worker_id=veteran.pk, correct=k % 20 != 0)
    submit(newcomers[0], job, "cat")
    assert not submit(newcomers[1], job, "cat").is_complete  # two strangers agreeing: about 0.92
    submit(veterans[0], job, "dog")
    assert submit(veterans[1], job, "dog").is_complete  # two proven workers agreeing: above 0.99


def test_gold_answers_build_a_workers_global_skill_across_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(claiming, "_rng", random.Random(7))  # which claims are gold: seeded
    worker = WorkerFactory()
    jobs = []
    for answer in ("cat", "dog"):  # the gold label is "cat": right in the first job, wrong in the second
        job = open_job_with_items(items=6, gold=6, overlap=1, gold_rate=Decimal("0.5"))
        jobs.append(job)
        for _ in range(12):
            try:
                submit(worker, job, answer)
            except NothingLeft:
                break
    right, wrong = (WorkerJobStats.objects.get(job=job, worker=worker) for job in jobs)
    assert right.gold_seen > 0 and wrong.gold_seen > 0
    assert (right.gold_correct, wrong.gold_correct) == (right.gold_seen, 0)
    skill = worker_skills(worker_ids=[worker.pk])[worker.pk]
    assert (skill.right, skill.seen) == (right.gold_seen, right.gold_seen + wrong.gold_seen)


def test_a_consensus_run_adds_its_share_to_the_skill_and_the_next_run_replaces_it(settings: Any) -> None:
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 0
    job = judged_job(items=4, answers=("cat", "cat", "dog"))  # its completion run ran inline
    dissenter = Judgment.objects.filter(job=job, label="dog").values_list("worker_id", flat=True).first()
    judges = set(Judgment.objects.filter(job=job).values_list("worker_id", flat=True))
    first = {w: (s.right, s.seen) for w, s in worker_skills(worker_ids=judges).items()}
    assert len(first) == 3 and all(seen == 4 for _, seen in first.values())
    assert first[dissenter][0] < min(right for w, (right, _) in first.items() if w != dissenter)
    consensus_run(job=job)  # refits the same judgments: the skill must not count them twice
    again = {w: (s.right, s.seen) for w, s in worker_skills(worker_ids=first).items()}
    assert again.keys() == first.keys()
    assert all(again[w] == pytest.approx(first[w]) for w in first)
    share = WorkerRunShare.objects.get(job=job, worker_id=dissenter)
    assert (share.right, share.seen) == pytest.approx(first[dissenter])


def test_a_newcomer_counts_as_the_crowd_the_latest_run_found() -> None:
    job = dynamic_job(target="0.97")
    ConsensusRun.objects.create(
        job=job, method="quorum", status=ConsensusRun.Status.SUCCEEDED, started_at=job.created_at,
        parameters={"priors": [1 / 3] * 3, "crowd": {"accuracy": 0.98, "confusion": None}},
    )
    first, second = WorkerFactory(), WorkerFactory()
    submit(first, job, "bird")
    assert submit(second, job, "bird").is_complete  # two of a very accurate crowd agreeing


def test_the_latest_consensus_run_outweighs_gold_for_the_workers_it_knows() -> None:
    job = dynamic_job()
    spammers = proven_workers(job, 2)  # perfect on gold...
    run = ConsensusRun.objects.create(
        job=job, method="quorum", status=ConsensusRun.Status.SUCCEEDED, started_at=job.created_at,
        parameters={"priors": [0.4, 0.3, 0.3]},
    )
    third = [1 / 3] * 3
    for worker in spammers:  # ...but the run found they answer at random
        WorkerResult.objects.create(run=run, worker=worker, accuracy=0.33, confusion=[third] * 3)
    submit(spammers[0], job, "dog")
    item = submit(spammers[1], job, "dog")
    assert not item.is_complete and item.extra_judgments == 1
    verdict = OverlapJudge().verdict(item_id=item.pk)
    assert verdict is not None and verdict.label == "cat"  # only the run's priors speak
    assert verdict.confidence == pytest.approx(0.4)


def test_a_run_with_another_label_set_falls_back_to_gold() -> None:
    job = dynamic_job()
    workers = proven_workers(job, 2)
    run = ConsensusRun.objects.create(
        job=job, method="quorum", status=ConsensusRun.Status.SUCCEEDED, started_at=job.created_at
    )
    for worker in workers:
        WorkerResult.objects.create(run=run, worker=worker, accuracy=0.5, confusion=[[0.5, 0.5], [0.5, 0.5]])
    submit(workers[0], job, "bird")
    assert submit(workers[1], job, "bird").is_complete


def test_a_job_without_dynamic_overlap_never_asks_the_judge(wendy: User, walter: User) -> None:
    job = open_job_with_items(items=1, overlap=2)
    asked: list[Any] = []

    def more_wanted(*args: Any) -> bool:
        asked.append(args)
        return True

    for worker in (wendy, walter):
        lease = lease_claim(worker=worker, job=job)
        judgment_submit_outcome(worker=worker, lease_id=lease.pk, label="cat", more_wanted=more_wanted)
    assert asked == []
    assert Item.objects.get(job=job).is_complete


def test_an_item_wanting_more_goes_to_a_new_worker_never_to_one_who_judged_it() -> None:
    job = dynamic_job(items=1)
    first, second, third = proven_workers(job, 3)
    submit(first, job, "cat")
    submit(second, job, "dog")  # disputed: one more wanted
    for judged in (first, second):
        with pytest.raises(NothingLeft):
            lease_claim(worker=judged, job=job)
    lease = lease_claim(worker=third, job=job)
    assert Item.objects.get(pk=lease.item_id).extra_judgments == 1
    # While the third worker holds the one extra slot, nobody else is handed the item.
    with pytest.raises(NothingLeft):
        lease_claim(worker=proven_workers(job, 1)[0], job=job)


def test_judging_an_item_costs_a_handful_of_queries() -> None:
    job = dynamic_job()
    workers = proven_workers(job, 3)
    run = ConsensusRun.objects.create(
        job=job, method="quorum", status=ConsensusRun.Status.SUCCEEDED, started_at=job.created_at
    )
    WorkerResult.objects.create(
        run=run, worker=workers[0], accuracy=0.9, confusion=[[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]]
    )
    for worker, label in zip(workers, ["cat", "dog", "cat"], strict=True):
        item = submit(worker, job, label)
    with CaptureQueriesContext(connection) as queries:
        OverlapJudge().more_wanted(item.pk, 3, 5)
    # judgments, job, latest run, the run's workers, everyone's skill and record in the job
    assert len(queries) <= 5, [q["sql"] for q in queries]
    assert Judgment.objects.filter(item=item).count() == 3
