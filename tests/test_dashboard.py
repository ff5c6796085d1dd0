"""The manager dashboard: every figure on known data, caching, roles, bounded queries."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard.stats import Scope, figures
from dashboard.tasks import recount, recount_watched
from mediaanalysis.pipeline.models import AnalysisJob
from reviews.models import HITLReview, ReviewEvent
from tests.conftest import make_job, make_result
from tests.worker import queued, run_queued_tasks

NOW = datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC)


def at(**kwargs):
    return NOW - timedelta(**kwargs)


@pytest.fixture(autouse=True)
def _frozen_clock_and_no_auto_enqueue(settings):
    settings.REVIEW_CONFIDENCE_THRESHOLD = 0  # the test places every review itself
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def pipeline_data():
    for seconds in (10, 20, 30, 40):
        started = at(hours=3)
        make_job(
            job_type="transcription",
            status="completed",
            progress=1.0,
            created_at=at(hours=3, minutes=1),
            started_at=started,
            completed_at=started + timedelta(seconds=seconds),
        )
    make_job(
        job_type="transcription",
        status="failed",
        error_message="boom",
        created_at=at(hours=2),
        started_at=at(hours=2),
        completed_at=at(hours=2),
    )
    make_job(job_type="transcription", status="pending", created_at=at(hours=5))
    make_job(
        job_type="ocr",
        status="processing",
        progress=0.5,
        created_at=at(hours=1),
        started_at=at(hours=1),
    )
    # the window before: two jobs, one failed
    make_job(
        job_type="transcription",
        status="completed",
        created_at=at(hours=30),
        completed_at=at(hours=30),
    )
    make_job(
        job_type="transcription",
        status="failed",
        error_message="old",
        created_at=at(hours=31),
        completed_at=at(hours=31),
    )
    # outside both windows, and deleted: never counted
    make_job(status="failed", created_at=at(days=10))
    make_job(status="failed", created_at=at(hours=1)).soft_delete()


def decide(result, approved, reviewer, enqueued, claimed, decided):
    review = HITLReview.objects.create(
        analysis_result=result,
        status="completed",
        approved=approved,
        claimed_by=reviewer,
        claimed_at=claimed,
        claim_expires_at=claimed + timedelta(minutes=15),
        reviewed_by=reviewer,
        reviewed_at=decided,
        created_at=enqueued,
    )
    ReviewEvent.objects.create(review=review, kind="claimed", actor=reviewer, at=claimed)
    ReviewEvent.objects.create(review=review, kind="decided", actor=reviewer, at=decided)
    return review


@pytest.fixture
def review_data(reviewer, other_reviewer):
    m1 = [
        make_result(
            model_used="m1", analysis_type="audio", confidence_score=score, created_at=at(hours=6)
        )
        for score in (0.15, 0.95, 0.97, 1.0)
    ]
    make_result(model_used="m2", analysis_type="image", confidence_score=0.5)  # never reviewed
    # rita: three decisions taking 30, 60 and 90 s from claim; omar one of 10 s
    decide(m1[0], "no", reviewer, at(hours=4), at(hours=3), at(hours=3) + timedelta(seconds=30))
    decide(m1[1], "yes", reviewer, at(hours=4), at(hours=2), at(hours=2) + timedelta(seconds=60))
    decide(m1[2], "yes", reviewer, at(hours=4), at(hours=1), at(hours=1) + timedelta(seconds=90))
    first = decide(
        m1[3],
        "needs_changes",
        other_reviewer,
        at(hours=4),
        at(minutes=30),
        at(minutes=30) + timedelta(seconds=10),
    )
    # the needs-changes result came back for a second round, now pending
    HITLReview.objects.create(
        analysis_result=m1[3], priority=5, created_at=first.reviewed_at + timedelta(minutes=1)
    )
    # a claim that expired and was taken over, and one expired claim nobody took yet
    taken = HITLReview.objects.create(
        analysis_result=make_result(model_used="m2"),
        status="claimed",
        claimed_by=reviewer,
        claimed_at=at(minutes=10),
        claim_expires_at=at(minutes=10) + timedelta(minutes=15),
        created_at=at(hours=2),
    )
    ReviewEvent.objects.create(review=taken, kind="claimed", actor=other_reviewer, at=at(hours=1))
    ReviewEvent.objects.create(review=taken, kind="taken_over", actor=reviewer, at=at(minutes=10))
    HITLReview.objects.create(
        analysis_result=make_result(model_used="m2"),
        status="reviewing",
        claimed_by=other_reviewer,
        claimed_at=at(hours=1),
        claim_expires_at=at(minutes=45),
        created_at=at(hours=3),
    )
    return m1


@pytest.mark.django_db
def test_pipeline_figures_on_known_data(pipeline_data):
    pipeline = figures(Scope("24h"))["pipeline"]
    assert dict((value, n) for value, _, n in pipeline["by_status"]) == {
        "pending": 1,
        "processing": 1,
        "completed": 5,
        "failed": 3,
    }
    totals = pipeline["totals"]
    assert (totals["created"], totals["completed"], totals["failed"]) == (7, 4, 1)
    assert (totals["prev_created"], totals["prev_failed"]) == (2, 1)
    assert pipeline["failure_rate"] == pytest.approx(1 / 5)
    assert pipeline["prev_failure_rate"] == pytest.approx(1 / 2)
    assert pipeline["trends"]["created"]["amount"] == "+250%"
    durations = {row["job_type"]: row for row in pipeline["durations"]}
    assert durations["transcription"]["n"] == 4
    assert durations["transcription"]["p50"] == pytest.approx(25)
    assert durations["transcription"]["p95"] == pytest.approx(38.5)
    assert pipeline["oldest_pending_age"] == timedelta(hours=5)
    assert [(row["error_message"], row["n"]) for row in pipeline["errors"]] == [("boom", 1)]


@pytest.mark.django_db
def test_throughput_has_one_bucket_per_hour_with_zeros_filled(pipeline_data):
    series = figures(Scope("24h"))["pipeline"]["series"]
    assert len(series) == 25  # the partial first hour, then every hour up to now
    by_hour = {row["bucket"]: row for row in series}
    # created at 08:59:30, finished between 09:00:40 and 09:01:10: counted in each hour
    created_hour = by_hour[datetime(2026, 11, 20, 8, 0, tzinfo=UTC)]
    finished_hour = by_hour[datetime(2026, 11, 20, 9, 0, tzinfo=UTC)]
    assert (created_hour["created"], created_hour["completed"]) == (4, 0)
    assert (finished_hour["created"], finished_hour["completed"]) == (0, 4)
    assert sum(row["created"] for row in series) == 7
    assert sum(row["failed"] for row in series) == 1
    daily = figures(Scope("7d"))["pipeline"]["series"]
    assert len(daily) == 8
    assert sum(row["created"] for row in daily) == 9


@pytest.mark.django_db
def test_job_type_filter_narrows_the_pipeline(pipeline_data):
    pipeline = figures(Scope("24h", job_type="ocr"))["pipeline"]
    assert pipeline["totals"]["created"] == 1
    assert pipeline["failure_rate"] is None  # nothing finished: no rate, not 0%


@pytest.mark.django_db
def test_backlog_figures_on_known_data(review_data):
    backlog = figures(Scope("24h"))["backlog"]
    assert (backlog["pending"], backlog["claimed"], backlog["expired"]) == (1, 1, 1)
    assert [(row["priority"], row["n"]) for row in backlog["oldest_by_priority"]] == [(5, 1)]
    # enqueued 4 h ago, claimed 3 h, 2 h, 1 h and 30 min ago (plus the taken-over one: 1 h after 2 h)
    assert backlog["first_claim"]["n"] == 5
    assert backlog["first_claim"]["p50"] == pytest.approx(3600 * 2)
    assert backlog["to_decision"]["n"] == 4
    assert backlog["abandonment_rate"] == pytest.approx(1 / 6)  # 1 takeover of 6 claims
    assert backlog["needs_changes_rate"] == pytest.approx(1 / 4)
    assert backlog["went_round_rate"] == pytest.approx(1.0)
    assert (backlog["rounds"]["once"], backlog["rounds"]["twice"]) == (3, 1)


@pytest.mark.django_db
def test_reviewer_figures_on_known_data(review_data):
    people = {p["reviewed_by__username"]: p for p in figures(Scope("24h"))["reviewers"]["people"]}
    rita = people["rita"]
    assert (rita["n"], rita["yes"], rita["no"], rita["needs_changes"]) == (3, 2, 1, 0)
    assert rita["median_seconds"] == pytest.approx(60)
    assert rita["yes_share"] == pytest.approx(2 / 3)
    assert people["omar"]["needs_changes_share"] == 1


@pytest.mark.django_db
def test_model_approval_and_calibration_buckets(review_data):
    models = figures(Scope("24h"))["models"]
    assert [(r["model"], r["analysis_type"], r["n"], r["yes"]) for r in models["approval"]] == [
        ("m1", "audio", 4, 2)
    ]
    assert models["approval"][0]["rate"] == pytest.approx(0.5)
    calibration = {row["model"]: row for row in models["calibration"]}
    m1 = calibration["m1"]["buckets"]
    assert (m1[1]["n"], m1[1]["rate"]) == (1, 0.0)
    assert (m1[9]["n"], m1[9]["rate"]) == (
        3,
        pytest.approx(2 / 3),
    )  # 0.95, 0.97 and 1.0 (the last bucket holds 1.0)
    assert all(
        m1[i]["rate"] is None and m1[i]["n"] == 0 for i in (0, 2, 3, 4, 5, 6, 7, 8)
    )  # empty buckets
    assert "m2" not in calibration  # a model with no reviews is named, not drawn empty
    assert models["unreviewed"] == ["m2"]


@pytest.mark.django_db
def test_model_filter_narrows_reviews(review_data):
    data = figures(Scope("24h", model="m2"))
    assert data["models"]["approval"] == []
    assert data["backlog"]["claimed"] == 1
    assert data["models"]["calibration"] == [] and data["models"]["unreviewed"] == ["m2"]


@pytest.mark.django_db
def test_dashboard_page_shows_figures_with_links_to_their_rows(
    manager_client, pipeline_data, review_data
):
    response = manager_client.get("/dashboard/?window=24h")
    assert response.status_code == 200
    html = response.text
    assert "<svg" in html and "<title" in html  # charts are accessible SVG
    assert "/jobs/?status=failed&amp;finished_after=2026-11-19T12%3A00" in html
    assert (
        "/results/?model=m1&amp;confidence_min=0.9&amp;confidence_max=1.0&amp;review_state=approved"
        "&amp;reviewed_after=2026-11-19T12%3A00" in html
    )
    assert "boom" in html


@pytest.mark.django_db
def test_dashboard_is_cached_and_refresh_recomputes(
    manager_client, pipeline_data, django_assert_max_num_queries
):
    with django_assert_max_num_queries(38):
        manager_client.get("/dashboard/")
    make_job(
        status="failed",
        error_message="new failure",
        created_at=at(minutes=5),
        completed_at=at(minutes=5),
    )
    with django_assert_max_num_queries(4):
        cached = manager_client.get("/dashboard/")
    assert "new failure" not in cached.text
    refreshed = manager_client.get("/dashboard/?refresh=1")
    assert "new failure" in refreshed.text


@pytest.mark.django_db
def test_dashboard_cache_expires_after_its_lifetime(manager_client, pipeline_data, settings):
    manager_client.get("/dashboard/")
    make_job(
        status="failed",
        error_message="later failure",
        created_at=at(minutes=5),
        completed_at=at(minutes=5),
    )
    with time_machine.travel(NOW + timedelta(seconds=10), tick=False):
        assert "later failure" not in manager_client.get("/dashboard/").text  # still cached
    lifetime = timedelta(seconds=settings.DASHBOARD_CACHE_SECONDS + 1)
    with time_machine.travel(NOW + lifetime, tick=False):
        assert "later failure" in manager_client.get("/dashboard/").text


@pytest.mark.django_db
def test_dashboard_query_count_does_not_grow_with_data(
    manager_client, pipeline_data, review_data, django_assert_max_num_queries
):
    with django_assert_max_num_queries(38) as small:
        manager_client.get("/dashboard/?window=30d&refresh=1")
    for _ in range(20):
        make_job(status="failed", error_message="more", created_at=at(hours=2))
    with django_assert_max_num_queries(len(small.captured_queries)):
        manager_client.get("/dashboard/?window=30d&refresh=1")


@pytest.mark.django_db
def test_bad_dashboard_parameters_fall_back_with_a_message(manager_client):
    response = manager_client.get("/dashboard/?window=99y&job_type=" + "x" * 500)
    assert response.status_code == 200
    assert "The default is shown" in response.text


@pytest.mark.django_db
def test_htmx_window_switch_gets_only_the_dashboard_body(manager_client):
    response = manager_client.get("/dashboard/?window=7d", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text and 'id="dashboard"' in response.text


@pytest.mark.django_db
def test_only_managers_and_admins_see_the_dashboard(
    reviewer_client, manager_client, admin_client, nobody, client
):
    from tests.conftest import client_for

    assert reviewer_client.get("/dashboard/").status_code == 403
    assert client_for(nobody).get("/dashboard/").status_code == 403
    assert manager_client.get("/dashboard/").status_code == 200
    assert admin_client.get("/dashboard/").status_code == 200
    assert client.get("/dashboard/").status_code == 302  # anonymous: to the login page


@pytest.mark.django_db
def test_deleted_jobs_never_count(pipeline_data):
    before = figures(Scope("24h"))["pipeline"]["totals"]["created"]
    AnalysisJob.objects.filter(job_type="ocr").soft_delete()
    assert figures(Scope("24h"))["pipeline"]["totals"]["created"] == before - 1


@pytest.mark.django_db
def test_stale_figures_are_served_while_one_background_recount_is_queued(
    manager_client, pipeline_data
):
    manager_client.get("/dashboard/")
    assert queued(recount) == 0  # fresh: nothing to recount
    make_job(
        status="failed",
        error_message="meanwhile",
        created_at=at(minutes=1),
        completed_at=at(minutes=1),
    )
    with time_machine.travel(NOW + timedelta(seconds=40), tick=False):
        stale = manager_client.get("/dashboard/")
        manager_client.get("/dashboard/")
        assert "meanwhile" not in stale.text  # served at once from the cache...
        assert queued(recount) == 1  # ...while one recount, not two, waits for a worker
        run_queued_tasks()
        assert "meanwhile" in manager_client.get("/dashboard/").text


@pytest.mark.django_db
def test_the_periodic_recount_keeps_the_dashboard_warm_only_while_someone_watches(
    manager_client, pipeline_data
):
    assert recount_watched.call() == 0  # nobody looked: no work
    manager_client.get("/dashboard/")
    make_job(
        status="failed",
        error_message="while watched",
        created_at=at(minutes=1),
        completed_at=at(minutes=1),
    )
    assert recount_watched.call() == 3  # the three windows
    assert "while watched" in manager_client.get("/dashboard/").text
    with time_machine.travel(NOW + timedelta(minutes=11), tick=False):
        assert recount_watched.call() == 0  # nobody looked for ten minutes


@pytest.mark.django_db
def test_every_window_and_each_filtered_view_looked_at_stays_warm(manager_client, pipeline_data):
    """Switching the window, or coming back to a filtered view, never waits for a recount."""
    manager_client.get("/dashboard/")
    manager_client.get("/dashboard/?window=7d&model=m1")
    scopes = [Scope(window=w) for w in ("24h", "7d", "30d")] + [Scope(window="7d", model="m1")]
    cache.delete_many([scope.cache_key() for scope in scopes])
    assert recount_watched.call() == 4  # three windows and the filtered view looked at
    for query in ("?window=30d", "?window=7d&model=m1", "?window=7d"):
        with CaptureQueriesContext(connection) as queries:
            manager_client.get(f"/dashboard/{query}")
        assert len(queries) <= 3, query  # from the cache: no recount's dozens of statements


@pytest.mark.django_db
def test_refresh_now_keeps_the_window_and_filters_shown(manager_client):
    page = manager_client.get("/dashboard/?window=7d&model=m1").text
    assert 'href="?window=7d&amp;model=m1&amp;refresh=1"' in page
    refreshed = manager_client.get("/dashboard/?window=7d&model=m1&refresh=1")
    assert refreshed.context["scope"].window == "7d"
