"""The fast rule's peers' pace is read once per job and shared by every worker who asks."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace.accounts.models import User
from marketplace.quality import fast_rule, scoring
from marketplace.quality.models import WorkerJobStats
from tests.factories import WorkerFactory
from tests.quality.worker_helpers import answer_regular, gold_job

pytestmark = pytest.mark.django_db


def _peer_reads(worker: User, job: object, *, count: int, seconds: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        answer_regular(worker, job, count=count, seconds=seconds)
    return sum('"seconds_spent" IS NOT NULL' in q["sql"] for q in queries.captured_queries)


def test_two_fast_workers_share_one_read_of_the_jobs_pace(
    wendy: User, walter: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crowd of scripts each reached the question on every submit, and each read the others'
    200 latest answers for itself; now the second worker's question is answered by the first's
    read, with each one's own answers left out (the same flags as before)."""
    job = gold_job(gold=0, gold_rate="0", items=60, overlap=3, quality_rules={"fast_window": 5, "fast_seconds": "2"})
    answer_regular(walter, job, count=12, seconds="1")
    monkeypatch.setattr(fast_rule.time, "monotonic", lambda: 1000.0)
    will = WorkerFactory(username="will")

    assert _peer_reads(wendy, job, count=6, seconds="0.8") == 1
    assert _peer_reads(will, job, count=5, seconds="0.3") == 0

    flagged = WorkerJobStats.objects.filter(job=job, flagged_fast_at__isnull=False)
    assert list(flagged.values_list("worker__username", flat=True)) == ["will"]  # 0.3 s < half of 1 s


def test_a_worker_whose_own_answers_fill_the_shared_read_gets_the_others_pace_all_the_same(
    wendy: User, walter: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wendy's answers are all of the job's latest ones, so the shared read holds none of the
    others': hers are read apart and reach back to Walter's, as the rule read them before."""
    monkeypatch.setattr(scoring, "FAST_PEERS_SAMPLE", 10)
    monkeypatch.setattr(fast_rule, "PEERS_SHARED_READ", 20)
    job = gold_job(gold=0, gold_rate="0", items=60, overlap=3,
                   quality_rules={"fast_window": 5, "fast_seconds": "0.1"})
    answer_regular(walter, job, count=10, seconds="1")
    answer_regular(wendy, job, count=25, seconds="0.5")

    assert fast_rule._peers_median_recent(job_id=job.pk, worker_id=wendy.pk) == 1.0
    assert fast_rule._peers_median_recent(job_id=job.pk, worker_id=walter.pk) == 0.5
    with CaptureQueriesContext(connection) as queries:  # hers is remembered like the shared read
        assert fast_rule._peers_median_recent(job_id=job.pk, worker_id=wendy.pk) == 1.0
    assert not queries.captured_queries
    assert [fast_rule._peers_median(job_id=job.pk, worker_id=w.pk) for w in (wendy, walter)] == [1.0, 0.5]
