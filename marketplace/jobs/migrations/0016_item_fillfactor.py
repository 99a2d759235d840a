from django.db import migrations

# Room on each page of jobs_item for the row's next versions: a submit's judgment_count and a
# claim's full_until change no indexed column, so PostgreSQL can update in place (HOT) when the
# page has space, instead of adding an entry to every index of the row, which the claim's walks
# of item_serving_order then step over until a vacuum. Only pages written from now on keep the
# room (no rewrite); reversed by RESET. Since 0017/0018 index full_until (and their predicates
# read it), the claim that sets or clears it is no longer HOT (once or twice per item); the
# submit's count still is, unless it completes the item.


def _fillfactor(sql: str):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":  # SQLite has no such setting
            schema_editor.execute(sql)
    return run


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0015_item_full_until'),
    ]

    operations = [
        migrations.RunPython(
            _fillfactor("ALTER TABLE jobs_item SET (fillfactor = 80)"),
            _fillfactor("ALTER TABLE jobs_item RESET (fillfactor)"),
            elidable=False,
        ),
    ]
