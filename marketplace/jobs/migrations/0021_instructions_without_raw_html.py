"""Instructions are rendered anew without raw HTML and with images as links (jobs.markdown): the
stored HTML of existing jobs could still embed a client's `<img>` (a tracking pixel)."""

from typing import Any

from django.db import migrations


def render_existing(apps: Any, schema_editor: Any) -> None:
    from marketplace.jobs.markdown import instructions_render

    Job = apps.get_model("jobs", "Job")
    for pk, text in Job.objects.exclude(instructions="").values_list("pk", "instructions").iterator():
        Job.objects.filter(pk=pk).update(instructions_html=instructions_render(text))
    # Earlier versions too: they are shown again (a judgment's version), so the same pixel lived there.
    Versions = apps.get_model("jobs", "JobInstructions")
    for pk, text in Versions.objects.exclude(text="").values_list("pk", "text").iterator():
        Versions.objects.filter(pk=pk).update(html=instructions_render(text))


class Migration(migrations.Migration):
    dependencies = [("jobs", "0020_item_asked_judgments")]

    operations = [migrations.RunPython(render_existing, migrations.RunPython.noop)]
