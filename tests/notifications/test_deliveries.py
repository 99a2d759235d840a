"""Deliveries to a real receiver on 127.0.0.1: signed so the README's snippet verifies them,
retried after a failure with the log showing every attempt, redelivered on request, never
following a redirect, and never lost between the commit and the send.

Alice (Acme) registers the receiver for job.paused and pauses her job; Carol (Globex) must see
none of it.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction

from marketplace import flows
from marketplace.notifications import delivering
from marketplace.notifications.outbox import delivery_redeliver
from marketplace.jobs.models import Job
from marketplace.notifications.models import Delivery, DeliveryStatus, Event
from marketplace.notifications.tasks import notifications_sweep_tick
from tests.factories import open_job_with_items
from tests.notifications.helpers import endpoint_for, readme_verifier
from tests.notifications.receiver import Receiver


def _pause(alice: Any, capture: Any, *, send: bool = True) -> int:
    """Alice pauses an open job of hers; with send, what runs on commit runs."""
    job = open_job_with_items(items=2, organization=alice.organization)
    with capture(execute=send):
        flows.job_pause(job=job, user=alice)
    return job.pk


def test_a_delivery_is_signed_so_that_the_readmes_snippet_verifies_it(
    alice: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint, secret = endpoint_for(alice, receiver.url, ["job.paused"])
    job_id = _pause(alice, django_capture_on_commit_callbacks)

    [got] = receiver.requests
    header = got.headers["quorum-signature"]
    verify = readme_verifier()
    assert verify(secret, header, got.body)
    assert not verify(secret, header, got.body.replace(b"client", b"funds"))  # a tampered body
    assert not verify("whsec_someone-elses", header, got.body)
    body = json.loads(got.body)
    assert body["type"] == "job.paused" and body["id"].startswith("evt_")
    assert body["data"]["job"]["id"] == job_id and body["data"]["reason"] == "client"
    assert got.headers["quorum-event"] == "job.paused" and got.headers["content-type"] == "application/json"
    assert Delivery.objects.get(endpoint=endpoint).status == DeliveryStatus.SUCCEEDED


def test_a_receiver_that_answers_500_gets_a_retry_and_the_log_shows_both_attempts(
    alice: Any, receiver: Receiver, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint, secret = endpoint_for(alice, receiver.url, ["job.paused"])
    receiver.answers = [(500, {})]
    _pause(alice, django_capture_on_commit_callbacks)

    delivery = Delivery.objects.get(endpoint=endpoint)
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("pending", 1, 500)
    assert delivery.next_attempt_at - delivery.last_attempt_at == timedelta(seconds=30)  # the first backoff
    assert notifications_sweep_tick() == 0  # not due yet: nothing is sent early
    assert len(receiver.requests) == 1

    notifications_sweep_tick(now=delivery.next_attempt_at)

    assert len(receiver.requests) == 2 and receiver.requests[0].body == receiver.requests[1].body
    assert readme_verifier()(secret, receiver.requests[1].headers["quorum-signature"], receiver.requests[1].body)
    log = client_for(alice).get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/").json()
    assert log["status"] == "succeeded" and log["attempts"] == 2 and log["response_code"] == 200
    assert [(a["number"], a["response_code"], a["error"]) for a in log["attempt_log"]] == [
        (1, 500, "the receiver answered 500"), (2, 200, ""),
    ]
    assert log["body"]["type"] == "job.paused"


def test_retries_back_off_exponentially_and_stop_at_the_maximum(
    alice: Any, receiver: Receiver, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.QUORUM_WEBHOOK_MAX_ATTEMPTS = 3
    endpoint, _ = endpoint_for(alice, receiver.url, ["job.paused"])
    receiver.answers = [(503, {})] * 3
    _pause(alice, django_capture_on_commit_callbacks)

    waits = []
    for _ in range(2):
        delivery = Delivery.objects.get(endpoint=endpoint)
        waits.append(delivery.next_attempt_at - delivery.last_attempt_at)
        notifications_sweep_tick(now=delivery.next_attempt_at)

    delivery = Delivery.objects.get(endpoint=endpoint)
    assert waits == [timedelta(seconds=30), timedelta(seconds=60)]
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 3, None)
    assert notifications_sweep_tick(now=delivery.last_attempt_at + timedelta(days=1)) == 0  # given up
    assert len(receiver.requests) == 3


def test_a_client_redelivers_from_the_api_and_the_attempt_joins_the_log(
    alice: Any, receiver: Receiver, client_for: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.QUORUM_WEBHOOK_MAX_ATTEMPTS = 1
    endpoint, _ = endpoint_for(alice, receiver.url, ["job.paused"])
    receiver.answers = [(500, {})]
    _pause(alice, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.status == "failed"  # one attempt allowed, and it failed

    with django_capture_on_commit_callbacks(execute=True):
        answer = client_for(alice).post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/redeliver/")

    assert answer.status_code == 202, answer.content
    log = client_for(alice).get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/").json()
    assert log["status"] == "succeeded"
    assert [(a["response_code"], a["redelivery"]) for a in log["attempt_log"]] == [(500, False), (200, True)]
    assert receiver.requests[0].body == receiver.requests[1].body  # the same event, byte for byte


def test_an_event_stored_with_plus_zero_times_is_redelivered_in_the_z_form(
    alice: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    """Events recorded before webhook times matched the API kept "+00:00" in their data."""
    endpoint, _ = endpoint_for(alice, receiver.url, ["job.paused"])
    _pause(alice, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(endpoint=endpoint)
    Event.objects.filter(pk=delivery.event_id).update(
        data={"job": {"id": 1}, "finished_at": "2026-12-05T15:04:01.123456+00:00", "run": {"finished_at": None}})

    delivery_redeliver(user=alice, delivery_id=delivery.pk)
    delivering.delivery_attempt(delivery_id=delivery.pk)

    body = json.loads(receiver.requests[-1].body)
    assert body["data"]["finished_at"] == "2026-12-05T15:04:01.123456Z" and body["created_at"].endswith("Z")


def test_two_quick_redeliveries_get_their_own_numbers_and_a_delivered_event_stays_delivered(
    alice: Any, receiver: Receiver, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Alice clicks Redeliver twice on a delivered event; the second attempt starts while the
    first is still waiting for the receiver, which now answers 503 to both."""
    endpoint, _ = endpoint_for(alice, receiver.url, ["job.paused"])
    _pause(alice, django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.status == "succeeded"
    receiver.answers = [(503, {}), (503, {})]
    real_post, in_flight = delivering.webhook_post, []

    def post_while_a_second_redelivery_runs(**request: Any) -> Any:
        if not in_flight:  # the first attempt is at the receiver: Alice clicks again
            in_flight.append(True)
            delivery_redeliver(user=alice, delivery_id=delivery.pk)
            delivering.delivery_attempt(delivery_id=delivery.pk)
        return real_post(**request)

    monkeypatch.setattr(delivering, "webhook_post", post_while_a_second_redelivery_runs)
    delivery_redeliver(user=alice, delivery_id=delivery.pk)
    delivering.delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    numbers = list(delivery.attempt_log.values_list("number", "response_code"))
    assert sorted(numbers) == [(1, 200), (2, 503), (3, 503)] and delivery.attempts == 3
    assert delivery.status == "succeeded" and delivery.next_attempt_at is None  # no retry either


def test_a_retried_event_can_arrive_after_a_later_one_and_its_sequence_says_which_came_first(
    alice: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint_for(alice, receiver.url, ["job.paused", "job.resumed"])
    receiver.answers = [(503, {})]  # the pause's first attempt fails; its retry comes later
    job_id = _pause(alice, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        flows.job_resume(job=Job.objects.get(pk=job_id), user=alice)
    paused = Delivery.objects.get(event__type="job.paused")
    notifications_sweep_tick(now=paused.next_attempt_at)

    arrived = [json.loads(r.body) for r in receiver.requests]
    assert [b["type"] for b in arrived] == ["job.paused", "job.resumed", "job.paused"]  # 503, then out of order
    by_sequence = sorted(arrived[1:], key=lambda body: body["sequence"])
    assert [b["type"] for b in by_sequence] == ["job.paused", "job.resumed"]
    assert by_sequence[1]["sequence"] == by_sequence[0]["sequence"] + 1  # numbered per job, no gaps


def test_a_redirect_is_not_followed_and_the_delivery_says_so(
    alice: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    internal = receiver.url.replace("/hooks", "/internal/admin")  # 127.0.0.1, this very receiver
    receiver.answers = [(302, {"Location": internal})]
    endpoint, _ = endpoint_for(alice, receiver.url, ["job.paused"])
    _pause(alice, django_capture_on_commit_callbacks)

    delivery = Delivery.objects.get(endpoint=endpoint)
    assert [r.path for r in receiver.requests] == ["/hooks"]  # nothing went to the redirect's target
    assert delivery.status == "pending" and delivery.response_code == 302
    assert delivery.error.startswith("redirect (302 to 'http://127.0.0.1:") and "not followed" in delivery.error


def test_an_event_survives_a_crash_between_the_commit_and_the_send(
    alice: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint, _ = endpoint_for(alice, receiver.url, ["job.paused"])
    _pause(alice, django_capture_on_commit_callbacks, send=False)  # the process dies after commit
    assert receiver.requests == [] and Delivery.objects.get(endpoint=endpoint).status == "pending"

    notifications_sweep_tick()  # the periodic sweep, after the restart

    assert len(receiver.requests) == 1 and Delivery.objects.get(endpoint=endpoint).status == "succeeded"


def test_a_change_that_rolls_back_queues_nothing(alice: Any, receiver: Receiver) -> None:
    endpoint_for(alice, receiver.url, ["job.paused"])
    job = open_job_with_items(items=2, organization=alice.organization)

    with pytest.raises(RuntimeError), transaction.atomic():
        flows.job_pause(job=job, user=alice)
        raise RuntimeError("the request failed after the pause")

    assert not Event.objects.filter(type="job.paused").exists() and not Delivery.objects.exists()
