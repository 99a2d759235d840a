"""Job counters move from the job row to JobTally rows (no row that every submit must write).

Today's counts become each job's shard-0 (adjustment) row, set-based, then the columns go.
Reversing sums the tallies back into the columns.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery, Sum


def counts_to_tallies(apps, schema_editor):
    Job = apps.get_model("jobs", "Job")
    JobTally = apps.get_model("jobs", "JobTally")
    rows = (
        Job.objects.filter(
            models.Q(judgment_count__gt=0) | models.Q(gold_judgment_count__gt=0)
            | models.Q(completed_item_count__gt=0)
        )
        .values_list("pk", "judgment_count", "gold_judgment_count", "completed_item_count")
        .iterator(chunk_size=2000)
    )
    batch = []
    for job_id, judgments, gold, completed in rows:
        batch.append(JobTally(job_id=job_id, shard=0, judgments=judgments, gold_judgments=gold,
                              completed_items=completed))
        if len(batch) >= 2000:
            JobTally.objects.bulk_create(batch)
            batch = []
    JobTally.objects.bulk_create(batch)


def tallies_to_counts(apps, schema_editor):
    Job = apps.get_model("jobs", "Job")
    JobTally = apps.get_model("jobs", "JobTally")
    for name, column in (("judgment_count", "judgments"), ("gold_judgment_count", "gold_judgments"),
                         ("completed_item_count", "completed_items")):
        total = (JobTally.objects.filter(job_id=OuterRef("pk")).order_by().values("job_id")
                 .annotate(total=Sum(column)).values("total"))
        Job.objects.filter(pk__in=JobTally.objects.values("job_id")).update(**{name: Subquery(total)})


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0004_job_terms_fixed_at_publish'),
    ]

    operations = [
        migrations.CreateModel(
            name='JobTally',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('job', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='tallies', to='jobs.job')),
                ('shard', models.BigIntegerField()),
                ('judgments', models.BigIntegerField(default=0)),
                ('gold_judgments', models.BigIntegerField(default=0)),
                ('completed_items', models.BigIntegerField(default=0)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('job', 'shard'), name='one_tally_per_job_shard')],
            },
        ),
        migrations.RunPython(counts_to_tallies, tallies_to_counts, elidable=True),
        migrations.RemoveConstraint(
            model_name='job',
            name='job_completed_le_items',
        ),
        migrations.RemoveField(
            model_name='job',
            name='completed_item_count',
        ),
        migrations.RemoveField(
            model_name='job',
            name='gold_judgment_count',
        ),
        migrations.RemoveField(
            model_name='job',
            name='judgment_count',
        ),
    ]
