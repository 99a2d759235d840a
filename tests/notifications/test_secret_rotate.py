"""Rotating a webhook's signing secret: Alice (Acme) gets a new secret, shown once; for the window
she chose the old one still signs beside it, so her receivers switch one at a time with no
delivery failing the README's check; after the window, or at once with 0 hours (a leaked
secret), only the new one verifies. Bad input is a clear 400 that keeps the secret; Carol
(Globex) gets a 404 and Wendy (a worker) a 403, and neither changes anything.
"""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from marketplace import flows
from marketplace.notifications.models import WebhookEndpoint
from tests.factories import open_job_with_items
from tests.notifications.helpers import endpoint_for, readme_verifier
from tests.notifications.receiver import Receiver


def _pause(alice: Any, capture: Any) -> None:
    """Alice pauses a job of hers: one job.paused delivery goes to her receiver."""
    job = open_job_with_items(items=2, organization=alice.organization)
    with capture(execute=True):
        flows.job_pause(job=job, user=alice)


def _verifies(secret: str, receiver: Receiver) -> bool:
    """Does the last delivery pass the README's check with this secret?"""
    got = receiver.requests[-1]
    return readme_verifier()(secret, got.headers["quorum-signature"], got.body)


def test_after_a_rotation_both_secrets_verify_until_the_window_ends_then_only_the_new_one(
    alice: Any, client_for: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint, old = endpoint_for(alice, receiver.url, ["job.paused"])

    answer = client_for(alice).post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/", {"keep_old_hours": 24},
                                    format="json")

    assert answer.status_code == 200, answer.content
    new = answer.json()["secret"]
    assert new.startswith("whsec_") and new != old
    assert "no-store" in answer["Cache-Control"]
    until = answer.json()["previous_secret_until"]
    assert until.endswith("Z")
    stored = WebhookEndpoint.objects.get(pk=endpoint.pk)  # both sealed, neither as the client was shown it
    assert stored.secret.startswith("sealed:") and stored.previous_secret.startswith("sealed:")
    assert not {old, new, old[6:], new[6:]} & {stored.secret, stored.previous_secret}
    assert old[6:] not in stored.secret + stored.previous_secret and new[6:] not in stored.secret + stored.previous_secret
    _pause(alice, django_capture_on_commit_callbacks)
    assert receiver.requests[-1].headers["quorum-signature"].count("v1=") == 2
    assert _verifies(old, receiver) and _verifies(new, receiver)
    assert not _verifies("whsec_someone-elses", receiver)
    shown = client_for(alice).get(f"/api/v1/webhooks/{endpoint.pk}/").json()
    assert shown["previous_secret_until"] == until and new not in str(shown)

    # A day later the window has passed (the stored end moved back, as time would).
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(previous_secret_until=timezone.now() - timedelta(seconds=1))
    _pause(alice, django_capture_on_commit_callbacks)

    assert receiver.requests[-1].headers["quorum-signature"].count("v1=") == 1
    assert _verifies(new, receiver) and not _verifies(old, receiver)
    assert client_for(alice).get(f"/api/v1/webhooks/{endpoint.pk}/").json()["previous_secret_until"] is None


def test_a_leaked_secret_rotated_with_no_window_stops_signing_at_once(
    alice: Any, client_for: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint, old = endpoint_for(alice, receiver.url, ["job.paused"])

    answer = client_for(alice).post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/", {"keep_old_hours": 0},
                                    format="json")

    new = answer.json()["secret"]
    assert answer.json()["previous_secret_until"] is None
    _pause(alice, django_capture_on_commit_callbacks)
    assert _verifies(new, receiver) and not _verifies(old, receiver)


def test_a_second_rotation_in_the_window_keeps_only_the_secret_it_replaced(
    alice: Any, client_for: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint, first = endpoint_for(alice, receiver.url, ["job.paused"])
    api = client_for(alice)
    second = api.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/", {}, format="json").json()["secret"]
    third = api.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/", {}, format="json").json()["secret"]

    _pause(alice, django_capture_on_commit_callbacks)

    assert _verifies(third, receiver) and _verifies(second, receiver) and not _verifies(first, receiver)


@pytest.mark.parametrize("body", [
    {"keep_old_hours": -1}, {"keep_old_hours": 169}, {"keep_old_hours": 1.5}, {"keep_old_hours": "a day"},
    {"keep_old_hours": None}, {"keep_old_hours": 10**30},
])
def test_a_bad_window_is_a_clear_400_and_the_secret_stays(
    alice: Any, client_for: Any, receiver: Receiver, body: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    endpoint, old = endpoint_for(alice, receiver.url, ["job.paused"])
    stored = WebhookEndpoint.objects.get(pk=endpoint.pk).secret

    answer = client_for(alice).post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/", body, format="json")

    assert answer.status_code == 400, answer.content
    assert "keep_old_hours" in str(answer.json()["error"])
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == stored
    _pause(alice, django_capture_on_commit_callbacks)
    assert _verifies(old, receiver)


def test_another_organization_and_a_worker_cannot_rotate_a_secret(
    alice: Any, carol: Any, wendy: Any, client_for: Any, receiver: Receiver
) -> None:
    endpoint, _ = endpoint_for(alice, receiver.url, ["job.paused"])
    stored = WebhookEndpoint.objects.get(pk=endpoint.pk).secret
    url = f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/"

    by_carol = client_for(carol).post(url, {}, format="json")
    by_wendy = client_for(wendy).post(url, {}, format="json")

    assert by_carol.status_code == 404 and by_carol.json()["error"]["code"] == "not_found"
    assert by_wendy.status_code == 403
    page = Client()
    page.force_login(carol)
    assert page.post(f"/portal/webhooks/{endpoint.pk}/rotate-secret/", {"keep_old_hours": "24"}).status_code == 404
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == stored


def test_a_key_rotation_reseal_keeps_the_rotated_out_secret_signing(
    alice: Any, client_for: Any, receiver: Receiver, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "o" * 60, []
    endpoint, old = endpoint_for(alice, receiver.url, ["job.paused"])
    new = client_for(alice).post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/", {}, format="json").json()["secret"]
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "n" * 60, ["o" * 60]

    call_command("webhook_secrets_reseal", stdout=StringIO())
    settings.SECRET_KEY_FALLBACKS = []  # the old server key is gone for good
    _pause(alice, django_capture_on_commit_callbacks)

    assert _verifies(new, receiver) and _verifies(old, receiver)


def test_on_the_portal_a_client_rotates_and_sees_the_new_secret_only_in_that_answer(
    alice: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint, old = endpoint_for(alice, receiver.url, ["job.paused"])
    page = Client()
    page.force_login(alice)

    answer = page.post(f"/portal/webhooks/{endpoint.pk}/rotate-secret/", {"keep_old_hours": "72"})

    text = answer.content.decode()
    assert answer.status_code == 200 and "no-store" in answer["Cache-Control"]
    assert "New signing secret: copy it now" in text and "and with the old secret too until" in text
    _pause(alice, django_capture_on_commit_callbacks)
    new = re.search(r'<code class="secret">(whsec_[^<]+)</code>', text).group(1)
    assert _verifies(new, receiver) and _verifies(old, receiver)
    again = page.get(f"/portal/webhooks/{endpoint.pk}/").content.decode()
    assert new not in again and "signs beside the current one until" in again
    refused = page.post(f"/portal/webhooks/{endpoint.pk}/rotate-secret/", {"keep_old_hours": "5000"})
    assert refused.status_code == 400 and "Select a valid choice" in refused.content.decode()
