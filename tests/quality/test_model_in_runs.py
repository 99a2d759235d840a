"""Model predictions in a job's consensus runs and in dynamic overlap.

Cast: Acme's job has gold items and three workers; Acme's models "good" (agrees with the gold
and the crowd) and "coin" (answers at random) predicted every item. A run measures both against
the people; the good one earns weight, the coin none, and neither is ever a paid or blockable
worker. In a dynamic job (minimum 2) a trusted model and one agreeing person settle an item that two
agreeing people alone could not; a distrusted model cannot.
"""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from marketplace.consensus import one_coin_confusion
from marketplace.jobs.models import Item, Job
from marketplace.jobs.predicting import PredictionEntry, predictions_set
from marketplace.jobs.predictions import ModelName, PredictionRow
from marketplace.quality.models import ConsensusRun, ItemResult, WorkerJobStats, WorkerResult
from marketplace.quality.overlap import OverlapJudge
from marketplace.quality.runs import consensus_run
from tests.factories import ClientFactory, WorkerFactory, open_job_with_items
from tests.quality.run_helpers import judged_job
from tests.quality.test_overlap import submit

pytestmark = pytest.mark.django_db


def predict(job: Job, name: str, labels: dict[int, str]) -> int:
    entries = [PredictionEntry(PredictionRow(label), item_id=i) for i, label in labels.items()]
    return predictions_set(job=job, model=ModelName(name, "1"), entries=entries).worker_id


def test_a_run_measures_each_model_against_the_people_and_pays_or_blocks_none() -> None:
    job = judged_job(items=12, gold=6, answers=("cat", "cat", "cat"))
    items = list(Item.objects.filter(job=job).values_list("pk", flat=True))
    rng = random.Random(4)
    predict(job, "good", {i: "cat" for i in items})
    predict(job, "coin", {i: rng.choice(["cat", "dog", "bird"]) for i in items})
    run = consensus_run(job=job)
    assert run.status == ConsensusRun.Status.SUCCEEDED, run.error
    models = {m["name"]: m for m in run.parameters["models"]}
    assert models["good"]["accuracy"] > 0.8 > 0.5 > models["coin"]["accuracy"]
    assert models["good"]["worker_id"] < 0 and models["good"]["items"] == len(items)  # gold too
    # Never a worker of the run: no result row, so no pay, no skill, no block can reach it.
    assert not WorkerResult.objects.filter(run=run, worker_id__lt=0).exists()
    assert set(ItemResult.objects.filter(run=run).values_list("label", flat=True)) == {"cat"}


def measured_run(job: Job, model_id: int, accuracy: float) -> None:
    """A run that measured the model at `accuracy` and the crowd at 0.7."""
    ConsensusRun.objects.create(
        job=job, method="quorum", status=ConsensusRun.Status.SUCCEEDED, started_at=timezone.now(),
        parameters={
            "priors": [1 / 3] * 3,
            "crowd": {"accuracy": 0.7, "confusion": None},
            "models": [{
                "model_id": model_id, "worker_id": -model_id, "accuracy": accuracy, "items": 50,
                "confusion": one_coin_confusion(accuracy, 3).tolist(),
            }],
        },
    )


@pytest.mark.parametrize(("accuracy", "settles"), [(0.95, True), (0.4, False), (None, False)])
def test_a_trusted_model_helps_settle_an_item_and_a_distrusted_one_cannot(
    accuracy: float | None, settles: bool
) -> None:
    job = open_job_with_items(
        items=1, overlap=2, max_overlap=5, target_confidence=Decimal("0.95")
    )
    item = Item.objects.get(job=job)
    model_id = -predict(job, "m", {item.pk: "cat"})
    if accuracy is not None:  # None: no run has measured the model yet (it counts as chance)
        measured_run(job, model_id, accuracy)
    people = [WorkerFactory() for _ in range(2)]
    for person in people:  # 14 of 20 gold right: as good as the crowd, no better
        WorkerJobStats.objects.create(job=job, worker=person, gold_seen=20, gold_correct=14)
    item = submit(people[0], job, "cat")
    if settles:  # one such person with a model right 95 % of the time: 0.99, below the minimum of 2
        assert item.is_complete and item.judgment_count == 1
    else:  # two such people agreeing reach 0.92: not enough alone
        assert not item.is_complete
        item = submit(people[1], job, "cat")
        assert not item.is_complete and item.judgment_count == 2
    verdict = OverlapJudge().verdict(item_id=item.pk)
    assert verdict is not None and verdict.model_votes == int(settles)


def test_the_job_page_shows_each_models_accuracy_beside_the_crowds() -> None:
    job = judged_job(items=8, answers=("cat", "cat", "dog"))
    predict(job, "spam-bert", {i: "cat" for i in Item.objects.filter(job=job).values_list("pk", flat=True)})
    run = consensus_run(job=job)
    owner = ClientFactory(organization=job.organization)
    client = Client()
    client.force_login(owner)
    page = client.get(f"/portal/jobs/{job.pk}/figures/").content.decode()
    measured = run.parameters["models"][0]["accuracy"] * 100
    assert "Models beside the crowd" in page and "spam-bert 1" in page
    assert f"{measured:.1f}%" in page and "the typical worker" in page
