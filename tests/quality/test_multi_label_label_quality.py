"""Per-label precision and recall on gold for a multi-label job: GET /jobs/<id>/label-quality/
and the job page's table.

Alice's multi-label job (labels cat, dog, bird) has four gold items: g0 {cat}, g1 {cat, dog},
g2 {} and g3 {dog, bird}. The latest run delivered each gold item its known set (as consensus
does), but without being told the answers it gave g0 {cat}, g1 {cat}, g2 {dog}, g3 {dog, bird}:
that is what is measured.
Two careful workers tick every gold set exactly; an eager one ticks all three labels everywhere.
By hand:

  delivered sets, 4 gold items, 2 exact (50 %), 10 of 12 label decisions right (83.3 %):
    cat  support 2, given 2, right 2: precision 1,   recall 1
    dog  support 2, given 2, right 1: precision 1/2, recall 1/2
    bird support 1, given 1, right 1: precision 1,   recall 1
  workers' answers, 12 answers, 8 exact (66.7 %), 29 of 36 decisions right (80.6 %):
    cat  support 6, given 8, right 6: precision 3/4, recall 1
    dog  support 6, given 8, right 6: precision 3/4, recall 1
    bird support 3, given 6, right 3: precision 1/2, recall 1
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.jobs.models import Item, Job
from marketplace.jobs.services import ItemRow, item_bulk_create
from marketplace.labeling.models import Judgment
from marketplace.quality.label_quality import job_label_quality
from marketplace.quality.models import ConsensusRun, ItemResult
from marketplace.quality.runs import consensus_run
from marketplace.quality.runs_multi import label_set_of
from tests.factories import JobFactory, WorkerFactory
from tests.portal import browser

pytestmark = pytest.mark.django_db

GOLD = {"g0": ["cat"], "g1": ["cat", "dog"], "g2": [], "g3": ["dog", "bird"]}
DELIVERED = {"g0": ["cat"], "g1": ["cat"], "g2": ["dog"], "g3": ["dog", "bird"]}


@pytest.fixture
def job(alice: User) -> Job:
    job = JobFactory(organization=alice.organization, created_by=alice, multi_label=True)
    item_bulk_create(job=job, rows=[ItemRow(data={"text": ext}, external_id=ext, gold_label="", gold_labels=sets)
                                    for ext, sets in GOLD.items()], gold=True)
    items = {item.external_id: item for item in Item.objects.filter(job=job)}
    run = ConsensusRun.objects.create(job=job, method="quorum", status=ConsensusRun.Status.SUCCEEDED,
                                      started_at=timezone.now(), parameters={"multi_label": True})
    ItemResult.objects.bulk_create(
        ItemResult(run=run, item=items[ext], label="", confidence=1.0,
                   probabilities={k: 1.0 if k in GOLD[ext] else 0.0 for k in ("cat", "dog", "bird")},
                   probabilities_without_answer={k: 0.9 if k in sets else 0.1 for k in ("cat", "dog", "bird")})
        for ext, sets in DELIVERED.items()
    )
    careful = [WorkerFactory(), WorkerFactory()]
    eager = WorkerFactory()
    for ext, sets in GOLD.items():
        for worker in careful:
            Judgment.objects.create(job=job, item=items[ext], worker=worker, label="", labels=sets, is_gold=True)
        Judgment.objects.create(job=job, item=items[ext], worker=eager, label="", labels=["cat", "dog", "bird"],
                                is_gold=True)
    return job


def _figures(labels: Any) -> dict[str, tuple[Any, ...]]:
    return {row["label"]: (row["support"], row["predicted"], row["correct"], row["precision"], row["recall"])
            for row in labels}


def test_the_client_reads_each_labels_precision_and_recall_of_the_sets(
    job: Job, alice: User, client_for: Any
) -> None:
    response = client_for(alice).get(f"/api/v1/jobs/{job.pk}/label-quality/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["gold_items"] == 4
    delivered, answers = body["sources"]
    assert (delivered["source"], delivered["gold_items"], delivered["correct"]) == ("consensus", 4, 2)
    assert (delivered["accuracy"], delivered["label_accuracy"]) == ("0.5000", "0.8333")  # accuracies: 4-place text
    assert _figures(delivered["labels"]) == {
        "cat": (2, 2, 2, 1.0, 1.0), "dog": (2, 2, 1, 0.5, 0.5), "bird": (1, 1, 1, 1.0, 1.0),
    }
    assert (answers["source"], answers["gold_items"], answers["correct"]) == ("judgments", 12, 8)
    assert (answers["accuracy"], answers["label_accuracy"]) == ("0.6667", "0.8056")
    assert _figures(answers["labels"]) == {
        "cat": (6, 8, 6, 0.75, 1.0), "dog": (6, 8, 6, 0.75, 1.0), "bird": (3, 6, 3, 0.5, 1.0),
    }


def test_the_job_page_shows_both_tables(job: Job, alice: User) -> None:
    body = browser(alice).get(reverse("job-page", args=[job.pk])).content.decode()
    assert "Delivered labels" in body and "Workers&#x27; answers" in body
    assert "4 gold items, 83.3% of label decisions right, 50.0% of sets exact" in body
    assert "12 answers to gold items, 80.6% of label decisions right, 66.7% of sets exact" in body
    assert "Dog</th><td>2</td><td>2</td><td>50.0%</td><td>50.0%</td>" in body
    assert "Bird</th><td>3</td><td>6</td><td>50.0%</td><td>100.0%</td>" in body


def _crowd_wrong_on_half_the_gold(alice: User) -> Job:
    """Three workers agree on 20 plain items (sets {cat}, {dog}, {cat, dog}, {} in turn). Every
    gold item's answer is {cat}: on g0..g2 all three tick {dog}, on g3..g5 {cat}."""
    job = JobFactory(organization=alice.organization, created_by=alice, multi_label=True)
    plain = [["cat"], ["dog"], ["cat", "dog"], []]
    item_bulk_create(job=job, rows=[ItemRow(data={"text": f"i{i}"}, external_id=f"i{i}") for i in range(20)],
                     gold=False)
    item_bulk_create(job=job, rows=[ItemRow(data={"text": f"g{i}"}, external_id=f"g{i}", gold_label="",
                                            gold_labels=["cat"]) for i in range(6)], gold=True)
    items = {item.external_id: item for item in Item.objects.filter(job=job)}
    for _ in range(3):
        worker = WorkerFactory()
        for ext, item in items.items():
            ticked = plain[int(ext[1:]) % 4] if ext[0] == "i" else ["dog"] if int(ext[1:]) < 3 else ["cat"]
            Judgment.objects.create(job=job, item=item, worker=worker, label="", labels=ticked,
                                    is_gold=item.is_gold)
    return job


