"""A multi-label job's gold answers scored per label (WorkerJobStats.gold_labels_*)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("quality", "0008_skill_rows_hold_gold_only")]

    operations = [
        migrations.AddField(
            model_name="workerjobstats", name="gold_labels_seen", field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="workerjobstats", name="gold_labels_right", field=models.PositiveIntegerField(default=0),
        ),
    ]
