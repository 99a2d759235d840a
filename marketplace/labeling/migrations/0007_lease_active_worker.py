from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('labeling', '0006_fk_indexes_covered'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='lease',
            index=models.Index(condition=models.Q(('status', 'active')), fields=['worker', 'job', 'expires_at'], name='lease_active_worker'),
        ),
    ]
