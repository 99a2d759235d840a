"""A multi-label job's gold decisions on the labels gold ticked (WorkerJobStats.gold_pos_*), for
the gold rule's balanced accuracy. Rows counted before this start at 0 there: their balanced
figure reads the unticked side until new gold answers come in."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("quality", "0009_gold_per_label")]

    operations = [
        migrations.AddField(
            model_name="workerjobstats", name="gold_pos_seen", field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="workerjobstats", name="gold_pos_right", field=models.PositiveIntegerField(default=0),
        ),
    ]
