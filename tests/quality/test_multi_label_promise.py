"""The quality promise on a multi-label job is measured per label, and the worst label decides.

Three workers (made here) judge every item of a job with twelve gold items whose set is {cat}.
"""

from __future__ import annotations

import pytest

from marketplace.jobs.models import Item
from marketplace.labeling.models import Judgment
from marketplace.quality.delivery import job_delivered_accuracy
from tests.factories import WorkerFactory, open_job_with_items

pytestmark = pytest.mark.django_db


def _judge(*, dog_too: bool) -> float:
    """Everyone ticks {cat} on every item; with `dog_too` they also tick dog on the gold items."""
    job = open_job_with_items(items=6, gold=12, overlap=3, multi_label=True)
    workers = [WorkerFactory() for _ in range(3)]
    for item in Item.objects.filter(job=job):
        for worker in workers:
            labels = ["cat", "dog"] if dog_too and item.is_gold else ["cat"]
            Judgment.objects.create(job=job, item=item, worker=worker, label="", labels=labels,
                                    is_gold=item.is_gold)
    Item.objects.filter(job=job, is_gold=False).update(judgment_count=3, is_complete=True)
    check = job_delivered_accuracy(job_id=job.pk)
    assert check.note == "" and check.estimate is not None
    assert "per label, the worst of 3 labels" in check.estimate.method
    if dog_too:
        assert "('dog')" in check.estimate.method
    return check.estimate.accuracy


def test_a_crowd_right_on_every_label_delivers_in_full_and_one_wrong_label_shows() -> None:
    assert _judge(dog_too=False) == pytest.approx(1.0)
    assert _judge(dog_too=True) < 0.5  # every gold item's "dog" is decided wrong: dog is the worst


def test_too_little_judged_gold_is_not_measured() -> None:
    job = open_job_with_items(items=2, gold=2, overlap=1, multi_label=True)
    assert job_delivered_accuracy(job_id=job.pk).estimate is None
