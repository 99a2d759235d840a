"""Jobs keep their instructions rendered: existing jobs are rendered here, once, with the same
fallback as new ones (text Markdown cannot render is stored as an escaped paragraph)."""

from typing import Any

from django.db import migrations, models


def render_existing(apps: Any, schema_editor: Any) -> None:
    from marketplace.jobs.markdown import instructions_render

    Job = apps.get_model("jobs", "Job")
    for pk, text in Job.objects.exclude(instructions="").values_list("pk", "instructions").iterator():
        Job.objects.filter(pk=pk).update(instructions_html=instructions_render(text))


class Migration(migrations.Migration):
    dependencies = [("jobs", "0002_item_extra_judgments_job_max_overlap_and_more")]

    operations = [
        migrations.AddField(
            model_name="job", name="instructions_html", field=models.TextField(blank=True, default="")
        ),
        migrations.RunPython(render_existing, migrations.RunPython.noop),
    ]
