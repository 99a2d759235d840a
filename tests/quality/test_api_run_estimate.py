"""GET /api/v1/jobs/{id}/consensus/{run}/: how right a run's labels are, as the job page says it.

Alice's Acme job (cat, dog, bird) has three plain items and twelve gold items: g0-g5 cat, g6-g9
dog, g10-g11 bird. Her run labelled the plain items with confidences 0.9, 0.8 and 0.95, and, told
nothing of their answers, the gold items g0-g4 cat, g5 dog, g6-g8 dog, g9 cat, g10-g11 cat: 8 of
12 right. Every figure is recomputed below from those rows, never copied from the code.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.jobs.models import GoldAnswer, Item, Job
from marketplace.jobs.services import ItemRow, item_bulk_create
from marketplace.quality.models import ConsensusRun, ItemResult
from marketplace.quality.scoring import share_interval
from marketplace.web.client.job_reads import job_consensus
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db

PLAIN = {"p0": ("cat", 0.9), "p1": ("dog", 0.8), "p2": ("cat", 0.95)}
GOLD = {f"g{i}": "cat" for i in range(6)} | {f"g{i}": "dog" for i in range(6, 10)} | {"g10": "bird", "g11": "bird"}
UNAIDED = {f"g{i}": "cat" for i in range(5)} | {"g5": "dog"} | {f"g{i}": "dog" for i in range(6, 9)} | {
    "g9": "cat", "g10": "cat", "g11": "cat"}


def _job_and_run(alice: User, gold: dict[str, str]) -> tuple[Job, ConsensusRun]:
    job = JobFactory(organization=alice.organization, created_by=alice)
    item_bulk_create(job=job, rows=[ItemRow(data={"text": ext}, external_id=ext) for ext in PLAIN], gold=False)
    item_bulk_create(job=job, rows=[ItemRow(data={"text": ext}, external_id=ext, gold_label=label)
                                    for ext, label in gold.items()], gold=True)
    ids = dict(Item.objects.filter(job=job).values_list("external_id", "pk"))
    run = ConsensusRun.objects.create(job=job, method="quorum", status=ConsensusRun.Status.SUCCEEDED,
                                      started_at=timezone.now())
    ItemResult.objects.bulk_create(
        [ItemResult(run=run, item_id=ids[ext], label=label, confidence=c, probabilities={})
         for ext, (label, c) in PLAIN.items()]
        + [ItemResult(run=run, item_id=ids[ext], label=answer, confidence=1.0, probabilities={},
                      label_without_answer=UNAIDED[ext]) for ext, answer in gold.items()]
    )
    return job, run


def _detail(alice: User, client_for: Any, run: ConsensusRun) -> dict[str, Any]:
    response = client_for(alice).get(f"/api/v1/jobs/{run.job_id}/consensus/{run.pk}/")
    assert response.status_code == 200, response.content
    return response.json()


def _by_hand(job: Job, run: ConsensusRun) -> tuple[list[tuple[str, str]], float]:
    """(gold answer, label without it) per held-out gold item, and the plain items' mean confidence."""
    answers = dict(GoldAnswer.objects.filter(item__job=job).values_list("item_id", "label"))
    results = ItemResult.objects.filter(run=run)
    pairs = [(answers[item], unaided) for item, unaided in
             results.filter(item__is_gold=True).values_list("item_id", "label_without_answer")]
    plain = list(results.filter(item__is_gold=False).values_list("confidence", flat=True))
    return pairs, sum(plain) / len(plain)


def test_with_ten_or_more_held_out_gold_items_the_run_reports_their_share_right_with_its_interval(
    alice: User, client_for: Any
) -> None:
    job, run = _job_and_run(alice, GOLD)
    pairs, mean = _by_hand(job, run)
    right = sum(truth == given for truth, given in pairs)
    assert (right, len(pairs)) == (8, 12)

    body = _detail(alice, client_for, run)

    estimate = body["expected_accuracy"]
    assert estimate["basis"] == "gold_heldout" and estimate["value"] == f"{right / len(pairs):.4f}"
    low, high = share_interval(successes=right, trials=len(pairs))
    assert estimate["interval"] == [f"{low:.4f}", f"{high:.4f}"]  # accuracies: decimal strings, 4 places
    assert estimate["heldout_gold_items"] == estimate["of"] == 12 and estimate["heldout_gold_needed"] == 10
    assert estimate["model_confidence"] == pytest.approx(mean) and estimate["model_items"] == 3
    assert "mean_confidence" not in str(body)  # the raw confidence only under the model's name
    page = job_consensus(job=job)  # the job page's headline for the same (latest) run
    assert (estimate["value"], estimate["basis"]) == (f"{page.estimated_accuracy:.4f}", page.estimate_basis)
    # Regular items per label, as the page's distribution: the 12 gold items' labels are their answers.
    regular = Counter(ItemResult.objects.filter(run=run, item__is_gold=False).values_list("label", flat=True))
    assert body["distribution"] == {label: {"items": n} for label, n in regular.items()}
    assert sum(n["items"] for n in body["distribution"].values()) == 3 == sum(n for _, n in page.distribution)


def test_per_label_the_run_reports_precision_and_recall_on_the_held_out_gold(
    alice: User, client_for: Any
) -> None:
    job, run = _job_and_run(alice, GOLD)
    pairs, _ = _by_hand(job, run)

    heldout = _detail(alice, client_for, run)["heldout_gold"]

    assert heldout["items"] == len(pairs) and heldout["correct"] == sum(t == g for t, g in pairs)
    for row in heldout["labels"]:
        label = row["label"]
        support = sum(truth == label for truth, _ in pairs)
        predicted = sum(given == label for _, given in pairs)
        correct = sum(truth == given == label for truth, given in pairs)
        assert (row["support"], row["predicted"], row["correct"]) == (support, predicted, correct)
        assert row["precision"] == (pytest.approx(correct / predicted) if predicted else None)
        assert row["recall"] == (pytest.approx(correct / support) if support else None)
    assert [row["label"] for row in heldout["labels"]] == ["cat", "dog", "bird"]
    bird = heldout["labels"][2]
    assert bird["precision"] is None and bird["recall"] == 0  # never given; both birds missed


def test_with_too_little_held_out_gold_the_figure_is_the_models_own_without_an_interval(
    alice: User, client_for: Any
) -> None:
    few = {ext: GOLD[ext] for ext in ("g0", "g5", "g9")}
    job, run = _job_and_run(alice, few)
    pairs, mean = _by_hand(job, run)

    body = _detail(alice, client_for, run)

    estimate = body["expected_accuracy"]
    assert estimate["basis"] == "model" and estimate["interval"] is None
    assert estimate["value"] == f"{mean:.4f}" and estimate["model_confidence"] == pytest.approx(mean)
    assert estimate["of"] == 3 and estimate["heldout_gold_items"] == len(pairs) == 3
    assert body["heldout_gold"]["items"] == 3 and body["heldout_gold"]["correct"] == 1


def test_a_run_that_did_not_succeed_reports_no_estimate(alice: User, client_for: Any) -> None:
    job, run = _job_and_run(alice, GOLD)
    failed = ConsensusRun.objects.create(job=job, method="ds", status=ConsensusRun.Status.FAILED,
                                         started_at=timezone.now(), error="boom")

    body = _detail(alice, client_for, failed)

    assert body["expected_accuracy"] is None and body["heldout_gold"] is None and body["distribution"] == {}
