"""A claim of the whole queue is planned once per connection, not once per claim
(docs/performance.md, "Claims planned once"): its statement runs with a generic plan, which
must still read the head of idx_hitl_queue in order, not sort the queue."""

import re

import pytest
from django.db import connection
from psycopg import sql

from reviews import services
from reviews.models import HITLReview
from tests.conftest import make_result

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def plan_cache_mode() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        return cursor.fetchone()[0]


def claim_statement(reviewer) -> tuple[str, list]:
    captured = []

    def record(execute, statement, params, many, context):
        if statement.lstrip().startswith("WITH held AS"):
            captured.append((statement, list(params)))
        return execute(statement, params, many, context)

    with connection.execute_wrapper(record):
        services.claim_next(reviewer)
    [(statement, params)] = captured
    return statement, params


def modes_of_claims(action) -> list[str]:
    """plan_cache_mode as each claim statement that `action` runs ran."""
    modes = []

    def record(execute, statement, params, many, context):
        if statement.lstrip().startswith("WITH held AS"):
            modes.append(plan_cache_mode())
        return execute(statement, params, many, context)

    with connection.execute_wrapper(record):
        action()
    return modes


def test_a_claim_of_the_whole_queue_runs_with_generic_plans_and_a_lanes_does_not(
    reviewer, other_reviewer
):
    for _ in range(2):
        HITLReview.objects.create(analysis_result=make_result())
    assert plan_cache_mode() == "force_custom_plan"  # the site's, for searches and filters
    lane = modes_of_claims(
        lambda: services.claim_next(reviewer, lane=lambda queue: queue.filter(priority__gte=0))
    )
    assert lane == ["force_custom_plan"]
    whole = modes_of_claims(lambda: services.claim_next(other_reviewer))
    assert whole == ["force_generic_plan"]
    # This test's transaction holds the claim's (a savepoint): what follows in it is planned
    # for its values again.
    assert plan_cache_mode() == "force_custom_plan"


def test_an_empty_queue_reads_on_with_custom_plans(reviewer):
    assert modes_of_claims(lambda: services.claim_next(reviewer)) == ["force_generic_plan"]
    assert plan_cache_mode() == "force_custom_plan"


def test_the_claims_generic_plan_reads_the_head_of_the_queues_index_in_order(reviewer):
    for priority in (0, 5):
        HITLReview.objects.create(analysis_result=make_result(), priority=priority)
    statement, params = claim_statement(reviewer)
    numbers = iter(range(1, len(params) + 1))
    prepared = re.sub("%s", lambda _: f"${next(numbers)}", statement)
    values = sql.SQL(", ").join(sql.Literal(p) for p in params).as_string(connection.connection)
    with connection.cursor() as cursor:
        # Plans that read the whole table or sort it are made dear, so that a few rows cannot
        # make them the cheaper ones; they remain the only ones where the queue's index does
        # not serve (its statuses bound as values, the generic plan could not prove it does).
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"PREPARE claim_plan AS {prepared}")
        cursor.execute(f"EXPLAIN EXECUTE claim_plan({values})")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE claim_plan")
    assert "$1" in plan  # a generic plan: its values are not in it
    head = plan.split("CTE head")[1].split("CTE taken")[0]
    assert "Index Scan using idx_hitl_queue on hitl_reviews" in head
    assert "Sort" not in head
