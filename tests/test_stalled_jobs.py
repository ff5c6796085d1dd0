"""A job processing with no update for JOB_STALLED_AFTER seconds is stalled: flagged on the jobs
list, the job page and in the admin, and found with the list's `stalled` filter."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from mediaanalysis.pipeline.models import AnalysisJob
from tests.conftest import make_job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _threshold(settings):
    settings.JOB_STALLED_AFTER = 900


def quiet_for(job, minutes):
    """The job's last update `minutes` ago (auto_now would stamp a save with now)."""
    AnalysisJob.objects.filter(pk=job.pk).update(
        updated_at=timezone.now() - timedelta(minutes=minutes)
    )
    return job


@pytest.fixture
def jobs():
    return {
        "stalled": quiet_for(make_job(status="processing", progress=0.3), 16),
        "busy": quiet_for(make_job(status="processing", progress=0.6), 2),
        "waiting": quiet_for(make_job(status="pending"), 60),  # not started: not stalled
        "done": quiet_for(make_job(status="completed", progress=1.0), 60),
    }


def test_only_a_processing_job_without_recent_updates_is_stalled(jobs):
    assert set(AnalysisJob.objects.stalled()) == {jobs["stalled"]}
    assert [
        name for name, job in jobs.items() if AnalysisJob.objects.get(pk=job.pk).is_stalled
    ] == ["stalled"]


def test_the_stalled_filter_finds_them_and_its_opposite_the_rest(manager_client, jobs):
    shown = manager_client.get("/jobs/?stalled=true").context["rows"]
    assert [job.pk for job in shown] == [jobs["stalled"].pk]
    rest = {job.pk for job in manager_client.get("/jobs/?stalled=false").context["rows"]}
    assert rest == {jobs[name].pk for name in ("busy", "waiting", "done")}


def test_the_stalled_filter_runs_the_lists_fixed_number_of_queries(
    manager_client, jobs, django_assert_max_num_queries
):
    for _ in range(30):
        quiet_for(make_job(status="processing"), 30)
    with django_assert_max_num_queries(5):
        response = manager_client.get("/jobs/?stalled=true&per_page=100")
    assert len(response.context["rows"]) == 31


def test_the_stalled_query_reads_only_the_processing_jobs_on_postgresql(jobs):
    """On PostgreSQL the count is a range of the processing jobs in an index on status (the
    plan says so): no index holds updated_at, so that a progress report is a HOT update."""
    if connection.vendor != "postgresql":
        sql = str(AnalysisJob.objects.stalled().query)
        assert '"status" = ' in sql and '"updated_at" <' in sql and '"deleted_at" IS NULL' in sql
        return
    # Many finished jobs and a few processing, as in a real table, so the planner chooses.
    AnalysisJob.objects.bulk_create(
        AnalysisJob(session_id="many", job_type="transcription", status=status)
        for status in ["completed"] * 3000 + ["processing"] * 30
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE analysis_jobs")
        cursor.execute("SET LOCAL enable_seqscan = off")  # a small table is cheap to scan whole
        sql, params = AnalysisJob.objects.stalled().values("pk").query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Cond: (status = 'processing'" in plan


def test_the_jobs_list_flags_a_stalled_job(manager_client, jobs):
    rows = manager_client.get("/jobs/").text.split("<tbody>")[1].split("</tbody>")[0]
    stalled_row = rows.split(f'href="/jobs/{jobs["stalled"].pk}/"')[1].split("</tr>")[0]
    assert '<span class="badge stalled"' in stalled_row
    busy_row = rows.split(f'href="/jobs/{jobs["busy"].pk}/"')[1].split("</tr>")[0]
    assert "stalled" not in busy_row


def test_the_job_page_says_since_when_it_is_stalled(manager_client, jobs):
    text = manager_client.get(f"/jobs/{jobs['stalled'].pk}/").text
    assert "Stalled: no progress update since" in text
    assert "after 15 min 00 s without an update" in text
    assert "Stalled:" not in manager_client.get(f"/jobs/{jobs['busy'].pk}/").text


def test_the_progress_card_turns_stalled_while_the_page_watches(manager_client, jobs):
    response = manager_client.get(
        f"/jobs/{jobs['stalled'].pk}/progress/", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and "Stalled: no progress update" in response.text


def test_the_admin_agrees_that_the_job_is_stalled(admin_client, jobs):
    text = admin_client.get("/admin/mediaanalysis/analysisjob/").text
    assert text.count("Processing · stalled") == 1
