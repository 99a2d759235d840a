"""The expected accuracy of a job's labels (quality/estimate.py): what the job page's headline, the
live job.consensus event and the staff job list all show.

Alice's Acme job (cat, dog, bird) has six items and twelve gold items, each judged by the same
three workers, who always agree. Items r0-r2 they call cat, r3-r5 dog. Gold g0-g7 is cat and
they say cat, g8-g9 is dog and they say dog, and g10-g11 is dog but they all say cat: a mistake
they share, which Dawid-Skene's independent errors cannot model. Labelled without their answers,
the gold items come out as the workers said, so 10 of 12 are right (83.3 %). That is the
headline; the model's mean confidence on the six items is shown beside it as its own estimate.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.jobs.models import GoldAnswer, Item, Job, JobStatus
from marketplace.jobs.services import ItemRow, item_bulk_create
from marketplace.labeling.models import Judgment
from marketplace.quality import estimate
from marketplace.quality.models import ConsensusRun, ItemResult
from marketplace.quality.runs import consensus_run
from marketplace.quality.scoring import share_interval
from marketplace.realtime import transport
from tests.factories import JobFactory, WorkerFactory
from tests.portal import browser

pytestmark = pytest.mark.django_db

SAID = {"r0": "cat", "r1": "cat", "r2": "cat", "r3": "dog", "r4": "dog", "r5": "dog"}
GOLD = {f"g{i}": "cat" for i in range(8)} | {"g8": "dog", "g9": "dog", "g10": "dog", "g11": "dog"}
SAID |= {ext: "cat" for ext in GOLD if ext not in ("g8", "g9")} | {"g8": "dog", "g9": "dog"}


def _judged_job(alice: User, gold: dict[str, str]) -> Job:
    """The job above, with `gold` as its gold items; every judgment as the three workers gave it."""
    job = JobFactory(organization=alice.organization, created_by=alice)
    item_bulk_create(job=job, rows=[ItemRow(data={"text": ext}, external_id=ext) for ext in SAID if ext not in GOLD],
                     gold=False)
    item_bulk_create(job=job, rows=[ItemRow(data={"text": ext}, external_id=ext, gold_label=label)
                                    for ext, label in gold.items()], gold=True)
    items = {item.external_id: item for item in Item.objects.filter(job=job)}
    Judgment.objects.bulk_create(
        Judgment(job=job, item=items[ext], worker=worker, label=SAID[ext], is_gold=ext in gold,
                 is_correct=SAID[ext] == gold[ext] if ext in gold else None)
        for worker in WorkerFactory.create_batch(3) for ext in SAID if ext in items
    )
    return job


def _headline(body: str) -> str:
    return body.split('data-consensus="estimated_accuracy">', 1)[1].split("</div>", 1)[0]


def _held_out_by_hand(job: Job) -> tuple[int, int]:
    """(right, gold items): each gold item's label from its judgments alone (the workers agree,
    so it is their answer) against its known answer."""
    answers = dict(GoldAnswer.objects.filter(item__job=job).values_list("item_id", "label"))
    said = dict(Judgment.objects.filter(job=job, is_gold=True).values_list("item_id", "label"))
    return sum(said[item] == answer for item, answer in answers.items()), len(answers)


def test_with_enough_gold_the_headline_is_the_gold_measured_without_its_answer(alice: User) -> None:
    job = _judged_job(alice, GOLD)
    run = consensus_run(job=job)
    assert run.status == ConsensusRun.Status.SUCCEEDED
    right, n = _held_out_by_hand(job)
    assert (right, n) == (10, 12)
    regular = list(run.item_results.filter(item__is_gold=False).values_list("confidence", flat=True))
    model = sum(regular) / len(regular)

    body = browser(alice).get(reverse("client-job-figures", args=[job.pk])).content.decode()
    assert _headline(body) == f"{100 * right / n:.1f}%" == "83.3%"
    low, high = share_interval(successes=right, trials=n)
    interval = body.split('data-figure="accuracy-interval">', 1)[1].split("</span>", 1)[0]
    assert interval == f"90% interval {100 * low:.1f}–{100 * high:.1f}%"
    assert "measured on 12 gold items, each labelled by consensus without its known answer" in body
    beside = body.split('data-figure="model-estimate">', 1)[1].split("</span>", 1)[0]
    assert beside == f"The model's own estimate: {100 * model:.1f}% over 6 items (crowd models' confidences run high)"
    assert 'data-figure="add-gold"' not in body


def test_with_too_little_gold_the_headline_is_the_models_own_estimate_without_an_interval(alice: User) -> None:
    few = {ext: GOLD[ext] for ext in ("g0", "g1", "g10")}  # three gold items: far under ten
    job = _judged_job(alice, few)
    run = consensus_run(job=job)
    regular = list(run.item_results.filter(item__is_gold=False).values_list("confidence", flat=True))

    body = browser(alice).get(reverse("client-job-figures", args=[job.pk])).content.decode()
    assert _headline(body) == f"{100 * sum(regular) / len(regular):.1f}%"
    assert 'data-figure="accuracy-interval"' not in body  # nothing was measured: no interval
    own = body.split('data-figure="model-estimate">', 1)[1].split("</span>", 1)[0]
    assert own.startswith("The consensus model's own estimate, not measured")
    assert "confidences run high" in own
    add = body.split('data-figure="add-gold">', 1)[1].split("</span>", 1)[0]
    assert add == "Only 3 gold items measured so far: with 10 or more, this figure is measured on them instead."

    Job.objects.filter(pk=job.pk).update(status=JobStatus.CANCELLED)  # ended: no more gold will come
    body = browser(alice).get(reverse("client-job-figures", args=[job.pk])).content.decode()
    add = body.split('data-figure="add-gold">', 1)[1].split("</span>", 1)[0]
    assert add == ("This job ended with 3 gold items labelled without their answer: measuring this figure "
                   "takes 10 or more, so it stays the model's own. Give your next job more gold.")


def test_without_gold_the_page_asks_for_gold(alice: User) -> None:
    job = _judged_job(alice, {})
    consensus_run(job=job)
    body = browser(alice).get(reverse("client-job-figures", args=[job.pk])).content.decode()
    add = body.split('data-figure="add-gold">', 1)[1].split("</span>", 1)[0]
    assert add.startswith("Add gold items: once 10 are labelled")


def test_the_live_event_carries_the_figure_the_page_shows(alice: User, monkeypatch: Any) -> None:
    """The browser writes the event's estimated_accuracy over the page's headline (jobpage.js)."""
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(transport, "group_send", lambda groups, message: sent.append(message))
    job = _judged_job(alice, GOLD)
    with TestCase.captureOnCommitCallbacks(execute=True):
        run = consensus_run(job=job)
    (message,) = [m for m in sent if m.get("type") == "job.consensus"]
    assert message["run"] == run.pk and message["estimate_basis"] == "gold_heldout"
    body = browser(alice).get(reverse("client-job-figures", args=[job.pk])).content.decode()
    assert _headline(body) == f"{100 * message['estimated_accuracy']:.1f}%" == "83.3%"
    assert message["model_estimate"] is not None


def test_the_staff_job_list_shows_the_same_figure_and_its_basis(alice: User, ada: User) -> None:
    job = _judged_job(alice, GOLD)
    consensus_run(job=job)
    body = browser(ada).get(reverse("staff-jobs")).content.decode()
    row = body.split(f"#{job.pk}</span>", 1)[1].split("</tr>", 1)[0]
    assert 'data-basis="gold_heldout">0.833 <span class="small muted">held-out gold</span>' in row


def test_the_basis_falls_to_the_model_below_ten_held_out_gold_items() -> None:
    measured = estimate.estimate_choose(model=(0.99, 80), heldout=(8, 10), gold=(30, 40, 0), once=(0, 80))
    assert (measured.accuracy, measured.basis, measured.trials) == (0.8, "gold_heldout", 10)
    assert measured.interval == share_interval(successes=8, trials=10)
    few = estimate.estimate_choose(model=(0.99, 80), heldout=(8, 9), gold=(30, 40, 0), once=(0, 80))
    assert (few.accuracy, few.basis, few.trials, few.interval) == (0.99, "model", 80, None)
    single = estimate.estimate_choose(model=(0.99, 80), heldout=(8, 10), gold=(30, 40, 0), once=(70, 80))
    assert (single.accuracy, single.basis) == (0.75, "gold")  # overlap one: the workers' own gold accuracy


def test_a_multi_label_headline_is_the_share_of_gold_sets_exactly_right(alice: User) -> None:
    """Ten gold items: consensus, not told their answers, gets eight sets exactly right (the
    ninth misses a label, the tenth adds one): 80 % right, measured on exact sets, the unit of a
    set's confidence."""
    job = JobFactory(organization=alice.organization, created_by=alice, multi_label=True)
    gold = {f"g{i}": ["cat"] for i in range(10)}
    given = {**gold, "g8": [], "g9": ["cat", "dog"]}
    item_bulk_create(job=job, rows=[ItemRow(data={"text": ext}, external_id=ext, gold_label="", gold_labels=sets)
                                    for ext, sets in gold.items()], gold=True)
    item_bulk_create(job=job, rows=[ItemRow(data={"text": "r0"}, external_id="r0")], gold=False)
    items = {item.external_id: item for item in Item.objects.filter(job=job)}
    run = ConsensusRun.objects.create(job=job, method="quorum", status=ConsensusRun.Status.SUCCEEDED,
                                      started_at=timezone.now(), parameters={"multi_label": True})
    keys = ("cat", "dog", "bird")
    ItemResult.objects.bulk_create(
        [ItemResult(run=run, item=items[ext], label="", confidence=1.0, probabilities={k: float(k in gold[ext]) for k in keys},
                    probabilities_without_answer={k: 0.9 if k in sets else 0.1 for k in keys}) for ext, sets in given.items()]
        + [ItemResult(run=run, item=items["r0"], label="", confidence=0.97, probabilities={"cat": 0.99})]
    )
    exact = sum(sorted(given[ext]) == sorted(gold[ext]) for ext in gold)

    body = browser(alice).get(reverse("client-job-figures", args=[job.pk])).content.decode()
    assert _headline(body) == f"{100 * exact / len(gold):.1f}%" == "80.0%"
    assert "measured on 10 gold items (the share whose whole label set is right)" in body
    assert "The model's own estimate: 97.0% over 1 item " in body
