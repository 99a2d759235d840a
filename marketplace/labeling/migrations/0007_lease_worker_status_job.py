from django.db import migrations, models


# The new index comes first, so a worker's leases always have an index leading with the worker
# while the old (worker, status) one, whose prefix the new one covers, is dropped.

class Migration(migrations.Migration):

    dependencies = [
        ('labeling', '0006_fk_indexes_covered'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='lease',
            index=models.Index(fields=['worker', 'status', 'job', 'expires_at'], name='lease_worker_status_job'),
        ),
        migrations.RemoveIndex(
            model_name='lease',
            name='lease_worker_status',
        ),
    ]
