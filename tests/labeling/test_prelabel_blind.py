"""Pre-labels with a control group: a share of (item, worker) pairs see no suggestion, and the
quality figures are measured on those blind judgments (labeling/prelabels.py, quality/label_quality.py,
consensus/blind.py).

Alice (Acme) shows her model "spam-bert" 3's label as a suggestion; it says "dog" of every item,
though half of them are cats. Her workers copy the suggestion whenever they see one and answer
the truth when they do not: the anchoring the control group is there to measure.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import TestCase
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.flows import work_submit
from marketplace.jobs.models import Item, Job, PredictionModel, PrelabelShown
from marketplace.jobs.predicting import PredictionEntry, predictions_set
from marketplace.jobs.predictions import ModelName, PredictionRow
from marketplace.labeling.prelabels import lease_prelabel, prelabel_blind
from marketplace.labeling.services import lease_claim
from marketplace.quality.runs import consensus_run
from tests.factories import WorkerFactory, open_job_with_items, publish_funded
from tests.labeling.helpers import post_json, signed_in
from tests.portal import browser

pytestmark = pytest.mark.django_db


def truth(item: Item) -> str:
    return "cat" if int(item.external_id[1:]) % 2 == 0 else "dog"


def prelabeled_job(alice: User, *, items: int, overlap: int) -> Job:
    job = open_job_with_items(items=items, overlap=overlap, publish=False, organization=alice.organization)
    predictions_set(job=job, model=ModelName("spam-bert", "3"),
                    entries=[PredictionEntry(PredictionRow("dog"), item_id=pk)
                             for pk in job.items.values_list("pk", flat=True)])
    job.prelabel_model = PredictionModel.objects.get(name="spam-bert")
    job.save(update_fields=["prelabel_model"])
    return publish_funded(job)


def test_the_blind_share_is_honoured_and_the_same_pair_always_gets_the_same_answer() -> None:
    pairs = [(item, worker) for item in range(1, 2_001) for worker in range(1, 11)]  # 20,000
    blind = [prelabel_blind(item_id=i, worker_id=w, share=0.1) for i, w in pairs]
    # Binomial(20,000, 0.1): one standard deviation is 0.21 points; 4 of them either side.
    assert 0.0915 < sum(blind) / len(pairs) < 0.1085
    assert blind == [prelabel_blind(item_id=i, worker_id=w, share=0.1) for i, w in pairs]
    assert not any(prelabel_blind(item_id=i, worker_id=w, share=0.0) for i, w in pairs[:500])
    assert all(prelabel_blind(item_id=i, worker_id=w, share=1.0) for i, w in pairs[:500])
    # A larger share keeps every pair a smaller one held blind (the draw is the pair's own).
    assert all(prelabel_blind(item_id=i, worker_id=w, share=0.3)
               for (i, w), b in zip(pairs, blind, strict=True) if b)


def test_a_blind_lease_carries_no_suggestion_in_any_payload_and_is_recorded_blind(
    alice: User, wendy: User, walter: User, client_for: Any, settings: Any
) -> None:
    settings.QUORUM_PRELABEL_BLIND_SHARE = Decimal("1")  # everybody in the control group
    job = prelabeled_job(alice, items=2, overlap=2)
    api = client_for(wendy)
    claimed = api.post("/api/v1/work/next/", {"job": job.pk}, format="json").json()
    detail = api.get(f"/api/v1/work/leases/{claimed['lease']}/").json()
    page = post_json(signed_in(walter), reverse("work-label-next", args=[job.pk])).json()["next"]
    for payload in (claimed, detail, page):
        text = json.dumps(payload)
        assert "suggestion" not in payload and "spam-bert" not in text and "suggest" not in text
    assert set(PrelabelShown.objects.values_list("worker__username", "blind")) == {
        ("wendy", True), ("walter", True)}


def test_a_pair_once_shown_stays_shown_when_the_share_grows(
    alice: User, wendy: User, settings: Any
) -> None:
    settings.QUORUM_PRELABEL_BLIND_SHARE = Decimal("0")
    job = prelabeled_job(alice, items=1, overlap=1)
    lease = lease_claim(worker=wendy, job=job)
    assert lease_prelabel(lease=lease) == "dog"
    settings.QUORUM_PRELABEL_BLIND_SHARE = Decimal("1")
    assert lease_prelabel(lease=lease) is None  # a reload after the change: no suggestion now...
    assert PrelabelShown.objects.get().blind is False  # ...but what she saw is on record


def test_the_figures_measure_the_model_on_blind_judgments_and_show_the_anchoring(
    alice: User, client_for: Any, settings: Any
) -> None:
    settings.QUORUM_PRELABEL_BLIND_SHARE = Decimal("0.3")
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 0  # the test's own run only
    job = prelabeled_job(alice, items=30, overlap=5)
    workers = [WorkerFactory(username=f"copier{k}") for k in range(5)]
    for worker in workers:
        for _ in range(30):
            lease = lease_claim(worker=worker, job=job)
            suggestion = lease_prelabel(lease=lease)
            with TestCase.captureOnCommitCallbacks(execute=True):
                work_submit(worker=worker, lease_id=lease.pk, label=suggestion or truth(lease.item))
    expected_blind = {
        (item.pk, worker.pk) for item in job.items.all() for worker in workers
        if prelabel_blind(item_id=item.pk, worker_id=worker.pk, share=0.3)
    }
    assert set(PrelabelShown.objects.filter(blind=True).values_list("item_id", "worker_id")) == expected_blind
    assert 0.15 < len(expected_blind) / 150 < 0.45  # Binomial(150, 0.3): within 4 deviations
    consensus_run(job=job)

    figures = client_for(alice).get(f"/api/v1/jobs/{job.pk}/label-quality/").json()["prelabels"]
    assert figures["judgments_blind"] == len(expected_blind)
    assert figures["judgments_shown"] == 150 - len(expected_blind)
    assert figures["agreement_shown"] == 1.0  # every shown worker copied the model
    cats = sum(1 for item_id, _ in expected_blind if truth(Item.objects.get(pk=item_id)) == "cat")
    assert figures["agreement_blind"] == pytest.approx(1 - cats / len(expected_blind), abs=1e-6)
    assert 0.2 < figures["agreement_blind"] < 0.8 and figures["anchoring"] > 0.2
    # Against everyone the model looks better than it is; against the blind, the coin it is.
    blind, everyone = float(figures["model_accuracy_blind"]), float(figures["model_accuracy_all"])  # 4-place text
    assert 0.3 < blind < 0.65  # truly 0.5; few items pull it to chance (1/3)
    assert blind < everyone - 0.1
    assert figures["model_items_blind"] > 0

    page = browser(alice).get(reverse("job-page", args=[job.pk])).content.decode()
    assert "Model agreement with blind judgments" in page
    assert f"(n={len(expected_blind)})" in page
    data = browser(alice).get(f"/portal/jobs/{job.pk}/data/").content.decode()
    assert "Model agreement with blind judgments" in data and "measured on the blind judgments alone" in data