def test_the_delivered_sets_are_measured_by_what_consensus_says_without_the_answers(
    alice: User, client_for: Any
) -> None:
    # The run delivers every gold item as {cat}, its answer; unaided it gives g0..g2 {dog}, as it
    # would any item all three workers ticked {dog}: half the sets are wrong, and the figure says so.
    job = _crowd_wrong_on_half_the_gold(alice)
    run = consensus_run(job=job)
    assert run.status == ConsensusRun.Status.SUCCEEDED, run.error
    gold_results = ItemResult.objects.filter(run=run, item__is_gold=True)
    assert {tuple(label_set_of(r.probabilities)) for r in gold_results} == {("cat",)}

    delivered = client_for(alice).get(f"/api/v1/jobs/{job.pk}/label-quality/").json()["sources"][0]
    assert (delivered["source"], delivered["gold_items"], delivered["correct"]) == ("consensus", 6, 3)
    assert (delivered["accuracy"], delivered["label_accuracy"]) == ("0.5000", "0.6667")
    assert _figures(delivered["labels"]) == {
        "cat": (6, 3, 3, 1.0, 0.5), "dog": (0, 3, 0, 0.0, None), "bird": (0, 0, 0, None, None),
    }
    assert delivered["measure"] == "consensus's label sets for gold items, computed without their known answers"
    body = browser(alice).get(reverse("job-page", args=[job.pk])).content.decode()
    assert ("Consensus&#x27;s label sets for gold items, computed without their known answers: the set any item "
            "with the same judgments gets") in body
    assert "6 gold items, 66.7% of label decisions right, 50.0% of sets exact" in body


def test_a_run_from_before_the_unaided_sets_shows_no_delivered_figure(job: Job) -> None:
    # Its gold items' sets are their answers: a 100 % that measures nothing is not shown.
    ItemResult.objects.filter(item__job=job).update(probabilities_without_answer=None)
    assert [source.source for source in job_label_quality(job=job).sources] == ["judgments"]
