"""Managers retry failed jobs from the job page and the jobs list, by the admin's rules
(AnalysisJob.objects.retryable() and retry()), with the retry permission; errors show in the
list itself."""

from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Permission

from mediaanalysis.pipeline.models import AnalysisJob
from tests.conftest import client_for, make_job, make_user

pytestmark = pytest.mark.django_db

RETRY = "/jobs/retry/"


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_a_manager_retries_a_failed_job_from_its_page(manager_client):
    job = make_job(status="failed", retry_count=1, max_retries=3, progress=0.4, error_message="x")
    page = manager_client.get(f"/jobs/{job.pk}/").text
    assert "Retry this job" in page
    response = manager_client.post(
        RETRY, {"scope": "selected", "job": job.pk, "next": f"/jobs/{job.pk}/"}, follow=True
    )
    assert response.redirect_chain[-1][0] == f"/jobs/{job.pk}/"
    assert messages_of(response) == ["Sent 1 failed job back to pending."]
    job.refresh_from_db()
    assert (job.status, job.retry_count, job.progress) == ("pending", 2, 0.0)


def test_no_retry_button_where_the_rules_allow_no_retry(manager_client):
    exhausted = make_job(status="failed", retry_count=3, max_retries=3)
    running = make_job(status="processing")
    assert "Retry this job" not in manager_client.get(f"/jobs/{exhausted.pk}/").text
    assert "(none left)" in manager_client.get(f"/jobs/{exhausted.pk}/").text
    assert "Retry this job" not in manager_client.get(f"/jobs/{running.pk}/").text


def test_ticked_jobs_are_retried_by_the_same_rules_as_the_admins_action(manager_client):
    retryable = make_job(status="failed", retry_count=0)
    exhausted = make_job(status="failed", retry_count=3, max_retries=3)
    running = make_job(status="processing")
    response = manager_client.post(
        RETRY,
        {"scope": "selected", "job": [retryable.pk, exhausted.pk, running.pk], "next": "/jobs/"},
        follow=True,
    )
    assert messages_of(response) == [
        "Sent 1 failed job back to pending.",
        f"Not retried: #{exhausted.pk} (no retries left: 3/3), #{running.pk} (not failed: processing)",
    ]
    assert AnalysisJob.objects.get(pk=retryable.pk).status == "pending"
    assert AnalysisJob.objects.get(pk=exhausted.pk).status == "failed"


def test_a_whole_filter_is_retried_only_after_its_count_is_confirmed(manager_client):
    ocr = [make_job(job_type="ocr", status="failed") for _ in range(2)]
    make_job(job_type="ocr", status="failed", retry_count=3, max_retries=3)  # not retryable
    other = make_job(job_type="transcription", status="failed")
    query = "job_type=ocr&status=failed"
    confirm = manager_client.post(RETRY, {"scope": "filter", "query": query, "next": "/jobs/"})
    assert confirm.status_code == 200
    assert "Retry 2 failed jobs?" in confirm.text
    assert set(AnalysisJob.objects.values_list("status", flat=True)) == {"failed"}
    response = manager_client.post(
        RETRY, {"scope": "filter", "query": query, "next": "/jobs/", "confirm": "1"}, follow=True
    )
    assert messages_of(response) == ["Sent 2 failed jobs back to pending."]
    assert {job.pk for job in AnalysisJob.objects.filter(status="pending")} == {j.pk for j in ocr}
    assert AnalysisJob.objects.get(pk=other.pk).status == "failed"


@pytest.mark.parametrize("edge", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_filter_at_the_calendars_edge_is_shown_as_typed(manager_client, edge):
    """Shown in the site's time zone, such a moment falls off the calendar: it was a 500 (found
    by a fuzz run outside the suite)."""
    make_job(status="failed")
    query = urlencode({"status": "failed", "created_after": edge})
    confirm = manager_client.post(RETRY, {"scope": "filter", "query": query, "next": "/jobs/"})
    assert confirm.status_code == 200
    assert edge[:16].replace("T", " ") in confirm.text
    # The list takes the same bound as the calendar's edge: everything after its first day,
    # nothing after its last.
    listed = manager_client.get("/jobs/", {"created_after": edge})
    assert listed.status_code == 200
    assert len(listed.context["rows"]) == (1 if edge.startswith("0001") else 0)


def test_a_filter_that_was_not_understood_retries_nothing(manager_client):
    make_job(status="failed")
    response = manager_client.post(
        RETRY,
        {"scope": "filter", "query": "created_after=soon", "confirm": "1", "next": "/jobs/"},
        follow=True,
    )
    assert messages_of(response)[0].startswith("Fix the filter first; no job was retried.")
    assert AnalysisJob.objects.get().status == "failed"


def test_retrying_needs_the_retry_permission_and_nothing_else(django_user_model, reviewer_client):
    job = make_job(status="failed")
    assert reviewer_client.post(RETRY, {"scope": "selected", "job": job.pk}).status_code == 403
    assert "Retry this job" not in reviewer_client.get(f"/jobs/{job.pk}/").text
    holder = make_user(django_user_model, "rory")
    holder.user_permissions.add(
        Permission.objects.get(codename="retry_analysisjob"),
        Permission.objects.get(codename="view_analysisjob"),
    )
    client = client_for(holder)
    assert client.post(RETRY, {"scope": "selected", "job": job.pk}).status_code == 302
    assert AnalysisJob.objects.get(pk=job.pk).status == "pending"


def test_the_admins_retry_action_needs_the_same_permission(admin_client, admin_user):
    job = make_job(status="failed")
    admin_client.post(
        "/admin/mediaanalysis/analysisjob/",
        {"action": "retry_failed", "_selected_action": [job.pk]},
    )
    assert AnalysisJob.objects.get(pk=job.pk).status == "pending"


def test_the_failed_jobs_list_offers_ticks_and_the_whole_filter(manager_client, reviewer_client):
    failed = make_job(status="failed", error_message="disk full")
    exhausted = make_job(status="failed", retry_count=3, max_retries=3)
    text = manager_client.get("/jobs/?status=failed").text
    assert 'id="retry"' in text and 'data-select-all="job"' in text
    assert f'name="job" value="{failed.pk}"' in text
    assert f'name="job" value="{exhausted.pk}"' not in text  # nothing to retry there
    assert 'id="retry"' not in reviewer_client.get("/jobs/?status=failed").text


def test_the_jobs_list_shows_the_error_text_in_a_column_whole_on_demand(manager_client):
    long = "ffmpeg exited with code 1: " + "Invalid data found when processing input " * 3
    make_job(status="failed", error_message=long)
    make_job(status="failed", error_message="disk full")
    text = manager_client.get("/jobs/").text
    assert "<th>Error</th>" in text
    assert '<td class="error-cell">disk full</td>' in text
    cell = text.split('<td class="error-cell"><details>')[1].split("</details>")[0]
    assert "<summary>ffmpeg exited with code 1: Invalid data found when processi…</summary>" in cell
    assert long.strip() in cell
