"""Item results lose their foreign-key constraint to items (checked row by row at COMMIT: 2-3 s
for a run of 200,000 items; quality/writing.py, item_results_anchor, stands in for it) and their
own index on run (the unique (run, item) index serves it). The run field changes in state only:
Django would drop and re-add its foreign key, validating every stored result under a lock."""

import django.db.models.deletion
from django.db import migrations, models

RUN_INDEX = "quality_itemresult_run_id_cfa97ae5"  # the name Django gave it in 0001


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0013_prelabel_blind'),
        ('quality', '0011_gold_balanced'),
    ]

    operations = [
        migrations.AlterField(
            model_name='itemresult',
            name='item',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='consensus_results', to='jobs.item'),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='itemresult',
                    name='run',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='item_results', to='quality.consensusrun'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{RUN_INDEX}"',
                    reverse_sql=f'CREATE INDEX IF NOT EXISTS "{RUN_INDEX}" ON "quality_itemresult" ("run_id")',
                ),
            ],
        ),
    ]
