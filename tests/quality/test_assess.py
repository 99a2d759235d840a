"""Assessing each submit: gold counters, the gold rule, the fast rule, gold feedback."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace.accounts.models import User
from marketplace.jobs.models import GoldAnswer
from marketplace.labeling.models import JobBlock
from marketplace.quality import fast_rule
from marketplace.quality.models import QualityEvent, WorkerJobStats
from marketplace.quality.services import gold_feedback_for
from tests.conftest import needs_postgres
from tests.factories import WorkerFactory
from tests.quality.worker_helpers import answer_gold, answer_regular, gold_job

pytestmark = pytest.mark.django_db

RULES = {"min_gold_answers": 5, "gold_accuracy_floor": "0.5", "gold_feedback": True}


def test_gold_and_regular_answers_are_counted_apart(wendy: User) -> None:
    job = gold_job(quality_rules=RULES)
    done = answer_gold(wendy, job, right=3, wrong=1)
    stats = WorkerJobStats.objects.get(job=job, worker=wendy)
    regular = sum(not d.judgment.is_gold for d in done)
    assert (stats.gold_seen, stats.gold_correct, stats.judgments) == (4, 3, regular)


def test_a_missed_gold_item_shows_the_right_answer_and_explanation(wendy: User) -> None:
    job = gold_job(quality_rules=RULES)
    GoldAnswer.objects.filter(item__job=job).update(explanation="Whiskers and a tail.")
    missed = answer_gold(wendy, job, right=0, wrong=1)[-1]
    assert missed.feedback == {"correct_label": "cat", "explanation": "Whiskers and a tail.", "your_label": "dog"}
    # A retried submit shows it again; a right answer or a regular item shows nothing.
    assert gold_feedback_for(judgment=missed.judgment) == missed.feedback
    right = answer_gold(wendy, job, right=1, wrong=0)
    assert all(d.feedback is None for d in right)


def test_feedback_is_on_by_default_and_a_job_can_turn_it_off(wendy: User, walter: User) -> None:
    job = gold_job(quality_rules={**RULES, "gold_feedback": False})
    assert answer_gold(wendy, job, right=0, wrong=1)[-1].feedback is None
    default = gold_job()
    assert answer_gold(walter, default, right=0, wrong=1)[-1].feedback is not None


def test_a_worker_under_the_floor_is_blocked_only_after_the_minimum_gold_answers(wendy: User) -> None:
    job = gold_job(quality_rules=RULES)
    answer_gold(wendy, job, right=0, wrong=4)  # smoothed 1/6, but only 4 gold answers
    assert not JobBlock.objects.filter(job=job, worker=wendy).exists()
    last = answer_gold(wendy, job, right=0, wrong=1)[-1]
    assert JobBlock.objects.filter(job=job, worker=wendy).exists()
    event = QualityEvent.objects.get(job=job, worker=wendy, kind=QualityEvent.Kind.BLOCKED)
    assert event.automatic and event.actor is None
    # Exact figures for an auditor: counts, and accuracies as the decimal strings the rule read.
    assert event.evidence["gold"] == {"seen": 5, "correct": 0, "smoothed": "0.1429",  # 1 / 7
                                      "interval_90": ["0.0085", "0.3930"]}
    answers = event.evidence["answers"]
    assert len(answers) == 5 and {(a["answered"], a["correct_label"], a["correct"]) for a in answers} == {
        ("dog", "cat", False)
    }
    assert last.feedback is not None  # the blocking answer still gets its feedback


def test_a_worker_at_the_floor_is_not_blocked(wendy: User) -> None:
    job = gold_job(quality_rules=RULES)
    answer_gold(wendy, job, right=4, wrong=4)  # smoothed 5/10 = 0.5: not under 0.5
    assert not JobBlock.objects.filter(job=job, worker=wendy).exists()


def test_a_good_worker_is_never_blocked(wendy: User) -> None:
    job = gold_job(quality_rules=RULES)
    answer_gold(wendy, job, right=12, wrong=3)
    assert not JobBlock.objects.exists() and not QualityEvent.objects.exists()


def test_fast_answers_flag_the_worker_once_without_blocking(wendy: User, walter: User) -> None:
    job = gold_job(gold=0, gold_rate="0", items=40, quality_rules={"fast_window": 5, "fast_seconds": "2"})
    answer_regular(walter, job, count=10, seconds="3")  # the job's pace that wendy is judged by
    answer_regular(wendy, job, count=4, seconds="0.5")
    assert WorkerJobStats.objects.get(job=job, worker=wendy).flagged_fast_at is None  # 4 < window
    flagged = answer_regular(wendy, job, count=1, seconds="0.5")[-1]
    answer_regular(wendy, job, count=5, seconds="0.4")
    answer_regular(walter, job, count=10, seconds="3")  # walter's own pace is the job's: never flagged
    assert WorkerJobStats.objects.get(job=job, worker=wendy).flagged_fast_at is not None
    assert WorkerJobStats.objects.get(job=job, worker=walter).flagged_fast_at is None
    (event,) = QualityEvent.objects.filter(kind=QualityEvent.Kind.FLAGGED_FAST)
    assert event.worker == wendy and event.evidence["median_seconds"] == 0.5
    assert [t["seconds"] for t in event.evidence["times"]] == [0.5] * 5
    assert flagged.judgment.pk in {t["judgment"] for t in event.evidence["times"]}
    assert not JobBlock.objects.exists()


def test_the_median_decides_not_one_fast_answer(wendy: User) -> None:
    job = gold_job(gold=0, gold_rate="0", items=20, quality_rules={"fast_window": 5, "fast_seconds": "2"})
    answer_regular(wendy, job, count=2, seconds="0.2")
    answer_regular(wendy, job, count=3, seconds="6")
    assert WorkerJobStats.objects.get(job=job, worker=wendy).flagged_fast_at is None


def test_fast_is_judged_against_the_jobs_other_workers(wendy: User, walter: User) -> None:
    """An easy job that humans answer in about a second: a worker at 1.2 s is not flagged although
    that is under the tier's 2 s; one at 0.3 s (under half the others' median) is."""
    job = gold_job(gold=0, gold_rate="0", items=60, overlap=3,
                   quality_rules={"fast_window": 5, "fast_seconds": "2"})
    answer_regular(walter, job, count=25, seconds="1")
    answer_regular(wendy, job, count=10, seconds="1.2")
    assert WorkerJobStats.objects.get(job=job, worker=wendy).flagged_fast_at is None
    will = WorkerFactory(username="will")
    answer_regular(will, job, count=5, seconds="0.3")
    assert WorkerJobStats.objects.get(job=job, worker=will).flagged_fast_at is not None
    event = QualityEvent.objects.get(kind=QualityEvent.Kind.FLAGGED_FAST)
    assert event.worker == will
    assert (event.evidence["limit_seconds"], event.evidence["peers_median_seconds"]) == (0.5, 1.0)
    assert "50% of the other workers' median 1.00 s" in event.reason


def test_nobody_is_flagged_fast_before_there_is_a_pace_to_compare_with(wendy: User, walter: User) -> None:
    job = gold_job(gold=0, gold_rate="0", items=40, quality_rules={"fast_window": 5, "fast_seconds": "2"})
    answer_regular(wendy, job, count=10, seconds="0.5")  # first in the job: no one to compare with
    assert WorkerJobStats.objects.get(job=job, worker=wendy).flagged_fast_at is None
    answer_regular(walter, job, count=10, seconds="4")
    answer_regular(wendy, job, count=1, seconds="0.5")  # her next submit asks again
    assert WorkerJobStats.objects.get(job=job, worker=wendy).flagged_fast_at is not None


def test_a_worker_answering_without_pause_reads_the_peers_pace_once_every_few_seconds(
    wendy: User, walter: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The peers' median (200 answers) is remembered briefly per job and worker: a script that
    submits many times a second must not make every submit read it."""
    job = gold_job(gold=0, gold_rate="0", items=60, overlap=3, quality_rules={"fast_window": 5, "fast_seconds": "2"})
    answer_regular(walter, job, count=12, seconds="1")
    clock = [1000.0]
    monkeypatch.setattr(fast_rule.time, "monotonic", lambda: clock[0])

    def peer_reads(count: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            answer_regular(wendy, job, count=count, seconds="0.8")
        return sum('"seconds_spent" IS NOT NULL' in q["sql"] for q in queries.captured_queries)

    # The 5th to 9th answers each reach the question (a full window under the tier's 2 s): one read.
    assert peer_reads(9) == 1
    clock[0] += fast_rule.PEERS_MEMORY_SECONDS + 1
    assert peer_reads(1) == 1  # a few seconds on, read again
    assert WorkerJobStats.objects.get(job=job, worker=wendy).flagged_fast_at is None  # 0.8 s > half of 1 s


def test_the_fast_rule_reads_the_workers_latest_answers_newest_first_without_undone_ones(wendy: User) -> None:
    from marketplace.labeling.models import Judgment, JudgmentStatus

    job = gold_job(gold=0, gold_rate="0", items=20, quality_rules={"fast_window": 50, "fast_seconds": "0.01"})
    answer_regular(wendy, job, count=4, seconds="3")
    latest = Judgment.objects.filter(job=job, worker=wendy).order_by("-id")
    Judgment.objects.filter(pk=latest[1].pk).update(status=JudgmentStatus.WITHDRAWN)

    recent = fast_rule._recent(job_id=job.pk, worker_id=wendy.pk, limit=2)

    expected = [(j.pk, j.item_id, j.seconds_spent) for j in latest if j.status != JudgmentStatus.WITHDRAWN][:2]
    assert [(jid, item, Decimal(str(s))) for jid, item, s in recent] == expected


@needs_postgres  # SQLite's submit reads no count of the others' answers, so the rule reads as before
def test_a_lone_workers_answers_read_no_pace_at_all(wendy: User, walter: User) -> None:
    """With fewer than FAST_PEERS_MIN answers by anyone else in the job there is no pace to judge
    against, so a submit reads neither the worker's latest answers nor the others' (a lone worker
    paid both on every submit, one of them a walk of every judgment of the job)."""
    job = gold_job(gold=0, gold_rate="0", items=60, overlap=3, quality_rules={"fast_window": 5, "fast_seconds": "2"})
    answer_regular(walter, job, count=9, seconds="3")  # one answer short of a pace

    with CaptureQueriesContext(connection) as queries:
        answer_regular(wendy, job, count=12, seconds="0.2")

    assert not any('"seconds_spent"' in q["sql"] for q in queries.captured_queries)
    assert WorkerJobStats.objects.get(job=job, worker=wendy).flagged_fast_at is None
    answer_regular(walter, job, count=1, seconds="3")  # now there is one
    answer_regular(wendy, job, count=1, seconds="0.2")
    assert WorkerJobStats.objects.get(job=job, worker=wendy).flagged_fast_at is not None


@needs_postgres  # as above
def test_with_no_pace_among_the_others_answers_it_is_asked_once_every_few_seconds(
    wendy: User, walter: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Others answered enough, but none of it makes a pace (here: no times; in a crowd: workers
    flagged fast themselves). The answer "no pace" is remembered like a pace, not read per submit."""
    from marketplace.labeling.models import Judgment

    job = gold_job(gold=0, gold_rate="0", items=60, overlap=3, quality_rules={"fast_window": 5, "fast_seconds": "2"})
    answer_regular(walter, job, count=12, seconds="1")
    Judgment.objects.filter(job=job, worker=walter).update(seconds_spent=None)
    clock = [2000.0]
    monkeypatch.setattr(fast_rule.time, "monotonic", lambda: clock[0])

    with CaptureQueriesContext(connection) as queries:
        answer_regular(wendy, job, count=9, seconds="0.5")

    assert sum('"seconds_spent" IS NOT NULL' in q["sql"] for q in queries.captured_queries) == 1
    assert WorkerJobStats.objects.get(job=job, worker=wendy).flagged_fast_at is None
