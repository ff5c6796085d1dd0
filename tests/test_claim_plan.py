"""A claim of the whole queue is planned once per connection, not once per claim
(docs/performance.md, "Claims planned once"): its statement runs with a generic plan, which
must still read the head of the queue's indexes in order, not sort the queue."""

import re
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from mediaanalysis.roles import REVIEWERS
from reviews import services
from reviews.models import HITLReview
from tests.conftest import make_result, make_user

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


def modes_of(action) -> list[tuple[str, str]]:
    """plan_cache_mode as each claim statement, and each read of the fallback, ran."""
    modes = []

    def record(execute, statement, params, many, context):
        if statement.lstrip().startswith("WITH held AS"):
            modes.append(("claim", plan_cache_mode()))
        elif "SKIP LOCKED" in statement or (
            "FOR UPDATE" in statement and "hitl_reviews" in statement
        ):
            modes.append(("fallback", plan_cache_mode()))
        return execute(statement, params, many, context)

    with connection.execute_wrapper(record):
        action()
    return modes


@pytest.mark.django_db(transaction=True)
def test_a_claim_of_the_whole_queue_runs_with_generic_plans_and_a_lanes_does_not(
    reviewer, other_reviewer, django_assert_num_queries
):
    for _ in range(2):
        HITLReview.objects.create(analysis_result=make_result())
    assert plan_cache_mode() == "force_custom_plan"  # the site's, for searches and filters
    lane = modes_of(
        lambda: services.claim_next(reviewer, lane=lambda queue: queue.filter(priority__gte=0))
    )
    assert lane == [("claim", "force_custom_plan")]
    assert modes_of(lambda: services.claim_next(other_reviewer)) == [
        ("claim", "force_generic_plan")
    ]
    assert plan_cache_mode() == "force_custom_plan"  # it ended with the claim's transaction
    # BEGIN, the reviewer's lock, the mode, the claim (held: the same review again), COMMIT.
    with django_assert_num_queries(5):
        services.claim_next(other_reviewer)


@pytest.mark.django_db(transaction=True)
def test_an_empty_queues_fallback_reads_with_custom_plans(reviewer):
    modes = modes_of(lambda: services.claim_next(reviewer))
    assert modes[0] == ("claim", "force_generic_plan")
    assert modes[1:] and set(modes[1:]) == {("fallback", "force_custom_plan")}


def test_a_claim_nested_in_another_transaction_is_planned_as_usual(reviewer):
    HITLReview.objects.create(analysis_result=make_result())
    assert modes_of(lambda: services.claim_next(reviewer)) == [("claim", "force_custom_plan")]
    assert plan_cache_mode() == "force_custom_plan"


def explained(reviewer, analyze=False) -> tuple[str, str]:
    """The plan of `reviewer`'s claim statement as a generic plan: its pending side and its
    lapsed side (claimable_split). With `analyze`, as the claim ran (rolled back after)."""
    with transaction.atomic():
        statement, params = claim_statement(reviewer)
        transaction.set_rollback(True)
    numbers = iter(range(1, len(params) + 1))
    prepared = re.sub("%s", lambda _: f"${next(numbers)}", statement)
    values = sql.SQL(", ").join(sql.Literal(p) for p in params).as_string(connection.connection)
    with transaction.atomic(), connection.cursor() as cursor:
        # Plans that read the whole table or sort it are made dear, so that a few rows cannot
        # make them the cheaper ones; they remain the only ones where the queue's indexes do
        # not serve (its statuses bound as values, the generic plan could not prove they do).
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"PREPARE claim_plan AS {prepared}")
        cursor.execute(f"EXPLAIN {'(ANALYZE) ' * analyze}EXECUTE claim_plan({values})")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE claim_plan")
        transaction.set_rollback(True)
    assert "$1" in plan  # a generic plan: its values are not in it
    head = plan.split("CTE head")[1].split("CTE taken")[0]
    assert "Sort" not in head
    pending, lapsed = head.split("Subquery Scan on lapsed")
    return pending, lapsed


def reads(side, index) -> str | None:
    """How the side's plan read `index`: "never executed", "read", or None if not at all."""
    found = re.search(rf"Index Scan using {index} on hitl_reviews .*", side)
    return found and ("never executed" if "never executed" in found[0] else "read")


def test_the_claims_generic_plan_reads_the_heads_of_the_queues_indexes_in_order(reviewer):
    for priority in (0, 5):
        HITLReview.objects.create(analysis_result=make_result(), priority=priority)
    pending, lapsed = explained(reviewer)
    assert reads(pending, "idx_hitl_pending") and not reads(pending, "idx_hitl_queue")
    assert reads(lapsed, "idx_hitl_queue") and not reads(lapsed, "idx_hitl_pending")


def test_a_claim_reads_past_no_live_claim_until_one_has_lapsed(
    reviewer, other_reviewer, django_user_model
):
    """The live claims sit at the head of idx_hitl_queue; while none has lapsed, a claim reads
    the pending reviews' index and never that one."""
    HITLReview.objects.create(analysis_result=make_result(), priority=0)
    for priority in (5, 5):
        HITLReview.objects.create(analysis_result=make_result(), priority=priority)
    services.claim_next(other_reviewer)
    services.claim_next(make_user(django_user_model, "ines", REVIEWERS))
    pending, lapsed = explained(reviewer, analyze=True)
    assert (reads(pending, "idx_hitl_pending"), reads(lapsed, "idx_hitl_queue")) == (
        "read",
        "never executed",
    )
    HITLReview.objects.filter(claimed_by=other_reviewer).update(
        claim_expires_at=timezone.now() - timedelta(seconds=1)
    )
    pending, lapsed = explained(reviewer, analyze=True)
    assert (reads(pending, "idx_hitl_pending"), reads(lapsed, "idx_hitl_queue")) == (
        "never executed",
        "read",
    )
