# Items reopened for more judgments before jobs 0020 recorded what was asked (Item.asked_judgments
# 0) would settle with those judgments free: billing.selectors.items_extra_given charges at most
# asked_judgments per item. extra_judgments has two writers: the client's requests
# (labeling/reopening.py) and dynamic overlap's "one more" (labeling/submitting.py), which Quorum
# pays. A job without dynamic overlap (max_overlap null) has only the first, and there a request
# adds exactly `more` (an item never holds more judgments than overlap + extra_judgments), so all
# of its extra_judgments were asked for. A dynamic job's mix cannot be told apart (no row records
# either writer per item; a request's hold is an escrow addition naming no item), so its old
# requests stay free, in the client's favour. Settled jobs keep their final charge: untouched.
# Here, not in jobs: which jobs are settled is billing's to say (jobs sits below billing).

from typing import Any

from django.db import migrations
from django.db.models import F


def asked_from_extra(apps: Any, schema_editor: Any) -> None:
    Item = apps.get_model("jobs", "Item")
    JobBudget = apps.get_model("billing", "JobBudget")
    unsettled = JobBudget.objects.filter(settled_at__isnull=True).values("job_id")
    Item.objects.filter(
        job_id__in=unsettled, job__max_overlap__isnull=True, is_gold=False,
        asked_judgments__lt=F("extra_judgments"),
    ).update(asked_judgments=F("extra_judgments"))


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0017_held_pay_reclaim_kind"),
        ("jobs", "0020_item_asked_judgments"),
    ]

    # Backwards: nothing to undo that can be told from what requests since then asked.
    operations = [migrations.RunPython(asked_from_extra, migrations.RunPython.noop, elidable=True)]
