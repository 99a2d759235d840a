"""Per-label precision and recall against gold: GET /api/v1/jobs/<id>/label-quality/ and the page.

Alice's Acme job (labels cat, dog, bird) has six gold items — g0..g2 cat, g3 and g4 dog, g5
bird — and one plain item. The latest consensus run delivered each gold item with its answer (as
consensus does), but without being told the answers it labeled g0 cat, g1 cat, g2 dog, g3 dog,
g4 cat: that is what is measured. Nobody judged g5, so it has no result. Her model "m" 1 predicted g0 cat, g1 dog, g3 dog,
g4 dog, g5 bird (g2 not at all). By hand:

  consensus, 5 gold items, 3 right (60 %):
    cat  support 3, given 3, right 2: precision 2/3, recall 2/3
    dog  support 2, given 2, right 1: precision 1/2, recall 1/2
    bird support 0, given 0: neither figure (None, not 0)
  model m 1, 5 gold items, 4 right (80 %):
    cat  support 2, given 1, right 1: precision 1,   recall 1/2
    dog  support 2, given 3, right 2: precision 2/3, recall 1
    bird support 1, given 1, right 1: precision 1,   recall 1

The plain item's result and prediction never count. Carol (Globex) gets a 404, Wendy (a worker) 403.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.jobs.models import Item, Job
from marketplace.jobs.predicting import PredictionEntry, predictions_set
from marketplace.jobs.predictions import ModelName, PredictionRow
from marketplace.jobs.services import ItemRow, item_bulk_create
from marketplace.labeling import claiming
from marketplace.quality.label_quality import job_label_quality, per_label
from marketplace.quality.models import ConsensusRun, ItemResult
from marketplace.quality.runs import consensus_run
from tests.factories import JobFactory
from tests.portal import browser
from tests.quality.run_helpers import judged_job

pytestmark = pytest.mark.django_db

GOLD = {"g0": "cat", "g1": "cat", "g2": "cat", "g3": "dog", "g4": "dog", "g5": "bird"}
CONSENSUS = {"g0": "cat", "g1": "cat", "g2": "dog", "g3": "dog", "g4": "cat", "i0": "dog"}
MODEL = {"g0": "cat", "g1": "dog", "g3": "dog", "g4": "dog", "g5": "bird", "i0": "cat"}


def _run(job: Job, labels: dict[str, str], ids: dict[str, int]) -> ConsensusRun:
    run = ConsensusRun.objects.create(
        job=job, method="quorum", status=ConsensusRun.Status.SUCCEEDED, started_at=timezone.now()
    )
    ItemResult.objects.bulk_create(
        ItemResult(run=run, item_id=ids[ext], label=GOLD.get(ext, label), confidence=0.9,
                   probabilities={}, label_without_answer=label if ext in GOLD else "")
        for ext, label in labels.items()
    )
    return run


@pytest.fixture
def job(alice: User) -> Job:
    job = JobFactory(organization=alice.organization, created_by=alice)
    item_bulk_create(job=job, rows=[ItemRow(data={"text": "plain"}, external_id="i0")], gold=False)
    item_bulk_create(
        job=job,
        rows=[ItemRow(data={"text": ext}, external_id=ext, gold_label=label)
              for ext, label in GOLD.items()],
        gold=True,
    )
    ids = dict(Item.objects.filter(job=job).values_list("external_id", "pk"))
    _run(job, dict.fromkeys(CONSENSUS, "bird"), ids)  # an older run: never the one measured
    _run(job, CONSENSUS, ids)
    entries = [PredictionEntry(PredictionRow(label), item_id=ids[ext]) for ext, label in MODEL.items()]
    predictions_set(job=job, model=ModelName("m", "1"), entries=entries)
    return job


def _figures(labels: Any) -> dict[str, tuple[Any, ...]]:
    return {
        row["label"]: (row["support"], row["predicted"], row["correct"], row["precision"],
                       row["recall"])
        for row in labels
    }


def test_precision_and_recall_per_label_match_the_hand_computed_figures(job: Job) -> None:
    figures = job_label_quality(job=job)
    assert figures.gold_items == 6 and figures.run_id == ConsensusRun.objects.latest("id").pk
    consensus, model = figures.sources
    assert (consensus.source, consensus.gold_items, consensus.correct) == ("consensus", 5, 3)
    assert consensus.accuracy == pytest.approx(0.6)
    by_label = {f.label: f for f in consensus.labels}
    assert (by_label["cat"].precision, by_label["cat"].recall) == (pytest.approx(2 / 3),) * 2
    assert (by_label["dog"].precision, by_label["dog"].recall) == (0.5, 0.5)
    assert (by_label["bird"].support, by_label["bird"].precision, by_label["bird"].recall) == (
        0, None, None)
    assert (model.name, model.version, model.gold_items, model.correct) == ("m", "1", 5, 4)
    by_label = {f.label: f for f in model.labels}
    assert (by_label["cat"].support, by_label["cat"].predicted) == (2, 1)
    assert (by_label["cat"].precision, by_label["cat"].recall) == (1.0, 0.5)
    assert (by_label["dog"].precision, by_label["dog"].recall) == (pytest.approx(2 / 3), 1.0)
    assert (by_label["bird"].precision, by_label["bird"].recall) == (1.0, 1.0)


def test_a_label_never_given_has_no_precision_rather_than_zero() -> None:
    (cat, dog) = per_label([("cat", "cat"), ("dog", "cat")], ["cat", "dog"])
    assert (cat.precision, cat.recall) == (0.5, 1.0)
    assert (dog.support, dog.predicted, dog.precision, dog.recall) == (1, 0, None, 0.0)


def test_the_client_reads_the_figures_with_their_counts(
    job: Job, alice: User, client_for: Any
) -> None:
    response = client_for(alice).get(f"/api/v1/jobs/{job.pk}/label-quality/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["gold_items"] == 6 and body["prelabels_shown"] is False
    consensus, model = body["sources"]
    assert _figures(consensus["labels"]) == {
        "cat": (3, 3, 2, 0.666667, 0.666667), "dog": (2, 2, 1, 0.5, 0.5),
        "bird": (0, 0, 0, None, None),
    }
    assert (model["source"], model["name"], model["accuracy"]) == ("model", "m", "0.8000")
    assert _figures(model["labels"])["dog"] == (2, 3, 2, 0.666667, 1.0)


def test_a_job_without_a_run_shows_only_its_models(alice: User, client_for: Any) -> None:
    job = JobFactory(organization=alice.organization, created_by=alice)
    item_bulk_create(job=job, rows=[ItemRow(data={"t": 1}, external_id="g", gold_label="dog")],
                     gold=True)
    body = client_for(alice).get(f"/api/v1/jobs/{job.pk}/label-quality/").json()
    assert body["run"] is None and body["gold_items"] == 1 and body["sources"] == []


def test_another_organization_gets_404_a_worker_403_and_an_admin_reads_it(
    job: Job, carol: User, wendy: User, ada: User, client_for: Any
) -> None:
    url = f"/api/v1/jobs/{job.pk}/label-quality/"
    assert client_for(carol).get(url).status_code == 404
    assert client_for(wendy).get(url).status_code == 403
    assert client_for(ada).get(url).status_code == 200


def test_the_job_page_shows_the_table_with_its_counts(job: Job, alice: User) -> None:
    body = browser(alice).get(reverse("job-page", args=[job.pk])).content.decode()
    assert "Precision and recall per label, on gold" in body
    assert "Delivered labels" in body and "Model m 1" in body
    # Consensus's cat row: 3 gold items are cat, 3 were given cat, 66.7 % precision and recall.
    assert re.search(r"Cat</th><td>3</td><td>3</td><td>66.7%</td><td>66.7%</td>", body)
    assert re.search(r"Bird</th><td>0</td><td>0</td><td>—</td><td>—</td>", body)
    assert "5 gold items, 60.0% right" in body and "5 gold items, 80.0% right" in body


def test_the_delivered_labels_are_measured_by_what_consensus_says_without_the_answer(
    job: Job, alice: User, client_for: Any
) -> None:
    # Every gold item's delivered label is its answer (the fixture's run, as consensus writes it),
    # yet the figure is the 60 % of the labels consensus gave them unaided, and says so.
    assert set(ItemResult.objects.filter(item__is_gold=True).values_list("label", flat=True)) <= set(GOLD.values())
    consensus = client_for(alice).get(f"/api/v1/jobs/{job.pk}/label-quality/").json()["sources"][0]
    assert consensus["accuracy"] == "0.6000"
    assert consensus["measure"] == "consensus's label for gold items, computed without their known answer"
    body = browser(alice).get(reverse("job-page", args=[job.pk])).content.decode()
    assert "Consensus&#x27;s label for gold items, computed without their known answer" in body


def test_a_run_from_before_the_unaided_labels_shows_no_delivered_figure(alice: User) -> None:
    # Its gold items' labels are their answers: a 100 % that measures nothing is not shown.
    job = JobFactory(organization=alice.organization, created_by=alice)
    item_bulk_create(job=job, rows=[ItemRow(data={"t": 1}, external_id="g", gold_label="dog")], gold=True)
    run = ConsensusRun.objects.create(job=job, method="quorum", status=ConsensusRun.Status.SUCCEEDED,
                                      started_at=timezone.now())
    ItemResult.objects.create(run=run, item=Item.objects.get(job=job), label="dog", confidence=1.0,
                              probabilities={"dog": 1.0})
    assert job_label_quality(job=job).sources == ()


def test_a_job_whose_workers_are_wrong_on_gold_shows_its_delivered_labels_below_100_percent(
    alice: User,
) -> None:
    # One worker answers "dog" to everything, once per item; every gold answer is "cat". The run
    # delivers gold items as "cat" (their answer), but unaided it labels them "dog", as any item.
    claiming._rng.seed(3)  # gold shows up at random: fixed so gold answers exist
    job = judged_job(items=6, gold=4, answers=("dog",), organization=alice.organization, gold_rate="0.5")
    run = consensus_run(job=job)
    judged = ItemResult.objects.filter(run=run, item__is_gold=True)
    assert judged.exists() and {r.label for r in judged} == {"cat"}

    consensus = job_label_quality(job=job).sources[0]
    assert (consensus.source, consensus.gold_items, consensus.correct) == ("consensus", judged.count(), 0)
    assert consensus.accuracy == 0.0
