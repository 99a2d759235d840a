"""Dynamic overlap below the minimum: a trusted model's vote and one agreeing person settle an item
(labeling/slots.py, quality/overlap.py), through the real claim and submit flow on the database.

Alice's dynamic job asks 2 to 4 judgments per item until 90 % confident; her model "spam-bert" 3
predicted every item "cat". The job's latest consensus run measured the model (its parameters
are written here, as a run leaves them): 95 % accurate beside a typical worker at 70 % (trusted)
or 40 % (distrusted). Wendy answers first, Walter second, Wyatt third.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import TestCase
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import Conflict, NothingLeft
from marketplace.flows import work_submit
from marketplace.jobs.models import Item, Job, PredictionModel
from marketplace.jobs.predicting import PredictionEntry, predictions_set
from marketplace.jobs.predictions import ModelName, PredictionRow
from marketplace.jobs.services import ItemRow, item_bulk_create
from marketplace.labeling.services import lease_claim
from marketplace.quality.models import ConsensusRun
from tests.factories import JobFactory, WorkerFactory, publish_funded

pytestmark = pytest.mark.django_db


def dynamic_job(*, model_accuracy: float, items: int = 1) -> Job:
    job = JobFactory(overlap=2, max_overlap=4, target_confidence=Decimal("0.9"))
    item_bulk_create(job=job, rows=[ItemRow(data={"text": f"pet {i}"}) for i in range(items)], gold=False)
    predictions_set(job=job, model=ModelName("spam-bert", "3"),
                    entries=[PredictionEntry(PredictionRow("cat"), item_id=pk)
                             for pk in job.items.values_list("pk", flat=True)])
    k, right = len(job.label_keys), model_accuracy
    confusion = [[right if t == a else (1 - right) / (k - 1) for a in range(k)] for t in range(k)]
    now = timezone.now()
    ConsensusRun.objects.create(
        job=job, method="dawid_skene", status=ConsensusRun.Status.SUCCEEDED, started_at=now, finished_at=now,
        parameters={
            "priors": [1 / k] * k,
            "crowd": {"accuracy": 0.7, "confusion": None},
            "models": [{"model_id": PredictionModel.objects.get(name="spam-bert").pk, "name": "spam-bert",
                        "version": "3", "accuracy": right, "items": 200, "agreement": right,
                        "confusion": confusion}],
        },
    )
    return publish_funded(job)


def answer(worker: User, job: Job, label: str) -> Item:
    lease = lease_claim(worker=worker, job=job)
    with TestCase.captureOnCommitCallbacks(execute=True):
        work_submit(worker=worker, lease_id=lease.pk, label=label)
    return Item.objects.get(pk=lease.item_id)


@pytest.fixture
def wyatt() -> User:
    return WorkerFactory(username="wyatt")


def test_a_trusted_model_and_one_agreeing_person_settle_the_item_at_one_judgment(
    wendy: User, walter: User
) -> None:
    job = dynamic_job(model_accuracy=0.95)
    item = answer(wendy, job, "cat")
    assert item.is_complete and item.judgment_count == 1
    job.refresh_from_db()
    assert job.status == "completed"  # its only item is done: the job settles
    with pytest.raises((NothingLeft, Conflict)):  # nothing is left to claim
        lease_claim(worker=walter, job=job)


def test_when_the_person_disagrees_with_the_trusted_model_the_item_gets_more_people(
    wendy: User, walter: User, wyatt: User
) -> None:
    job = dynamic_job(model_accuracy=0.95)
    item = answer(wendy, job, "dog")
    assert not item.is_complete and item.judgment_count == 1
    item = answer(walter, job, "dog")  # the minimum: two people against the model
    assert item.judgment_count == 2
    if not item.is_complete:  # the rule may want a third voice; it is served
        assert answer(wyatt, job, "dog").judgment_count == 3


def test_a_distrusted_model_never_settles_an_item_below_the_minimum(wendy: User, walter: User) -> None:
    job = dynamic_job(model_accuracy=0.4)  # below the typical worker's 70 %
    item = answer(wendy, job, "cat")
    assert not item.is_complete and item.judgment_count == 1
    item = answer(walter, job, "cat")
    assert item.is_complete and item.judgment_count == 2  # at the minimum, as without a model


def test_an_item_someone_else_holds_is_not_settled_under_them(wendy: User, walter: User) -> None:
    job = dynamic_job(model_accuracy=0.95)
    held = lease_claim(worker=walter, job=job)  # Walter holds the item's other slot
    item = answer(wendy, job, "cat")
    assert item.pk == held.item_id and not item.is_complete  # Walter's answer still counts
    with TestCase.captureOnCommitCallbacks(execute=True):
        work_submit(worker=walter, lease_id=held.pk, label="cat")
    item.refresh_from_db()
    assert item.is_complete and item.judgment_count == 2


def test_items_without_a_prediction_wait_for_the_minimum(wendy: User) -> None:
    job = JobFactory(overlap=2, max_overlap=4, target_confidence=Decimal("0.9"))
    item_bulk_create(job=job, rows=[ItemRow(data={"text": "pet"})], gold=False)
    job = publish_funded(job)
    item = answer(wendy, job, "cat")
    assert not item.is_complete and item.judgment_count == 1
