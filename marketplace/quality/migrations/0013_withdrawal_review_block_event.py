# A held withdrawal names the block it holds: approving it withdraws under that block's name.
# Reviews before: the latest block of the pair when the review opened (they open together).

import django.db.models.deletion
from typing import Any

from django.db import migrations, models


def block_event_backfill(apps: Any, schema_editor: Any) -> None:
    WithdrawalReview = apps.get_model("quality", "WithdrawalReview")
    QualityEvent = apps.get_model("quality", "QualityEvent")
    for review in WithdrawalReview.objects.filter(block_event__isnull=True).iterator():
        event = (QualityEvent.objects.filter(job_id=review.job_id, worker_id=review.worker_id, kind="blocked",
                                             created_at__lte=review.created_at).order_by("-created_at", "-id").first())
        if event is not None:
            WithdrawalReview.objects.filter(pk=review.pk).update(block_event=event)


class Migration(migrations.Migration):

    dependencies = [
        ('quality', '0012_item_results_without_item_constraint'),
    ]

    operations = [
        migrations.AddField(
            model_name='withdrawalreview',
            name='block_event',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='quality.qualityevent'),
        ),
        migrations.RunPython(block_event_backfill, migrations.RunPython.noop),
    ]
