"""The dashboard's quality recount reads only its window (docs/performance.md, "Review quality"):
on PostgreSQL its slowest statements at 100,000 reviews are ranges of an index, not scans of
every review, event or result. The plans are read with sequential scans off, so that a few test
rows cannot make a scan the cheaper plan; on SQLite the statements' shape is checked instead.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from dashboard.stats import Scope, quality_figures
from reviews.models import HITLReview, Round
from tests.conftest import make_result

pytestmark = pytest.mark.django_db


def recorded(action) -> list[tuple]:
    """The statements `action` runs, with their parameters."""
    captured = []

    def record(execute, sql, params, many, context):
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        action()
    return captured


@pytest.fixture
def statements():
    """The statements of a 24-hour quality recount, with their parameters, by what they read."""
    first = HITLReview.objects.get(analysis_result=make_result(confidence_score=0.1))
    HITLReview.objects.create(
        analysis_result=first.analysis_result, round=Round.ADJUDICATION, previous_review=first
    )
    now = timezone.now()
    captured = recorded(lambda: quality_figures(Scope("24h"), now - timedelta(hours=24), now))

    def one(fragment):
        [found] = [(sql, params) for sql, params in captured if fragment in sql]
        return found

    return {
        "open adjudications": one('"hitl_reviews"."created_at" AS "created_at"'),
        "routing sent": one('AS "spot_decided"'),
        "reviewer events": one("LAG("),
    }


def plan(statement) -> str:
    sql, params = statement
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_open_adjudications_are_the_head_of_their_partial_index(statements):
    statement = statements["open adjudications"]
    if connection.vendor != "postgresql":
        sql = statement[0]
        assert '"round" = ' in sql and '"deleted_at" IS NULL' in sql and "ORDER BY" in sql
        return
    assert "idx_hitl_open_adjudications" in plan(statement)


def test_the_routing_figures_ask_for_the_windows_live_results(statements):
    """Live results created in the window: a range of idx_result_live_list at 300,000 results
    (a few test rows make the planner start from the reviews instead, so no plan here)."""
    sql = statements["routing sent"][0]
    assert '"analysis_results"."deleted_at" IS NULL' in sql
    assert '"analysis_results"."created_at" >= ' in sql


def test_the_reviewer_analytics_read_the_windows_events_by_time(statements):
    statement = statements["reviewer events"]
    if connection.vendor != "postgresql":
        assert '"hitl_review_events"."at" >= ' in statement[0]
        return
    assert "idx_hitl_event_at" in plan(statement)


def test_the_results_behind_a_disagreement_figure_are_read_from_the_second_reviews_alone(
    manager_client,
):
    """The second reviews carry the first decision (`previous_decision`): the results list a
    figure links to reads the window's decided second reviews from their partial index and
    looks no first review up (at 20,000 second reviews that was 6,600 lookups, twice)."""
    first = HITLReview.objects.get(analysis_result=make_result(confidence_score=0.1))
    HITLReview.objects.filter(pk=first.pk).update(
        status="completed", approved="no", reviewed_at=timezone.now()
    )
    HITLReview.objects.create(
        analysis_result=first.analysis_result,
        round=Round.SECOND,
        previous_review=HITLReview.objects.get(pk=first.pk),
        status="completed",
        approved="yes",
        reviewed_at=timezone.now(),
    )
    url = "/results/?quality=disagreed&quality_since=2020-01-01"
    pages = []
    captured = recorded(lambda: pages.append(manager_client.get(url)))
    assert f"#{first.analysis_result_id}" in pages[0].text
    reads = [(sql, p) for sql, p in captured if '"previous_decision"' in sql]
    assert reads and not any('JOIN "hitl_reviews"' in sql for sql, _ in reads), reads
    if connection.vendor == "postgresql":
        assert "idx_hitl_decided_seconds" in plan(reads[0])
