"""Webhook signing secrets sealed at rest (notifications/sealing.py): a wider column, then every
secret stored as typed sealed under SECRET_KEY. Reversible: unsealing writes them back as typed."""

from typing import Any

from django.db import migrations, models

from marketplace.notifications.sealing import is_sealed, secret_seal, secret_unseal


def seal_all(apps: Any, schema_editor: Any) -> None:
    endpoints = apps.get_model("notifications", "WebhookEndpoint")
    for endpoint in endpoints.objects.only("secret").iterator():
        if not is_sealed(endpoint.secret):
            endpoints.objects.filter(pk=endpoint.pk).update(secret=secret_seal(secret=endpoint.secret))


def unseal_all(apps: Any, schema_editor: Any) -> None:
    endpoints = apps.get_model("notifications", "WebhookEndpoint")
    for endpoint in endpoints.objects.only("secret").iterator():
        if is_sealed(endpoint.secret):
            endpoints.objects.filter(pk=endpoint.pk).update(secret=secret_unseal(stored=endpoint.secret))


class Migration(migrations.Migration):

    dependencies = [
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookendpoint",
            name="secret",
            field=models.CharField(max_length=300),
        ),
        migrations.RunPython(seal_all, unseal_all),
    ]
