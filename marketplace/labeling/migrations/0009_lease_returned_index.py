# Built concurrently on PostgreSQL (marketplace/migration_ops.py): claims and submits keep writing
# labeling_lease while it builds.

from django.db import migrations, models

from marketplace.migration_ops import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('labeling', '0008_lease_page_returned'),
    ]

    operations = [
        AddIndexOnline(
            model_name='lease',
            index=models.Index(condition=models.Q(('status', 'returned')), fields=['worker', 'job', 'expires_at'], name='lease_returned_worker'),
        ),
    ]
