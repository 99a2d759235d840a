"""Gold on a multi-label job is scored per label: each of the job's labels (cat, dog, bird) is one
yes/no decision, right when the worker's tick equals gold's, and the gold rule reads their balanced
accuracy: the mean of the smoothed shares right on the labels gold ticks and on those it leaves
unticked. Every gold item's set here is {cat}.

Wendy ticks {cat, dog} on gold: two decisions of three right, never the exact set. Walter ticks
{dog}: one of three right (only "bird" left unticked, as gold has it). Carl ticks {cat}: all right.
Nina ticks nothing (two of three right, the easy "no"s), Eve ticks everything.
"""

from __future__ import annotations

from decimal import Decimal

import random
from typing import Any

import pytest
from django.test import Client

from marketplace.accounts.models import User
from marketplace.errors import ApplicationError, NotQualified
from marketplace.flows import WorkSubmitted, work_submit, work_undo
from marketplace.jobs.models import Job
from marketplace.labeling.models import JobBlock
from marketplace.labeling.services import lease_claim
from marketplace.quality.appeals import gold_fix
from marketplace.quality.models import QualityEvent, WorkerJobStats
from marketplace.quality.selectors import job_worker_quality
from marketplace.quality.services import worker_unblock
from tests.factories import WorkerFactory
from tests.quality.worker_helpers import gold_job

pytestmark = pytest.mark.django_db


def _multi_gold_job(**rules: Any) -> Job:
    return gold_job(multi_label=True, quality_rules=rules)


def _answer_gold(worker: User, job: Job, *, ticks: list[str], count: int) -> list[WorkSubmitted]:
    """Submit until `count` gold answers were given, each ticking `ticks`; regular items get {cat}."""
    gold: list[WorkSubmitted] = []
    for _ in range(1_000):
        if len(gold) == count:
            return gold
        lease = lease_claim(worker=worker, job=job)
        done = work_submit(worker=worker, lease_id=lease.pk, label=None, seconds_spent="5",
                           labels=ticks if lease.item.is_gold else ["cat"])
        if done.judgment.is_gold:
            gold.append(done)
    raise AssertionError("ran out of attempts")


def test_a_worker_right_on_most_labels_is_not_blocked_though_no_set_is_exact(wendy: User) -> None:
    job = _multi_gold_job()  # standard tier: 18 gold answers, floor 0.60
    _answer_gold(wendy, job, ticks=["cat", "dog"], count=20)
    assert not JobBlock.objects.filter(job=job, worker=wendy).exists()  # all-or-nothing: 0 of 20, blocked
    (quality,) = job_worker_quality(job_id=job.pk)
    assert (quality.gold.correct, quality.gold.seen) == (40, 60)  # label decisions
    assert quality.gold.smoothed == pytest.approx((21 / 22 + 21 / 42) / 2)  # cat 20 of 20, dog and bird 20 of 40
    assert quality.gold_exact_sets is not None
    assert (quality.gold_exact_sets.correct, quality.gold_exact_sets.seen) == (0, 20)


def test_a_worker_wrong_on_most_labels_is_blocked_at_the_jobs_count_of_gold_answers(walter: User) -> None:
    job = _multi_gold_job()
    answers = _answer_gold(walter, job, ticks=["dog"], count=17)
    assert not JobBlock.objects.filter(job=job, worker=walter).exists()  # 17 answers: under min_gold_answers
    assert not any(a.judgment.is_correct for a in answers)
    with pytest.raises(NotQualified):  # the 18th answer blocks: no more items for walter
        _answer_gold(walter, job, ticks=["dog"], count=2)
    assert JobBlock.objects.filter(job=job, worker=walter).exists()
    event = QualityEvent.objects.get(job=job, worker=walter, kind=QualityEvent.Kind.BLOCKED)
    assert "18 of 54 label decisions right over 18 gold answers, 0 of them with every label right" in event.reason
    assert event.evidence["per_label"] is True and event.evidence["gold"]["seen"] == 54
    assert event.evidence["exact_sets"]["seen"] == 18
    assert event.evidence["answers"][0]["answered_labels"] == ["dog"]
    assert event.evidence["answers"][0]["correct_labels"] == ["cat"]


def test_the_floor_applies_to_label_decisions(wendy: User) -> None:
    job = _multi_gold_job(min_gold_answers=5, gold_accuracy_floor="0.70")
    _answer_gold(wendy, job, ticks=["cat", "dog"], count=4)  # 8 of 12 decisions right
    with pytest.raises(NotQualified):  # the fifth: ((5 + 1) / (5 + 2) + (5 + 1) / (10 + 2)) / 2 = 0.68 < 0.70
        _answer_gold(wendy, job, ticks=["cat", "dog"], count=2)
    assert JobBlock.objects.filter(job=job, worker=wendy).exists()


