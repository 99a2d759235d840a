# Suspensions kept after they are lifted (accounts.Suspension); workers suspended now get their
# open record from the fields on User that said so.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def _open_records(apps, schema_editor):  # type: ignore[no-untyped-def]
    User = apps.get_model("accounts", "User")
    Suspension = apps.get_model("accounts", "Suspension")
    Suspension.objects.bulk_create(
        Suspension(worker_id=u.pk, suspended_at=u.suspended_at, suspended_by_id=u.suspended_by_id,
                   reason=u.suspension_reason, evidence=u.suspension_evidence)
        for u in User.objects.filter(suspended_at__isnull=False)
    )


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_suspension'),
    ]

    operations = [
        migrations.CreateModel(
            name='Suspension',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('suspended_at', models.DateTimeField()),
                ('reason', models.TextField()),
                ('evidence', models.TextField(blank=True)),
                ('lifted_at', models.DateTimeField(blank=True, null=True)),
                ('lift_note', models.TextField(blank=True)),
                ('lifted_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('suspended_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('worker', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='suspensions', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-suspended_at', '-id'],
                'constraints': [models.UniqueConstraint(condition=models.Q(('lifted_at__isnull', True)), fields=('worker',), name='suspension_one_open_per_worker')],
            },
        ),
        migrations.RunPython(_open_records, migrations.RunPython.noop),
    ]
