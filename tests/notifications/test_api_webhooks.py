"""The webhooks API as a client uses it: register, read, change, delete; bad input is a clear
400 that changes nothing; another organization sees none of it (404) and a worker is refused.

Alice and Bob are Acme's clients; Carol is Globex's and must never see or touch Acme's
endpoints or deliveries; Wendy is a worker.
"""

from __future__ import annotations

from typing import Any

import pytest

from marketplace import flows
from marketplace.notifications.models import Delivery, DeliveryAttempt, WebhookEndpoint
from tests.factories import open_job_with_items
from tests.notifications.receiver import Receiver


def _register(api: Any, url: str, events: list[str] | None = None) -> dict[str, Any]:
    answer = api.post("/api/v1/webhooks/", {"url": url, "events": events or ["job.completed"],
                                            "description": "warehouse"}, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()


def test_the_secret_is_shown_once_at_creation_and_never_again(alice: Any, bob: Any, client_for: Any,
                                                              receiver: Receiver) -> None:
    created = _register(client_for(alice), receiver.url, ["job.completed", "job.promise_missed"])

    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["events"] == ["job.completed", "job.promise_missed"] and created["is_active"] is True
    listed = client_for(bob).get("/api/v1/webhooks/").json()  # Bob, Alice's colleague, sees it...
    assert [e["id"] for e in listed["results"]] == [created["id"]]
    shown = client_for(alice).get(f"/api/v1/webhooks/{created['id']}/").content.decode()
    assert created["secret"] not in shown and created["secret"] not in str(listed)  # ...but not its secret


def test_the_answer_carrying_the_secret_is_never_cached(alice: Any, client_for: Any, receiver: Receiver) -> None:
    answer = client_for(alice).post("/api/v1/webhooks/", {"url": receiver.url, "events": ["job.completed"]},
                                    format="json")

    assert answer.status_code == 201 and "secret" in answer.json()
    assert "no-store" in answer["Cache-Control"] and "private" in answer["Cache-Control"]


def test_a_client_changes_an_endpoints_events_turns_it_off_and_deletes_it(alice: Any, client_for: Any,
                                                                           receiver: Receiver) -> None:
    api = client_for(alice)
    endpoint = _register(api, receiver.url)

    changed = api.patch(f"/api/v1/webhooks/{endpoint['id']}/", {"events": ["job.paused"], "is_active": False},
                        format="json")

    assert changed.status_code == 200 and changed.json()["events"] == ["job.paused"]
    assert changed.json()["is_active"] is False
    assert api.delete(f"/api/v1/webhooks/{endpoint['id']}/").status_code == 204
    assert api.get(f"/api/v1/webhooks/{endpoint['id']}/").status_code == 404


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"url": "not a url", "events": ["job.completed"]}, "url"),
        ({"url": "https://example.com/" + "a" * 500, "events": ["job.completed"]}, "url"),
        ({"url": "https://example.com/hooks", "events": ["job.exploded"]}, "events"),
        ({"url": "https://example.com/hooks", "events": []}, "events"),
        ({"url": "https://example.com/hooks", "events": "job.completed"}, "events"),
        ({"url": "https://example.com/hooks"}, "events"),
        ({"url": "https://example.com/hooks", "events": ["job.completed"], "colour": "red"}, "Unknown field"),
        ({"url": "ftp://example.com/hooks", "events": ["job.completed"]}, "https://"),
        ({"url": "https://user:pw@example.com/hooks", "events": ["job.completed"]}, "password"),
    ],
)
def test_bad_input_is_a_clear_400_and_registers_nothing(alice: Any, client_for: Any, body: dict[str, Any],
                                                        says: str) -> None:
    answer = client_for(alice).post("/api/v1/webhooks/", body, format="json")

    assert answer.status_code == 400, answer.content
    assert says in answer.json()["error"]["message"]
    assert not WebhookEndpoint.objects.exists()


def test_a_bad_change_is_refused_and_the_endpoint_stays_as_it_was(alice: Any, client_for: Any,
                                                                  receiver: Receiver) -> None:
    api = client_for(alice)
    endpoint = _register(api, receiver.url)

    for body in ({"events": ["job.exploded"]}, {"url": "https://10.0.0.1/x"}, {"url": "x" * 600},
                 {"is_active": "maybe"}, {"secret": "mine"}):
        answer = api.patch(f"/api/v1/webhooks/{endpoint['id']}/", body, format="json")
        assert answer.status_code == 400, (body, answer.content)

    kept = WebhookEndpoint.objects.get(pk=endpoint["id"])
    assert (kept.url, kept.events, kept.is_active) == (receiver.url, ["job.completed"], True)


def test_another_organization_can_neither_see_nor_touch_an_endpoint_or_its_deliveries(
    alice: Any, carol: Any, client_for: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint = _register(client_for(alice), receiver.url, ["job.paused"])
    job = open_job_with_items(items=2, organization=alice.organization)
    with django_capture_on_commit_callbacks(execute=True):
        flows.job_pause(job=job, user=alice)
    delivery = Delivery.objects.get()
    base = f"/api/v1/webhooks/{endpoint['id']}"
    api = client_for(carol)

    assert api.get("/api/v1/webhooks/").json()["results"] == []
    for answer in (
        api.get(f"{base}/"),
        api.patch(f"{base}/", {"url": "https://example.com/carol"}, format="json"),
        api.delete(f"{base}/"),
        api.get(f"{base}/deliveries/"),
        api.get(f"{base}/deliveries/{delivery.pk}/"),
        api.post(f"{base}/deliveries/{delivery.pk}/redeliver/"),
    ):
        assert answer.status_code == 404, answer.content
        assert answer.json()["error"]["code"] == "not_found"
    assert WebhookEndpoint.objects.get(pk=endpoint["id"]).url == receiver.url
    assert DeliveryAttempt.objects.count() == 1 and len(receiver.requests) == 1  # no redelivery happened


def test_a_delivery_is_found_only_under_its_own_endpoint(alice: Any, client_for: Any, receiver: Receiver,
                                                         django_capture_on_commit_callbacks: Any) -> None:
    api = client_for(alice)
    first = _register(api, receiver.url, ["job.paused"])
    second = _register(api, receiver.url, ["job.completed"])
    job = open_job_with_items(items=2, organization=alice.organization)
    with django_capture_on_commit_callbacks(execute=True):
        flows.job_pause(job=job, user=alice)
    delivery = Delivery.objects.get()

    assert api.get(f"/api/v1/webhooks/{first['id']}/deliveries/{delivery.pk}/").status_code == 200
    assert api.get(f"/api/v1/webhooks/{second['id']}/deliveries/{delivery.pk}/").status_code == 404
    assert api.get(f"/api/v1/webhooks/{second['id']}/deliveries/").json()["count"] == 0


def test_a_worker_may_not_register_webhooks(wendy: Any, client_for: Any) -> None:
    answer = client_for(wendy).post("/api/v1/webhooks/", {"url": "https://example.com/h", "events": ["job.completed"]},
                                    format="json")
    assert answer.status_code == 403 and not WebhookEndpoint.objects.exists()
