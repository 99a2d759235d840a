# Earnings name the block that withdrew (or holds) their pay, so an upheld appeal gives back that
# block's withdrawal only (billing/restoring.py); HELD: a withdrawal under review when the job
# settled (billing/holding.py). The column is added without a constraint or index (instant).
# Earnings withdrawn before: each dropped judgment was dropped by the first block of its worker
# in the job at or after its answer (a block drops every judgment the worker has there), and
# the withdrawal that reversed it was that block's.

import django.db.models.deletion
from bisect import bisect_left
from collections import defaultdict
from typing import Any

from django.db import migrations, models


def withdrawn_by_backfill(apps: Any, schema_editor: Any) -> None:
    Earning = apps.get_model("billing", "Earning")
    QualityEvent = apps.get_model("quality", "QualityEvent")
    rows = Earning.objects.filter(status="reversed", judgment__status="dropped", withdrawn_by__isnull=True)
    by_pair: dict[tuple[int, int], list[tuple[Any, int]]] = defaultdict(list)
    for pk, job_id, worker_id, answered in rows.values_list("pk", "job_id", "worker_id", "judgment__created_at"):
        by_pair[(job_id, worker_id)].append((answered, pk))
    named: dict[int, list[int]] = defaultdict(list)
    for (job_id, worker_id), earnings in by_pair.items():
        blocks = list(QualityEvent.objects.filter(job_id=job_id, worker_id=worker_id, kind="blocked")
                      .order_by("created_at", "id").values_list("created_at", "pk"))
        times = [at for at, _ in blocks]
        for answered, pk in earnings:
            i = bisect_left(times, answered)
            if i < len(blocks):
                named[blocks[i][1]].append(pk)
    for event_id, pks in named.items():
        Earning.objects.filter(pk__in=pks).update(withdrawn_by_id=event_id)
    # Pay a decision left with the worker (a dismissed review, an upheld block appeal) is now
    # marked kept, as those decisions mark it from here on (billing_audit reads the mark).
    WithdrawalReview = apps.get_model("quality", "WithdrawalReview")
    Appeal = apps.get_model("quality", "Appeal")
    pairs = set(WithdrawalReview.objects.filter(status="dismissed").values_list("job_id", "worker_id"))
    pairs |= set(Appeal.objects.filter(kind="block", status="upheld").values_list("job_id", "worker_id"))
    for job_id, worker_id in pairs:
        Earning.objects.filter(job_id=job_id, worker_id=worker_id, judgment__status="dropped",
                               status__in=("pending", "available")).update(kept_after_drop=True)


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0014_escrow_open_label'),
        ('quality', '0013_withdrawal_review_block_event'),
    ]

    operations = [
        migrations.AddField(
            model_name='earning',
            name='withdrawn_by',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='quality.qualityevent'),
        ),
        migrations.AlterField(
            model_name='earning',
            name='status',
            field=models.CharField(choices=[('pending', 'Pending (hold period)'), ('available', 'Available'), ('reversed', 'Withdrawn: judgment dropped while pending'), ('held', "Held: its withdrawal awaits an admin's review")], default='pending', max_length=10),
        ),
        migrations.RunPython(withdrawn_by_backfill, migrations.RunPython.noop),
    ]
