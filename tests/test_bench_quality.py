"""`bench --only quality` (docs/performance.md, "Review quality"): the dashboard's rows, the
quality figures' recount per window and the results lists they link to, and nothing else."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from tests.test_bench import seed_bulk


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_bench_only_quality_measures_the_dashboard_and_quality_rows_alone(tmp_path):
    seed_bulk()
    report_path = tmp_path / "bench-quality.json"

    call_command(
        "bench",
        "--only=quality",
        "--runs=3",
        "--warmup=1",
        f"--json={report_path}",
        stdout=StringIO(),
    )

    report = json.loads(report_path.read_text())
    assert report["sizes"]["second_reviews"] == 80 // 5
    pages = {row["page"]: row for row in report["pages"]}
    assert list(pages) == [
        "a missing job (404 page)",
        "dashboard, cold (24 h)",
        "dashboard, cold (30 days)",
        "dashboard, warm (24 h)",
        "dashboard, warm (30 days)",
        "quality figures alone, cold (24 hours)",
        "quality figures alone, cold (7 days)",
        "quality figures alone, cold (30 days)",
        "results list, quality=disagreed (30 days)",
        "results list, second reviews of one reviewer",
    ]
    for row in pages.values():
        assert row["runs"] >= 3 and row["median_ms"] > 0 and row["queries"] > 0
    assert pages["dashboard, warm (24 h)"]["cpu_median_ms"] > 0
    assert pages["dashboard, warm (24 h)"]["queries"] < pages["dashboard, cold (24 h)"]["queries"]
    assert not report["claims"] and "search" not in report and "ratios" not in report
    assert "media" not in report and "webhooks" not in report
