"""Webhook secrets sealed at rest: the database never holds the secret a client was shown, a
rotated SECRET_KEY keeps signing while the old key is a fallback, `webhook_secrets_reseal` moves
every secret to the new key, and a key lost without a fallback fails deliveries with a reason
(and loses none: restoring the key sends them).

Alice (Acme) registers the local receiver for job.paused and pauses a job of hers.
"""

from __future__ import annotations

import importlib
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection

from marketplace import flows
from marketplace.notifications.models import Delivery, DeliveryStatus, WebhookEndpoint
from marketplace.notifications.sealing import SecretUnreadable, secret_unseal
from marketplace.notifications.tasks import notifications_sweep_tick
from tests.factories import open_job_with_items
from tests.notifications.helpers import endpoint_for, readme_verifier
from tests.notifications.receiver import Receiver

OLD_KEY = "old-key-" + "o" * 40 + "-retired-by-rotation"
NEW_KEY = "new-key-" + "n" * 40 + "-in-service-from-now"
SEALING = importlib.import_module("marketplace.notifications.migrations.0002_webhook_secret_sealed")


def _pause(alice: Any, capture: Any) -> None:
    job = open_job_with_items(items=2, organization=alice.organization)
    with capture(execute=True):
        flows.job_pause(job=job, user=alice)


def _stored_secrets() -> list[str]:
    """What a copy of the database would show: the column as PostgreSQL (or SQLite) holds it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM notifications_webhookendpoint")
        return [row[0] for row in cursor.fetchall()]


def test_the_database_never_holds_the_secret_the_client_was_shown(alice: Any, receiver: Receiver) -> None:
    endpoint, secret = endpoint_for(alice, receiver.url, ["job.paused"])

    [stored] = _stored_secrets()
    assert secret.startswith("whsec_") and secret not in stored and secret[6:] not in stored
    assert stored.startswith("sealed:")
    assert secret_unseal(stored=stored) == secret  # and this server can still sign with it
    other, other_secret = endpoint_for(alice, receiver.url, ["job.paused"])
    assert other_secret != secret and len(set(_stored_secrets())) == 2


def test_after_a_rotation_the_old_key_as_fallback_keeps_signing_and_a_reseal_lets_it_go(
    alice: Any, receiver: Receiver, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD_KEY, []
    endpoint, secret = endpoint_for(alice, receiver.url, ["job.paused"])
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]

    _pause(alice, django_capture_on_commit_callbacks)
    assert readme_verifier()(secret, receiver.requests[0].headers["quorum-signature"], receiver.requests[0].body)

    out = StringIO()
    call_command("webhook_secrets_reseal", stdout=out)
    assert "1 webhook secret(s) sealed" in out.getvalue()
    settings.SECRET_KEY_FALLBACKS = []  # the old key is gone for good

    _pause(alice, django_capture_on_commit_callbacks)
    assert len(receiver.requests) == 2
    assert readme_verifier()(secret, receiver.requests[1].headers["quorum-signature"], receiver.requests[1].body)
    assert list(Delivery.objects.filter(endpoint=endpoint).values_list("status", flat=True)) == ["succeeded"] * 2


def test_a_key_lost_without_a_fallback_fails_the_delivery_with_a_reason_and_restoring_it_sends_it(
    alice: Any, receiver: Receiver, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD_KEY, []
    endpoint, secret = endpoint_for(alice, receiver.url, ["job.paused"])
    settings.SECRET_KEY = NEW_KEY

    _pause(alice, django_capture_on_commit_callbacks)

    assert receiver.requests == []  # nothing unsigned or wrongly signed went out
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert "SECRET_KEY_FALLBACKS" in delivery.error and delivery.error.startswith("not sent:")
    with pytest.raises(CommandError, match=f"ids {endpoint.pk}"):
        call_command("webhook_secrets_reseal", stdout=StringIO())

    settings.SECRET_KEY_FALLBACKS = [OLD_KEY]
    notifications_sweep_tick(now=delivery.next_attempt_at)

    [got] = receiver.requests
    assert readme_verifier()(secret, got.headers["quorum-signature"], got.body)
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SUCCEEDED


def test_the_migration_seals_secrets_stored_as_typed_and_its_reversal_gives_them_back(
    alice: Any, receiver: Receiver
) -> None:
    endpoint, secret = endpoint_for(alice, receiver.url, ["job.paused"])
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=secret)  # as rows were before 0002

    SEALING.seal_all(apps, None)
    SEALING.seal_all(apps, None)  # run twice (a retried deploy): sealed once, still opens
    [stored] = _stored_secrets()
    assert secret not in stored and secret_unseal(stored=stored) == secret

    SEALING.unseal_all(apps, None)
    assert _stored_secrets() == [secret]


def test_a_stored_value_that_is_not_sealed_is_refused_rather_than_used_as_a_key(db: Any) -> None:
    with pytest.raises(SecretUnreadable, match="not sealed"):
        secret_unseal(stored="whsec_typed-in-by-hand")
    with pytest.raises(SecretUnreadable, match="SECRET_KEY_FALLBACKS"):
        secret_unseal(stored="sealed:gAAAAA-not-a-token")
