"""What a client hears when its job ends, misses its promise or stops for money: webhooks to its
endpoints and e-mail to its people (Django's locmem outbox), each queued in the transaction that
made the change.

Alice and Bob are Acme's clients (both get e-mail); Carol is Globex's and hears nothing of Acme;
Wendy is a worker who labels.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core import mail

from marketplace import flows
from marketplace.billing.models import JobBudget, QualityCredit
from marketplace.billing.services import FundsExhausted, InsufficientFunds
from marketplace.errors import NothingLeft
from marketplace.jobs.models import Job, JobStatus
from marketplace.jobs.services import ItemRow, item_bulk_create, job_transition
from marketplace.labeling.claiming import lease_claim
from marketplace.notifications.mail import MAIL_LEASE
from marketplace.notifications.models import Event
from marketplace.quality.models import ConsensusRun
from marketplace.notifications.tasks import job_completion_sweep_tick, notifications_sweep_tick
from tests.factories import JobFactory, WorkerFactory, open_job_with_items, publish_funded
from tests.notifications.helpers import endpoint_for
from tests.notifications.receiver import Receiver

KEYS = ["cat", "dog", "bird"]


def _bodies(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.requests]


def test_a_completed_job_is_posted_to_the_webhook_and_mailed_to_each_client_of_the_organization(
    alice: Any, bob: Any, carol: Any, wendy: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint_for(alice, receiver.url, ["job.completed"])
    job = open_job_with_items(items=1, overlap=1, organization=alice.organization, title="Pets")
    lease = lease_claim(worker=wendy, job=job)

    with django_capture_on_commit_callbacks(execute=True):
        flows.work_submit(worker=wendy, lease_id=lease.pk, label="cat")

    [body] = _bodies(receiver)
    budget = JobBudget.objects.get(job=job)
    assert body["type"] == "job.completed" and body["data"]["job"]["status"] == "completed"
    assert body["data"]["items_completed"] == 1
    assert body["data"]["settlement"]["charged"] == str(budget.charged)
    assert sorted(m.to[0] for m in mail.outbox) == [alice.email, bob.email]  # one each; not Carol
    assert mail.outbox[0].subject == "Job “Pets” is complete"
    assert f"/portal/jobs/{job.pk}/" in mail.outbox[0].body and f"Charged: {budget.charged}" in mail.outbox[0].body


def test_a_job_the_sweep_completes_is_announced_from_the_same_transaction(
    alice: Any, wendy: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    """A crash after a submit's commit left the job open with every item done; the completion
    sweep completes it, and its job.completed is queued with the completion."""
    endpoint_for(alice, receiver.url, ["job.completed"])
    job = open_job_with_items(items=1, overlap=1, organization=alice.organization)
    lease = lease_claim(worker=wendy, job=job)
    job_transition(job=job, to=JobStatus.PAUSED)  # the submit cannot complete a paused job...
    flows.work_submit(worker=wendy, lease_id=lease.pk, label="cat")
    job_transition(job=Job.objects.get(pk=job.pk), to=JobStatus.OPEN)  # ...and nobody submits again

    with django_capture_on_commit_callbacks(execute=True):
        job_completion_sweep_tick()

    assert Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED
    assert [b["type"] for b in _bodies(receiver)] == ["job.completed"]


def _promise_job(acme: Any) -> tuple[Job, dict[int, str]]:
    """A standard-tier job (promise 0.90) with enough gold to measure it; every item's truth."""
    job = JobFactory(organization=acme, tier="standard", overlap=3, gold_rate="0.4", title="Birds")
    item_bulk_create(job=job, gold=False, rows=[ItemRow(data={"text": f"i{i}"}, external_id=f"i{i}") for i in range(24)])
    item_bulk_create(job=job, gold=True, rows=[
        ItemRow(data={"text": f"g{i}"}, external_id=f"g{i}", gold_label=KEYS[i % 3]) for i in range(12)])
    job = publish_funded(Job.objects.get(pk=job.pk))
    truth = {item.pk: KEYS[int(item.external_id[1:]) % 3] for item in job.items.all()}
    return job, truth


