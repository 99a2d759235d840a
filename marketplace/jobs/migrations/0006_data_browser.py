"""The data browser's indexes: a job's items in id order, and external ids by prefix.

The prefix index is PostgreSQL's `varchar_pattern_ops`, which serves `LIKE 'abc%'` whatever the
database's collation; SQLite has no such operator class and scans the job's few rows instead."""

from django.db import migrations, models


def _prefix_index(apps, schema_editor):  # noqa: ANN001, ANN201 (migration signature)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS item_external_id_prefix "
            "ON jobs_item (job_id, external_id varchar_pattern_ops) WHERE external_id IS NOT NULL"
        )


def _prefix_index_drop(apps, schema_editor):  # noqa: ANN001, ANN201
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS item_external_id_prefix")


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0005_job_tally"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="item",
            index=models.Index(fields=["job", "id"], name="item_job_id"),
        ),
        migrations.RunPython(_prefix_index, _prefix_index_drop),
    ]
