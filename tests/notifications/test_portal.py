"""The portal's webhooks pages: Alice adds her receiver and copies the secret (shown once), reads
the delivery log with every attempt and redelivers; a bad URL is refused on the form; Carol
(Globex) gets a 404 for every page and button of Acme's, and Wendy (a worker) for the section.
"""

from __future__ import annotations

from typing import Any

from django.test import Client

from marketplace import flows
from marketplace.notifications.models import Delivery, DeliveryAttempt, WebhookEndpoint
from tests.factories import open_job_with_items
from marketplace.notifications.sealing import secret_unseal
from tests.notifications.helpers import endpoint_for
from tests.notifications.receiver import Receiver


def _as(user: Any) -> Client:
    page = Client()
    page.force_login(user)
    return page


def test_a_client_adds_an_endpoint_and_sees_its_secret_only_on_the_answer(alice: Any, receiver: Receiver) -> None:
    page = _as(alice)

    added = page.post("/portal/webhooks/", {"url": receiver.url, "events": ["job.completed", "job.paused"],
                                            "description": "warehouse"})

    endpoint = WebhookEndpoint.objects.get()
    secret = secret_unseal(stored=endpoint.secret)
    assert added.status_code == 200 and secret in added.content.decode()
    assert "no-store" in added["Cache-Control"]  # no cache keeps the page with the secret
    again = page.get("/portal/webhooks/").content.decode()
    assert receiver.url in again and "job.completed, job.paused" in again
    assert secret not in again and endpoint.secret not in again


def test_a_private_address_is_refused_on_the_form_with_the_reason(alice: Any) -> None:
    answer = _as(alice).post("/portal/webhooks/", {"url": "https://169.254.169.254/latest/", "events": ["job.completed"]})

    assert answer.status_code == 400
    assert "The host 169.254.169.254 is not a public internet address" in answer.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_the_log_shows_each_attempt_and_redeliver_sends_again(
    alice: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint, _ = endpoint_for(alice, receiver.url, ["job.paused"])
    receiver.answers = [(500, {})]
    job = open_job_with_items(items=2, organization=alice.organization)
    with django_capture_on_commit_callbacks(execute=True):
        flows.job_pause(job=job, user=alice)
    delivery = Delivery.objects.get()
    page = _as(alice)

    log = page.get(f"/portal/webhooks/{endpoint.pk}/").content.decode()
    assert "job.paused" in log and "HTTP 500" in log and "the receiver answered 500" in log

    with django_capture_on_commit_callbacks(execute=True):
        sent = page.post(f"/portal/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/redeliver/")

    assert sent.status_code == 302
    log = page.get(f"/portal/webhooks/{endpoint.pk}/").content.decode()
    assert "HTTP 200" in log and "redelivered" in log and len(receiver.requests) == 2


def test_another_organization_and_a_worker_get_404_for_every_page_and_button(
    alice: Any, carol: Any, wendy: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint, _ = endpoint_for(alice, receiver.url, ["job.paused"])
    job = open_job_with_items(items=2, organization=alice.organization)
    with django_capture_on_commit_callbacks(execute=True):
        flows.job_pause(job=job, user=alice)
    delivery = Delivery.objects.get()
    base = f"/portal/webhooks/{endpoint.pk}"
    carols = _as(carol)

    assert receiver.url not in carols.get("/portal/webhooks/").content.decode()
    for answer in (
        carols.get(f"{base}/"),
        carols.post(f"{base}/toggle/"),
        carols.post(f"{base}/delete/"),
        carols.post(f"{base}/deliveries/{delivery.pk}/redeliver/"),
        _as(wendy).get("/portal/webhooks/"),
    ):
        assert answer.status_code == 404
    assert WebhookEndpoint.objects.get().is_active and DeliveryAttempt.objects.count() == 1


def test_a_client_turns_an_endpoint_off_and_deletes_it(alice: Any, receiver: Receiver) -> None:
    endpoint, _ = endpoint_for(alice, receiver.url, ["job.paused"])
    page = _as(alice)

    page.post(f"/portal/webhooks/{endpoint.pk}/toggle/")
    assert not WebhookEndpoint.objects.get().is_active
    page.post(f"/portal/webhooks/{endpoint.pk}/delete/")
    assert not WebhookEndpoint.objects.exists()