def test_a_missed_promise_is_announced_with_its_evidence_and_credit(alice: Any, receiver: Receiver) -> None:
    endpoint_for(alice, receiver.url, ["job.completed", "job.promise_missed"])
    job, truth = _promise_job(alice.organization)
    crowd = [WorkerFactory() for _ in range(10)]
    while Job.objects.get(pk=job.pk).status == JobStatus.OPEN:
        for worker in crowd:
            try:
                lease = lease_claim(worker=worker, job=job.pk)
            except NothingLeft:
                continue
            flows.work_submit(worker=worker, lease_id=lease.pk, label="cat")  # right a third of the time

    assert receiver.requests == []  # the test's transaction never commits: only the sweep sends
    notifications_sweep_tick()

    credit = QualityCredit.objects.get(job=job)
    budget = JobBudget.objects.get(job=job)
    missed = next(b for b in _bodies(receiver) if b["type"] == "job.promise_missed")
    assert missed["data"]["promised_accuracy"] == "0.9000"
    assert missed["data"]["delivered_accuracy"] == str(credit.delivered_accuracy)
    assert missed["data"]["interval"] == [str(credit.interval_low), str(credit.interval_high)]
    assert missed["data"]["credit"] == str(budget.credits) and budget.credits > 0
    subjects = sorted(m.subject for m in mail.outbox)
    assert subjects == ["Job “Birds” is complete", "Job “Birds” missed its quality promise: you are credited"]
    promise_mail = next(m for m in mail.outbox if "promise" in m.subject)
    assert f"Credited: {budget.credits}" in promise_mail.body and "0.9000 promised" in promise_mail.body


