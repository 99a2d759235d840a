# Workers' skill rows keep their gold answers' evidence only: each job's latest run's share, which
# runs added into them, is taken back out (it stays in quality_workerrunshare, rows only runs
# write), so a run no longer writes a row a gold-scoring submit writes. Readers add the two
# (quality/skills.py), so every worker's figure is what it was. Share rows a run zeroed go.
# Portable SQL (correlated subqueries): the tests also migrate SQLite.

from django.db import migrations

_SHARE_TOTAL = """(SELECT COALESCE(SUM(s.{column}), 0) FROM quality_workerrunshare s
                  WHERE s.worker_id = quality_workerskill.worker_id)"""

FORWARD = f"""
UPDATE quality_workerskill SET
    "right" = "right" - {_SHARE_TOTAL.format(column='"right"')},
    seen = seen - {_SHARE_TOTAL.format(column="seen")}
WHERE worker_id IN (SELECT worker_id FROM quality_workerrunshare);
DELETE FROM quality_workerrunshare WHERE "right" = 0 AND seen = 0;
"""

# Every worker with a share had a skill row (the run that gave the share created it); any other
# is created here, so the reverse puts back exactly what the forward took out.
BACKWARD = f"""
INSERT INTO quality_workerskill (worker_id, "right", seen, updated_at)
SELECT DISTINCT worker_id, 0.0, 0.0, CURRENT_TIMESTAMP FROM quality_workerrunshare
WHERE worker_id NOT IN (SELECT worker_id FROM quality_workerskill);
UPDATE quality_workerskill SET
    "right" = "right" + {_SHARE_TOTAL.format(column='"right"')},
    seen = seen + {_SHARE_TOTAL.format(column="seen")}
WHERE worker_id IN (SELECT worker_id FROM quality_workerrunshare);
"""


class Migration(migrations.Migration):

    dependencies = [
        ('quality', '0007_collusion'),
    ]

    operations = [
        migrations.RunSQL(sql=FORWARD, reverse_sql=BACKWARD),
    ]
