"""item_results_anchor: item results carry no database constraint to their items, so the run
checks what one would have, under a lock on the job row, before its results commit."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from marketplace.errors import Conflict
from marketplace.jobs.editing import items_delete
from marketplace.jobs.models import Item
from marketplace.jobs.services import ItemRow, item_bulk_create
from marketplace.quality import writing
from marketplace.quality.models import ConsensusRun, ItemResult, WorkerResult
from marketplace.quality.runs import consensus_run
from marketplace.quality.writing import item_results_anchor
from tests.factories import JobFactory
from tests.quality.run_helpers import judged_job

pytestmark = pytest.mark.django_db


def _draft_with_results() -> tuple[Any, ConsensusRun, list[int]]:
    """A never-published draft with three items, and a run holding a result for each."""
    job = JobFactory()
    item_bulk_create(job=job, rows=[ItemRow(data={"text": f"photo {n}"}) for n in range(3)], gold=False)
    ids = list(Item.objects.filter(job=job).order_by("pk").values_list("pk", flat=True))
    run = ConsensusRun.objects.create(job=job, method="mv", started_at=timezone.now())
    ItemResult.objects.bulk_create(ItemResult(run=run, item_id=pk, label="cat", confidence=1.0,
                                              probabilities={"cat": 1.0}) for pk in ids)
    return job, run, ids


def test_a_draft_item_deleted_while_the_run_ran_fails_the_run_and_nothing_commits() -> None:
    job, run, ids = _draft_with_results()
    with pytest.raises(Conflict, match="deleted while the consensus ran"), transaction.atomic():
        with connection.cursor() as cursor:  # what a concurrent items_delete would have committed
            cursor.execute("DELETE FROM jobs_item WHERE id = %s", [ids[0]])
        item_results_anchor(job_id=job.pk, run_id=run.pk)
    assert Item.objects.filter(pk=ids[0]).exists() and ItemResult.objects.filter(run=run).count() == 3


def test_deleting_a_drafts_items_deletes_their_results_too() -> None:
    job, run, ids = _draft_with_results()
    items_delete(job=job, item_ids=ids[:2])
    assert list(ItemResult.objects.filter(run=run).values_list("item_id", flat=True)) == ids[2:]


def test_a_published_jobs_run_only_takes_the_lock(django_assert_num_queries: Any) -> None:
    job = judged_job(items=3)
    run = consensus_run(job=job)
    assert run.status == ConsensusRun.Status.SUCCEEDED and ItemResult.objects.filter(run=run).count() == 3
    with django_assert_num_queries(1):  # its items can no longer be deleted one by one
        item_results_anchor(job_id=job.pk, run_id=run.pk)


def test_a_run_written_a_row_a_copy_write_stores_what_one_write_stores(monkeypatch: pytest.MonkeyPatch) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    job = judged_job(items=3)
    whole = consensus_run(job=job)
    monkeypatch.setattr(writing, "_COPY_WRITE", 1)  # every row flushed on its own
    piecemeal = consensus_run(job=job)

    def stored(run: ConsensusRun) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        items = ItemResult.objects.filter(run=run).order_by("item_id")
        workers = WorkerResult.objects.filter(run=run).order_by("worker_id")
        return (list(items.values_list("item_id", "label", "confidence", "probabilities", "judgments", "agreement")),
                list(workers.values_list("worker_id", "accuracy", "confusion", "judgments")))

    assert stored(piecemeal) == stored(whole) and len(stored(whole)[0]) == 3 and len(stored(whole)[1]) == 3