def test_a_job_with_no_budget_pauses_on_the_first_unpayable_submit_and_the_client_is_told(
    alice: Any, bob: Any, wendy: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    """The one way a job stops for money today: it was opened before billing existed, so no
    budget holds its pay (publishing escrows every item's worst case)."""
    endpoint_for(alice, receiver.url, ["job.paused"])
    job = open_job_with_items(items=2, organization=alice.organization, publish=False, title="Old job")
    job = job_transition(job=job, to=JobStatus.OPEN)  # opened without the publish flow
    lease = lease_claim(worker=wendy, job=job)

    with pytest.raises(FundsExhausted), django_capture_on_commit_callbacks(execute=True):
        flows.work_submit(worker=wendy, lease_id=lease.pk, label="cat")

    assert Job.objects.get(pk=job.pk).status == JobStatus.PAUSED
    [body] = _bodies(receiver)
    assert body["type"] == "job.paused" and body["data"]["reason"] == "funds"
    assert sorted(m.to[0] for m in mail.outbox) == [alice.email, bob.email]
    assert mail.outbox[0].subject == "Job “Old job” is paused: it has no budget to pay workers"


def test_a_client_pausing_its_own_job_gets_the_webhook_but_no_email(
    alice: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint_for(alice, receiver.url, ["job.paused", "job.resumed"])
    job = open_job_with_items(items=2, organization=alice.organization)

    with django_capture_on_commit_callbacks(execute=True):
        flows.job_pause(job=job, user=alice)
        flows.job_resume(job=Job.objects.get(pk=job.pk), user=alice)

    assert [(b["type"], b["data"].get("reason")) for b in _bodies(receiver)] == [
        ("job.paused", "client"), ("job.resumed", None)]
    assert mail.outbox == []


def test_a_publish_refused_for_funds_announces_nothing(alice: Any, receiver: Receiver) -> None:
    endpoint_for(alice, receiver.url, ["job.published"])
    job = open_job_with_items(items=5, organization=alice.organization, publish=False)

    with pytest.raises(InsufficientFunds):
        flows.job_publish(job=job, user=alice)

    assert not Event.objects.exists()


def test_an_email_that_fails_is_sent_again_by_the_sweep(
    alice: Any, wendy: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1  # nothing listens
    job = open_job_with_items(items=1, overlap=1, organization=alice.organization)
    lease = lease_claim(worker=wendy, job=job)
    with django_capture_on_commit_callbacks(execute=True):
        flows.work_submit(worker=wendy, lease_id=lease.pk, label="cat")
    event = Event.objects.get(type="job.completed")
    assert event.mail_sent_at is None and event.mail_attempts == 1 and "Connection" in event.mail_error

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # the server is back
    notifications_sweep_tick(now=event.mail_claimed_at + MAIL_LEASE)  # the failed send's hold is over

    event.refresh_from_db()
    assert event.mail_sent_at is not None and [m.to for m in mail.outbox] == [[alice.email]]


def test_final_results_are_announced_once_when_the_completion_consensus_run_succeeds(
    alice: Any, wendy: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.QUORUM_SITE_URL = "http://quorum.test"  # links in a payload are absolute
    endpoint_for(alice, receiver.url, ["job.consensus_ready"])
    job = open_job_with_items(items=1, overlap=1, organization=alice.organization)
    lease = lease_claim(worker=wendy, job=job)
    with django_capture_on_commit_callbacks(execute=True):  # completes the job; its run runs inline
        flows.work_submit(worker=wendy, lease_id=lease.pk, label="cat")
    run = ConsensusRun.objects.get(job=job, trigger="completion")
    assert run.status == "succeeded" and receiver.requests == []

    notifications_sweep_tick()
    notifications_sweep_tick()  # a second sweep (another process) announces nothing more

    [body] = _bodies(receiver)
    assert body["type"] == "job.consensus_ready" and body["data"]["run"]["id"] == run.pk
    assert body["data"]["results_url"] == f"http://quorum.test/api/v1/jobs/{job.pk}/results/"
    assert body["data"]["job"]["url"] == f"http://quorum.test/api/v1/jobs/{job.pk}/"
    assert Event.objects.filter(type="job.consensus_ready").count() == 1


def test_times_in_a_webhook_body_are_written_as_the_api_writes_them(
    alice: Any, wendy: Any, receiver: Receiver, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """One form for a client to parse: "2026-12-05T15:04:01.123456Z", not "+00:00" in webhooks."""
    endpoint_for(alice, receiver.url, ["job.completed", "job.consensus_ready"])
    job = open_job_with_items(items=1, overlap=1, organization=alice.organization)
    lease = lease_claim(worker=wendy, job=job)
    with django_capture_on_commit_callbacks(execute=True):
        flows.work_submit(worker=wendy, lease_id=lease.pk, label="cat")
    notifications_sweep_tick()  # records job.consensus_ready...
    notifications_sweep_tick()  # ...and sends it (the test's transaction never commits)

    completed, ready = _bodies(receiver)
    api = client_for(alice)
    run = api.get(f"/api/v1/jobs/{job.pk}/consensus/").json()["results"][0]
    assert completed["data"]["finished_at"] == api.get(f"/api/v1/jobs/{job.pk}/").json()["finished_at"]
    assert ready["data"]["run"]["finished_at"] == run["finished_at"]
    for body in (completed, ready):
        assert body["created_at"].endswith("Z") and "+00:00" not in json.dumps(body)


def test_a_job_cancelled_after_some_judgments_announces_its_final_results_after_the_cancel(
    alice: Any, wendy: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    """job.cancelled comes first, saying final results follow; job.consensus_ready once they are."""
    endpoint_for(alice, receiver.url, ["job.cancelled", "job.consensus_ready"])
    job = open_job_with_items(items=2, overlap=1, organization=alice.organization)
    lease = lease_claim(worker=wendy, job=job)
    flows.work_submit(worker=wendy, lease_id=lease.pk, label="cat")

    with django_capture_on_commit_callbacks(execute=True):  # the completion run runs inline
        flows.job_cancel(job=Job.objects.get(pk=job.pk), user=alice)
    notifications_sweep_tick()  # finds the run and queues job.consensus_ready...
    notifications_sweep_tick()  # ...which the next sweep sends

    cancelled, ready = _bodies(receiver)
    run = ConsensusRun.objects.get(job=job, trigger="completion", status="succeeded")
    assert cancelled["type"] == "job.cancelled" and cancelled["data"]["consensus_ready_follows"] is True
    assert ready["type"] == "job.consensus_ready" and ready["data"]["run"]["id"] == run.pk
    assert ready["data"]["job"]["status"] == "cancelled"


def test_a_job_cancelled_before_any_judgment_says_no_final_results_will_follow(
    alice: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint_for(alice, receiver.url, ["job.cancelled", "job.consensus_ready"])
    job = open_job_with_items(items=2, overlap=1, organization=alice.organization)

    with django_capture_on_commit_callbacks(execute=True):
        flows.job_cancel(job=job, user=alice)
    notifications_sweep_tick()
    notifications_sweep_tick()

    [cancelled] = _bodies(receiver)
    assert cancelled["type"] == "job.cancelled" and cancelled["data"]["consensus_ready_follows"] is False
