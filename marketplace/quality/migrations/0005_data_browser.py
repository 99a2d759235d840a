# The data browser: per-item agreement written by each run, and the indexes its walks take.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0006_data_browser'),
        ('quality', '0004_run_shares_apart'),
    ]

    operations = [
        migrations.AddField(
            model_name='itemresult',
            name='agreement',
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name='itemresult',
            index=models.Index(fields=['run', 'confidence', 'item'], name='item_result_confidence'),
        ),
        migrations.AddIndex(
            model_name='itemresult',
            index=models.Index(fields=['run', 'label', 'item'], name='item_result_label'),
        ),
    ]
