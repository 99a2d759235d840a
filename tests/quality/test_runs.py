"""consensus_run: claim, read, fit and store a job's consensus, in bulk."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from marketplace.errors import ApplicationError, Conflict
from marketplace.labeling.models import Judgment
from marketplace.quality.models import ConsensusRun, ItemResult, WorkerResult
from marketplace.quality.runs import consensus_run, consensus_run_claim, consensus_run_execute
from tests.factories import open_job_with_items
from tests.quality.run_helpers import judged_job

pytestmark = pytest.mark.django_db


def test_a_run_stores_the_majority_label_with_a_confidence_for_every_item() -> None:
    job = judged_job(items=4, answers=("cat", "cat", "dog"))
    run = consensus_run(job=job)
    assert run.status == ConsensusRun.Status.SUCCEEDED and run.method == "quorum"
    assert (run.items, run.workers, run.judgments) == (4, 3, 12)
    results = list(ItemResult.objects.filter(run=run))
    assert {r.label for r in results} == {"cat"} and all(r.judgments == 3 for r in results)
    for r in results:
        assert set(r.probabilities) == {"cat", "dog", "bird"}
        assert r.confidence == pytest.approx(r.probabilities["cat"]) and 0.5 < r.confidence <= 1
        assert sum(r.probabilities.values()) == pytest.approx(1, abs=1e-5)


def test_a_run_records_its_rounds_timings_and_a_confusion_matrix_per_worker() -> None:
    job = judged_job(items=4)
    run = consensus_run(job=job, options={"max_rounds": 7})
    assert 1 <= run.rounds <= 7 and run.seconds >= run.fit_seconds >= 0
    assert run.parameters["max_rounds"] == 7 and set(run.parameters["timings"]) == {
        "read",
        "fit",
        "write",
    }
    matrices = list(WorkerResult.objects.filter(run=run).values_list("confusion", "judgments"))
    assert len(matrices) == 3 and all(
        len(m) == 3 and len(m[0]) == 3 and n == 4 for m, n in matrices
    )


def test_gold_answers_enter_the_fit_and_gold_items_get_results_too() -> None:
    job = judged_job(items=3, gold=2, gold_rate=Decimal("0.5"), answers=("cat", "dog", "dog"))
    gold_judged = Judgment.objects.filter(job=job, is_gold=True).values("item").distinct().count()
    run = consensus_run(job=job)
    assert run.gold_items == gold_judged > 0
    gold_results = ItemResult.objects.filter(run=run, item__is_gold=True)
    assert gold_results.count() == gold_judged and {r.label for r in gold_results} == {"cat"}
    assert all(r.confidence == 1.0 for r in gold_results)


@pytest.mark.parametrize("method", ["mv", "ds"])
def test_other_methods_are_selectable_per_run(method: str) -> None:
    run = consensus_run(job=judged_job(items=3), method=method)
    assert run.status == ConsensusRun.Status.SUCCEEDED and run.method == method
    assert set(ItemResult.objects.filter(run=run).values_list("label", flat=True)) == {"cat"}


def test_a_job_without_judgments_gets_an_empty_successful_run() -> None:
    run = consensus_run(job=open_job_with_items(items=3))
    assert run.status == ConsensusRun.Status.SUCCEEDED and (run.items, run.judgments) == (0, 0)


def test_an_unknown_method_or_option_is_refused_before_anything_is_stored() -> None:
    job = open_job_with_items(items=1)
    with pytest.raises(ApplicationError, match="Unknown consensus method"):
        consensus_run(job=job, method="vibes")
    with pytest.raises(ApplicationError, match="max_rounds"):
        consensus_run(job=job, options={"max_rounds": 0})
    assert not ConsensusRun.objects.exists()


def test_a_second_run_of_a_job_is_refused_while_one_is_running() -> None:
    job = judged_job(items=2)
    first = consensus_run_claim(job=job)
    with pytest.raises(Conflict) as refused:
        consensus_run(job=job)
    assert refused.value.details["run"] == first.pk
    assert consensus_run_execute(run=first).status == ConsensusRun.Status.SUCCEEDED
    assert (
        consensus_run(job=job).status == ConsensusRun.Status.SUCCEEDED
    )  # free again once it ended


def test_a_run_abandoned_by_a_dead_process_does_not_block_the_job_forever() -> None:
    job = judged_job(items=2)
    stale = consensus_run_claim(job=job)
    ConsensusRun.objects.filter(pk=stale.pk).update(started_at=timezone.now() - timedelta(hours=7))
    assert consensus_run(job=job).status == ConsensusRun.Status.SUCCEEDED
    stale.refresh_from_db()
    assert stale.status == ConsensusRun.Status.FAILED and "abandoned" in stale.error


def test_a_fit_that_fails_is_stored_as_failed_with_its_error_and_no_results(
    django_assert_max_num_queries: Any,
) -> None:
    job = judged_job(items=2)
    run = consensus_run_claim(job=job)
    ConsensusRun.objects.filter(pk=run.pk).update(
        method="retired-method"
    )  # e.g. removed after claiming
    run.refresh_from_db()
    failed = consensus_run_execute(run=run)
    assert failed.status == ConsensusRun.Status.FAILED and "retired-method" in failed.error
    assert failed.finished_at is not None and not ItemResult.objects.filter(run=run).exists()
