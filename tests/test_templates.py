"""Django's `{# #}` comments end on their own line: one that runs on shows its text to the user
(it did, above two pages' filters and a bulk confirmation). Longer ones are `{% comment %}`."""

from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def test_no_template_comment_runs_past_its_line():
    templates = [
        path
        for path in ROOT.glob("**/templates/**/*.html")
        if ".venv" not in path.parts and "node_modules" not in path.parts
    ]
    assert len(templates) > 20
    open_comments = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in templates
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "{#" in line and "#}" not in line[line.index("{#") :]
    ]
    assert open_comments == []
