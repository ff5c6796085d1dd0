"""The dashboard does not mislead: jobs count when they finish, every change says whether it is
better or worse, thin calibration buckets are marked, unreviewed models are named rather than
drawn empty, links keep the window, and the reviewers table stays as wide at 30 days."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from dashboard.stats import MIN_CALIBRATION_N, Scope, figures, trend
from mediaanalysis.pipeline.models import AnalysisJob
from reviews.models import HITLReview
from tests.conftest import make_job, make_result

NOW = datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def at(**kwargs):
    return NOW - timedelta(**kwargs)


@pytest.fixture(autouse=True)
def _frozen_clock(settings):
    settings.REVIEW_CONFIDENCE_THRESHOLD = 0
    with time_machine.travel(NOW, tick=False):
        yield


def finished_job(status, created, finished, **fields):
    return make_job(
        status=status, created_at=created, started_at=created, completed_at=finished, **fields
    )


def test_jobs_count_as_completed_or_failed_in_the_window_they_finished():
    # Created the day before, finished in this window: counted now, not then.
    finished_job("failed", at(hours=30), at(hours=2), error_message="late failure")
    finished_job("completed", at(hours=30), at(hours=3))
    # Created in this window, still running: created, not finished.
    make_job(status="processing", created_at=at(hours=1))
    pipeline = figures(Scope("24h"))["pipeline"]
    totals = pipeline["totals"]
    assert (totals["created"], totals["completed"], totals["failed"]) == (1, 1, 1)
    assert (totals["prev_created"], totals["prev_completed"], totals["prev_failed"]) == (2, 0, 0)
    assert pipeline["failure_rate"] == pytest.approx(0.5)
    assert [(row["error_message"], row["n"]) for row in pipeline["errors"]] == [("late failure", 1)]
    by_hour = {row["bucket"]: row for row in pipeline["series"]}
    assert by_hour[datetime(2026, 11, 20, 10, 0, tzinfo=UTC)]["failed"] == 1
    assert by_hour[datetime(2026, 11, 20, 9, 0, tzinfo=UTC)]["completed"] == 1
    assert sum(row["created"] for row in pipeline["series"]) == 1


@pytest.mark.parametrize(
    ("now", "before", "better", "rate", "expected"),
    [
        # more failures: a rise, and worse
        (6, 2, "down", False, ("▲", "+200%", "worse", "bad")),
        # fewer failures: a fall, and better
        (1, 2, "down", False, ("▼", "-50%", "better", "good")),
        # more completed jobs: better
        (4, 2, "up", False, ("▲", "+100%", "better", "good")),
        # fewer jobs coming in: neither good nor bad
        (1, 4, None, False, ("▼", "-75%", "fewer", "neutral")),
        # a failure rate from 10% to 25%: percentage points, worse
        (0.25, 0.1, "down", True, ("▲", "+15.0 pp", "worse", "bad")),
        (0.1, 0.1, "down", True, ("=", "+0.0 pp", "unchanged", "neutral")),
    ],
)
def test_every_change_has_an_arrow_an_amount_and_a_verdict_by_one_rule(
    now, before, better, rate, expected
):
    change = trend(now, before, better=better, rate=rate)
    assert (change["arrow"], change["amount"], change["verdict"], change["css"]) == expected


def test_nothing_to_compare_gives_no_change():
    assert trend(3, 0, better="up") is None
    assert trend(None, 0.2, better="down", rate=True) is None


def test_a_rising_failure_rate_is_flagged_in_words_and_colour(manager_client):
    finished_job("failed", at(hours=30), at(hours=30))
    for _ in range(3):
        finished_job("completed", at(hours=30), at(hours=30))
    finished_job("failed", at(hours=2), at(hours=2))
    finished_job("completed", at(hours=2), at(hours=2))
    text = manager_client.get("/dashboard/").text
    rate_card = text.split("<dt>Failure rate")[1].split("</div>")[0]
    assert "rising</span>" in rate_card
    assert '<small class="change bad"' in rate_card and "▲ +25.0 pp · worse" in rate_card
    created_card = text.split("<dt>Jobs created")[1].split("</div>")[0]
    assert '<small class="change neutral"' in created_card and "▼ -50% · fewer" in created_card


def test_calibration_marks_buckets_below_the_minimum_and_shows_each_bars_n(reviewer):
    def decided(score, approved):
        result = make_result(model_used="m1", confidence_score=score)
        HITLReview.objects.create(
            analysis_result=result,
            status="completed",
            approved=approved,
            reviewed_by=reviewer,
            reviewed_at=at(hours=1),
        )

    for _ in range(MIN_CALIBRATION_N):
        decided(0.95, "yes")
    decided(0.15, "yes")  # one review: 100% approved, but it says nothing yet
    buckets = figures(Scope("24h"))["models"]["calibration"][0]["buckets"]
    assert (buckets[9]["n"], buckets[9]["enough"]) == (MIN_CALIBRATION_N, True)
    assert (buckets[1]["n"], buckets[1]["rate"], buckets[1]["enough"]) == (1, 1.0, False)


def test_the_calibration_chart_greys_thin_bars_and_writes_n_above_each(manager_client, reviewer):
    for score in (0.95,) * MIN_CALIBRATION_N + (0.15,):
        HITLReview.objects.create(
            analysis_result=make_result(model_used="m1", confidence_score=score),
            status="completed",
            approved="yes",
            reviewed_by=reviewer,
            reviewed_at=at(hours=1),
        )
    text = manager_client.get("/dashboard/").text
    chart = text.split("Calibration of m1")[1].split("</svg>")[0]
    assert re.search(
        r'<rect class="few"[^>]*><title>m1, confidence 0\.1–0\.2: only 1 reviewed', chart
    )
    assert re.search(
        r'<rect class="c0"[^>]*><title>m1, confidence 0\.9–1\.0: 100% approved of 5', chart
    )
    assert ">5<" in chart and ">1<" in chart  # n above each bar
    assert "fewer than 5 reviews: too few to judge" in text


def test_models_without_reviews_are_named_not_drawn_as_empty_charts(manager_client, reviewer):
    HITLReview.objects.create(
        analysis_result=make_result(model_used="m1", confidence_score=0.9),
        status="completed",
        approved="yes",
        reviewed_by=reviewer,
        reviewed_at=at(hours=1),
    )
    make_result(model_used="never-reviewed")
    text = manager_client.get("/dashboard/").text
    assert "Calibration of m1" in text
    assert "Calibration of never-reviewed" not in text
    assert "Not reviewed in this window, so not drawn: never-reviewed." in text


def test_approval_and_calibration_links_keep_the_window(manager_client, reviewer):
    HITLReview.objects.create(
        analysis_result=make_result(model_used="m1", analysis_type="audio", confidence_score=0.9),
        status="completed",
        approved="yes",
        reviewed_by=reviewer,
        reviewed_at=at(days=3),
    )
    text = manager_client.get("/dashboard/?window=7d").text
    since = "reviewed_after=2026-11-13T12%3A00"
    assert f"/results/?model=m1&amp;analysis_type=audio&amp;{since}" in text
    assert f"review_state=approved&amp;{since}" in text
    assert (
        "confidence_min=0.9&amp;confidence_max=1.0&amp;review_state=approved&amp;" + since in text
    )


def test_the_results_list_follows_a_windowed_link_to_the_decisions_in_the_window(
    manager_client, reviewer
):
    def decided(approved, when):
        result = make_result(model_used="m1")
        HITLReview.objects.create(
            analysis_result=result,
            status="completed",
            approved=approved,
            reviewed_by=reviewer,
            reviewed_at=when,
        )
        return result.pk

    recent = decided("yes", at(days=2))
    decided("yes", at(days=20))
    rejected = decided("no", at(days=1))
    since = "reviewed_after=2026-11-13T12:00"
    shown = manager_client.get(f"/results/?model=m1&review_state=approved&{since}")
    assert [row.pk for row in shown.context["rows"]] == [recent]
    everything = manager_client.get(f"/results/?model=m1&{since}")
    assert {row.pk for row in everything.context["rows"]} == {recent, rejected}


def test_the_reviewers_table_has_one_sparkline_column_whatever_the_window(manager_client, reviewer):
    for days in (1, 5, 12, 25):
        HITLReview.objects.create(
            analysis_result=make_result(),
            status="completed",
            approved="yes",
            reviewed_by=reviewer,
            claimed_at=at(days=days, minutes=2),
            reviewed_at=at(days=days),
        )
    reviewers = figures(Scope("30d"))["reviewers"]
    assert len(reviewers["buckets"]) == 31
    assert sum(reviewers["people"][0]["per_step"]) == 4
    text = manager_client.get("/dashboard/?window=30d").text
    table = text.split("<h2>Reviewers</h2>")[1].split("</table>")[0]
    assert len(re.findall(r"<th[ >]", table)) == 7  # no column per day
    assert 'class="sparkline"' in table and "Decisions by rita per day" in table


def test_stalled_jobs_are_counted_with_a_link_to_them(manager_client, settings):
    settings.JOB_STALLED_AFTER = 900
    for minutes, status in [
        (20, "processing"),
        (16, "processing"),
        (5, "processing"),
        (60, "pending"),
    ]:
        job = make_job(status=status)
        AnalysisJob.objects.filter(pk=job.pk).update(updated_at=at(minutes=minutes))
    assert figures(Scope("24h"))["pipeline"]["stalled"] == 2
    text = manager_client.get("/dashboard/").text
    card = text.split("<dt>Stalled now</dt>")[1].split("</div>")[0]
    assert '<a href="/jobs/?stalled=true">2</a>' in card
