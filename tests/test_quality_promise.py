"""The quality promise at completion: the delivered accuracy is estimated on gold held back from
the fit, compared with the tier's promise, and a shortfall credits the client automatically, with
the evidence on the invoice. Acme's jobs run on the standard tier (promise 0.90, price per item
from the tier); a small crowd labels them through the real claim/submit flow."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.test import Client

from marketplace import flows
from marketplace.billing.invoices import invoice_for_job
from marketplace.billing.models import JobBudget, QualityCredit, Tier
from marketplace.jobs.models import Item, Job
from marketplace.jobs.services import ItemRow, item_bulk_create
from marketplace.errors import NothingLeft
from marketplace.labeling.claiming import lease_claim
from marketplace.quality.delivery import job_delivered_accuracy
from marketplace.quality.rules import rules_for
from marketplace.quality.runs import consensus_run
from tests.factories import JobFactory, WorkerFactory, publish_funded

D = Decimal
KEYS = ["cat", "dog", "bird"]


def _job(acme: Any, *, items: int = 24, gold: int = 12) -> tuple[Job, dict[int, str]]:
    """A standard-tier job, overlap 3, with gold of every label; returns it and every item's truth."""
    job = JobFactory(organization=acme, tier="standard", overlap=3, gold_rate=D("0.4"))
    item_bulk_create(job=job, rows=[ItemRow(data={"text": f"item {i}"}, external_id=f"i{i}") for i in range(items)],
                     gold=False)
    item_bulk_create(job=job, gold=True, rows=[
        ItemRow(data={"text": f"gold {i}"}, external_id=f"g{i}", gold_label=KEYS[i % 3]) for i in range(gold)])
    truth = {item.pk: KEYS[int(item.external_id[1:]) % 3] for item in Item.objects.filter(job=job)}
    return publish_funded(Job.objects.get(pk=job.pk)), truth


def _crowd_labels(job: Job, truth: dict[int, str], *, answer: Any, workers: int = 10) -> None:
    """Workers take turns claiming and answering until the job completes."""
    crowd = [WorkerFactory() for _ in range(workers)]
    idle = 0
    while Job.objects.get(pk=job.pk).status == "open" and idle < len(crowd):
        idle = 0
        for worker in crowd:
            try:
                lease = lease_claim(worker=worker, job=job.pk)
            except NothingLeft:  # no work for this worker now
                idle += 1
                continue
            flows.work_submit(worker=worker, lease_id=lease.pk, label=answer(truth[lease.item_id]))


def test_a_crowd_that_keeps_the_promise_is_charged_in_full_and_the_invoice_says_so(acme: Any) -> None:
    job, truth = _job(acme)
    _crowd_labels(job, truth, answer=lambda right: right)

    budget = JobBudget.objects.get(job=job)
    credit = QualityCredit.objects.get(job=job)
    assert Job.objects.get(pk=job.pk).status == "completed" and budget.settled_at is not None
    assert credit.delivered_accuracy == D("1.0000") and credit.rate == 0 and budget.credits == 0
    line = invoice_for_job(job=job).lines[0]
    assert line.quality.startswith("kept: delivered 100.0%") and "against 90.0% promised" in line.quality


def test_a_crowd_that_misses_the_promise_credits_the_client_with_the_evidence(acme: Any, alice: Any) -> None:
    job, truth = _job(acme)
    _crowd_labels(job, truth, answer=lambda right: "cat")  # a constant answerer is right a third of the time

    budget = JobBudget.objects.get(job=job)
    credit = QualityCredit.objects.get(job=job)
    assert credit.delivered_accuracy < D("0.5") and credit.interval_high < D("0.9")
    assert credit.rate == 1 and budget.credits == budget.gross  # more than 10 points missed: all of it
    invoice = invoice_for_job(job=job)
    assert invoice.total == budget.gross - budget.credits == 0
    assert re.fullmatch(r"held-out gold: .* over 1[0-2] gold items", invoice.credits[0].method)
    assert invoice.lines[0].quality.startswith("missed: delivered")
    page = Client()
    page.force_login(alice)
    shown = page.get(f"/portal/jobs/{job.pk}/").content.decode()
    assert "Missed: delivered" in shown and f"Credited ${budget.credits:,.2f}" in shown  # the job page shows it too


def test_with_too_little_gold_the_promise_is_not_measured_and_the_invoice_says_why(acme: Any) -> None:
    job, truth = _job(acme, gold=4)
    _crowd_labels(job, truth, answer=lambda right: "cat")

    assert not QualityCredit.objects.filter(job=job).exists()
    budget = JobBudget.objects.get(job=job)
    assert budget.settled_at is not None and budget.credits == 0
    line = invoice_for_job(job=job).lines[0]
    assert line.quality == "not measured: the estimate needs at least 10 judged gold items"


def test_the_promise_and_rules_a_job_was_published_under_hold_when_an_admin_edits_the_tier(acme: Any) -> None:
    """An admin tightens the standard tier's gold floor to 0.70, Acme publishes, then the admin
    raises the promise to 0.99 and the floor to 0.80: Acme's running job keeps 0.90 and 0.70."""
    tier = Tier.objects.get(slug="standard")
    tier.quality_rules = {**tier.quality_rules, "gold_accuracy_floor": "0.70"}
    tier.save()
    job, truth = _job(acme)
    tier.promised_accuracy, tier.quality_rules = D("0.9900"), {**tier.quality_rules, "gold_accuracy_floor": "0.80"}
    tier.save()

    assert rules_for(job=Job.objects.get(pk=job.pk)).gold_accuracy_floor == D("0.70")
    _crowd_labels(job, truth, answer=lambda right: right)
    credit = QualityCredit.objects.get(job=job)
    assert credit.promised_accuracy == D("0.9000") and credit.rate == 0
    assert "against 90.0% promised" in invoice_for_job(job=job).lines[0].quality


def test_the_estimate_refits_the_method_the_jobs_labels_came_from(acme: Any) -> None:
    job, truth = _job(acme)
    _crowd_labels(job, truth, answer=lambda right: right)
    assert "consensus method 'quorum'" in QualityCredit.objects.get(job=job).method  # the default's run

    consensus_run(job=Job.objects.get(pk=job.pk), method="mv")  # the client relabels by majority vote
    check = job_delivered_accuracy(job_id=job.pk)
    assert check.estimate is not None and "consensus method 'mv'" in check.estimate.method
