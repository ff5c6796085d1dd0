"""Moments the API stored at the calendar's very ends (it clamped to them until 2026-12-02)
move a day inside, where every page can show them in any time zone (docs/design.md, Bad input
and faults)."""

from django.db import migrations

from mediaanalysis.validation import EARLIEST, LATEST

# The columns the API writes moments into.
WRITTEN_BY_THE_API = {
    "AnalysisJob": ["started_at", "completed_at"],
    "UserSession": ["last_activity", "ended_at"],
}


def clamp(apps, schema_editor):
    for name, columns in WRITTEN_BY_THE_API.items():
        rows = apps.get_model("mediaanalysis", name)._base_manager
        for column in columns:
            rows.filter(**{f"{column}__gt": LATEST}).update(**{column: LATEST})
            rows.filter(**{f"{column}__lt": EARLIEST}).update(**{column: EARLIEST})


class Migration(migrations.Migration):
    dependencies = [("mediaanalysis", "0009_job_progress_is_a_hot_update")]

    operations = [migrations.RunPython(clamp, migrations.RunPython.noop)]