@pytest.mark.parametrize("ticks", [[], ["cat", "dog", "bird"]], ids=["ticks nothing", "ticks everything"])
def test_a_constant_answer_is_blocked_at_the_jobs_count_of_gold_answers(ticks: list[str]) -> None:
    job = _multi_gold_job()  # standard tier: 18 gold answers, floor 0.60
    nina = WorkerFactory(username="nina")
    _answer_gold(nina, job, ticks=ticks, count=17)
    (quality,) = job_worker_quality(job_id=job.pk)
    assert quality.gold.smoothed == pytest.approx(0.5, abs=0.03)  # one side all right, the other all wrong
    assert not JobBlock.objects.filter(job=job, worker=nina).exists()  # 17 answers: under min_gold_answers
    with pytest.raises(NotQualified):  # the 18th answer blocks
        _answer_gold(nina, job, ticks=ticks, count=2)
    event = QualityEvent.objects.get(job=job, worker=nina, kind=QualityEvent.Kind.BLOCKED)
    assert event.reason.startswith("Smoothed balanced gold accuracy 0.")
    assert abs(Decimal(event.evidence["gold"]["smoothed"]) - Decimal("0.5")) <= Decimal("0.03")
    assert event.evidence["balanced"] is True
    assert event.evidence["positives"] == {"seen": 18, "ticked": 0 if not ticks else 18}


def test_a_worker_right_on_nine_labels_in_ten_is_not_blocked() -> None:
    job = _multi_gold_job()
    flip = random.Random(16)  # each tick wrong one time in ten, the same draw every run
    carla = WorkerFactory(username="carla")
    gold_answers = 0
    while gold_answers < 25:
        lease = lease_claim(worker=carla, job=job)
        ticks = [key for key in ("cat", "dog", "bird") if (key == "cat") != (flip.random() < 0.1)]
        work_submit(worker=carla, lease_id=lease.pk, label=None, seconds_spent="5", labels=ticks)
        gold_answers += lease.item.is_gold
    assert not JobBlock.objects.filter(job=job, worker=carla).exists()
    (quality,) = job_worker_quality(job_id=job.pk)
    assert quality.gold.seen == 75 and quality.gold.smoothed > 0.8


def test_feedback_on_a_missed_item_names_the_labels_decided_wrong(walter: User) -> None:
    job = _multi_gold_job(gold_feedback=True)
    (missed,) = _answer_gold(walter, job, ticks=["dog"], count=1)
    assert missed.feedback is not None
    assert missed.feedback["wrong_labels"] == [
        {"key": "cat", "name": missed.feedback["wrong_labels"][0]["name"], "should_be": "ticked"},
        {"key": "dog", "name": missed.feedback["wrong_labels"][1]["name"], "should_be": "unticked"},
    ]
    assert (missed.feedback["labels_right"], missed.feedback["labels_total"]) == (1, 3)
    assert (missed.feedback["correct_labels"], missed.feedback["your_labels"]) == (["cat"], ["dog"])
    carl = WorkerFactory(username="carl")
    (right,) = _answer_gold(carl, job, ticks=["cat"], count=1)
    assert right.judgment.is_correct is True and right.feedback is None


def test_the_worker_reads_per_label_accuracy_and_the_wrong_labels_on_their_quality_page(
    wendy: User, client_for: Any
) -> None:
    job = _multi_gold_job(gold_feedback=True)
    _answer_gold(wendy, job, ticks=["cat", "dog"], count=3)
    browser = Client()
    browser.force_login(wendy)
    page = browser.get("/work/quality/").content.decode()
    assert "(6/9 label decisions; every label right in 0/3 answers)" in page
    assert "(wrong: " in page
    mine = client_for(wendy).get("/api/v1/me/quality/").json()
    (row,) = mine["jobs"]
    assert row["gold"]["seen"] == 9 and row["gold_exact_sets"]["seen"] == 3
    assert mine["overall"]["gold"]["seen"] == 3  # across jobs a multi-label answer is one answer


def test_an_unblock_starts_the_label_decisions_over(walter: User, ada: User) -> None:
    job = _multi_gold_job(min_gold_answers=3)
    with pytest.raises(NotQualified):
        _answer_gold(walter, job, ticks=["dog"], count=4)
    worker_unblock(job=job, worker=walter, actor=ada, reason="Second chance")
    _answer_gold(walter, job, ticks=["cat"], count=2)
    (quality,) = job_worker_quality(job_id=job.pk)
    assert (quality.gold.correct, quality.gold.seen) == (6, 6)


def test_retiring_a_gold_item_takes_its_label_decisions_out_and_correcting_one_is_refused(walter: User) -> None:
    job = _multi_gold_job()
    first, second = _answer_gold(walter, job, ticks=["dog"], count=2)
    gold_fix(job=job, item_id=first.judgment.item_id, action="retire")
    (quality,) = job_worker_quality(job_id=job.pk)
    assert (quality.gold.correct, quality.gold.seen) == (1, 3)
    assert quality.gold_exact_sets is not None and quality.gold_exact_sets.seen == 1
    with pytest.raises(ApplicationError, match="retire it instead"):
        gold_fix(job=job, item_id=second.judgment.item_id, action="correct", label="cat")


def test_undoing_a_gold_answer_takes_its_label_decisions_out_on_both_sides(walter: User) -> None:
    job = _multi_gold_job(gold_feedback=False)  # no right answer shown, so a miss can be undone
    _, last = _answer_gold(walter, job, ticks=["dog"], count=2)
    counts = ("gold_labels_seen", "gold_labels_right", "gold_pos_seen", "gold_pos_right")
    assert WorkerJobStats.objects.values_list(*counts).get(job=job, worker=walter) == (6, 2, 2, 0)
    work_undo(worker=walter, judgment_id=last.judgment.pk)
    assert WorkerJobStats.objects.values_list(*counts).get(job=job, worker=walter) == (3, 1, 1, 0)
