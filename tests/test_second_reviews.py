"""Second reviews and adjudication (docs/quality.md): a sampled share of decided first reviews
gets a blind second review that its first reviewer never takes; a disagreement goes to
adjudication, by a third reviewer or a manager, who sees both decisions."""

import json

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from mediaanalysis.webhooks.models import Event, EventType
from reviews import quality, services
from reviews.models import HITLReview, Reason, ReviewEvent, ReviewStatus, Round, RoutingRule
from tests.conftest import client_for, make_result, make_user
from tests.test_api import token_client
from tests.test_review_concurrency import run_together

FIRST_NOTES = "Speaker two is Mallory, not Bob: the first reviewer wrote this"
FIRST_FIX = {"speaker": "first-reviewer-correction-zq"}


@pytest.fixture
def third_reviewer(django_user_model):
    return make_user(django_user_model, "tara", "Reviewers")


@pytest.fixture
def every_first_review_is_second_reviewed():
    return RoutingRule.objects.create(second_review_rate=1.0)


def first_review(reviewer, approved="no", notes=FIRST_NOTES, corrections=None, **result):
    """A result's first review, claimed and decided by `reviewer`."""
    result = make_result(**result)
    services.enqueue([result.pk])
    review = services.claim_next(reviewer)
    services.decide(review.pk, reviewer, approved, notes, corrections or FIRST_FIX)
    return HITLReview.objects.get(pk=review.pk)


def second_of(review) -> HITLReview | None:
    return HITLReview.objects.filter(previous_review=review, round=Round.SECOND).first()


# Sampling


def test_sampling_is_deterministic_given_the_seed_and_close_to_its_rate(settings):
    keys = range(1, 20_001)
    picked = [k for k in keys if quality.sampled(k, "round-2", 0.1)]
    assert picked == [
        k for k in keys if quality.sampled(k, "round-2", 0.1)
    ]  # same seed, same picks
    assert 0.09 < len(picked) / len(keys) < 0.11
    settings.SAMPLING_SEED = "another seed"
    reseeded = [k for k in keys if quality.sampled(k, "round-2", 0.1)]
    assert reseeded != picked and 0.09 < len(reseeded) / len(keys) < 0.11
    assert not any(quality.sampled(k, "round-2", 0) for k in keys)
    assert all(quality.sampled(k, "round-2", 1) for k in keys)


@pytest.mark.django_db
def test_a_sampled_first_decision_opens_a_blind_second_review_saying_why(
    reviewer, every_first_review_is_second_reviewed
):
    first = first_review(reviewer)
    second = second_of(first)
    assert second is not None and second.status == ReviewStatus.PENDING
    assert (second.round, second.reason) == (Round.SECOND, Reason.SECOND_REVIEW)
    assert second.reason_details == {
        "of_review": first.pk,
        "rate": 1.0,
        "rule": every_first_review_is_second_reviewed.pk,
    }
    assert second.priority == first.priority
    enqueued = ReviewEvent.objects.get(review=second, kind=ReviewEvent.Kind.ENQUEUED)
    assert enqueued.actor is None and enqueued.details["reason"] == Reason.SECOND_REVIEW


@pytest.mark.django_db
def test_only_the_sampled_share_of_decisions_is_second_reviewed(
    reviewer, django_user_model, settings
):
    settings.REVIEW_SECOND_REVIEW_RATE = 0.3  # no rule: the setting is the default
    firsts = [first_review(reviewer, approved="yes") for _ in range(40)]
    reviewed_again = {r.analysis_result_id for r in firsts if second_of(r)}
    expected = {
        r.analysis_result_id
        for r in firsts
        if quality.sampled(r.analysis_result_id, "round-2", 0.3)
    }
    assert reviewed_again == expected and 0 < len(expected) < 40


@pytest.mark.django_db
def test_a_rule_of_zero_sends_nothing_to_second_review(reviewer, settings):
    settings.REVIEW_SECOND_REVIEW_RATE = 1.0
    RoutingRule.objects.create(analysis_type="audio", second_review_rate=0)
    assert second_of(first_review(reviewer)) is None
    assert second_of(first_review(reviewer, analysis_type="video")) is not None


@pytest.mark.django_db
def test_the_first_reviewer_never_gets_the_second_review(
    reviewer, other_reviewer, every_first_review_is_second_reviewed
):
    first = first_review(reviewer)
    second = second_of(first)
    assert services.claim_next(reviewer) is None  # the only item is their own second review
    with pytest.raises(services.ClaimLost, match="earlier round"):
        services.claim(second.pk, reviewer)
    assert services.claim_next(other_reviewer).pk == second.pk


@pytest.mark.django_db
def test_the_first_reviewer_skips_their_second_reviews_and_takes_the_next_item(
    reviewer, other_reviewer, every_first_review_is_second_reviewed
):
    first = first_review(reviewer)
    later = make_result()
    services.enqueue([later.pk], priority=-5)  # behind the second review in the queue
    assert services.claim_next(reviewer).analysis_result_id == later.pk
    assert second_of(first).status == ReviewStatus.PENDING


@pytest.mark.django_db
def test_an_admin_cannot_reassign_a_second_review_to_its_first_reviewer(
    reviewer, other_reviewer, admin_user, every_first_review_is_second_reviewed
):
    second = second_of(first_review(reviewer))
    assert services.reassign([second.pk], admin_user, reviewer) == 0
    assert services.reassign([second.pk], admin_user, other_reviewer) == 1


# Adjudication


@pytest.mark.django_db
def test_a_second_review_that_agrees_opens_nothing(
    reviewer, other_reviewer, every_first_review_is_second_reviewed
):
    second = second_of(first_review(reviewer, approved="no"))
    services.claim(second.pk, other_reviewer)
    services.decide(second.pk, other_reviewer, "no", "Agreed.", None)
    assert not HITLReview.objects.filter(round=Round.ADJUDICATION).exists()
    assert HITLReview.objects.open().count() == 0


@pytest.mark.django_db
def test_a_disagreement_goes_to_adjudication_by_neither_reviewer(
    reviewer, other_reviewer, third_reviewer, every_first_review_is_second_reviewed
):
    second = second_of(first_review(reviewer, approved="no"))
    services.claim(second.pk, other_reviewer)
    services.decide(second.pk, other_reviewer, "yes", "Fine by me.", None)
    adjudication = HITLReview.objects.get(round=Round.ADJUDICATION)
    assert adjudication.previous_review_id == second.pk
    # Each follow-up keeps the decision it follows up, for agreement to be read from one row.
    assert (second.previous_decision, adjudication.previous_decision) == ("no", "yes")
    assert adjudication.reason == Reason.ADJUDICATION
    assert adjudication.reason_details == {"of_review": second.pk}
    assert services.claim_next(reviewer) is None
    assert services.claim_next(other_reviewer) is None
    assert services.claim_next(third_reviewer).pk == adjudication.pk
    # The adjudication's decision is final: it sets nothing else off.
    services.decide(adjudication.pk, third_reviewer, "needs_changes", "", None)
    assert HITLReview.objects.open().count() == 0


@pytest.mark.django_db
def test_a_manager_adjudicates_from_the_review_page_and_sees_both_decisions(
    reviewer, other_reviewer, manager, manager_client, every_first_review_is_second_reviewed
):
    second = second_of(first_review(reviewer, approved="no"))
    services.claim(second.pk, other_reviewer)
    services.decide(second.pk, other_reviewer, "yes", "The second reviewer's view", None)
    adjudication = HITLReview.objects.get(round=Round.ADJUDICATION)

    page = manager_client.get(adjudication.get_absolute_url()).text
    assert FIRST_NOTES in page and "The second reviewer&#x27;s view" in page
    assert FIRST_FIX["speaker"] in page  # the first reviewer's correction, as a diff row
    assert "Claim this review" in page
    claimed = manager_client.post(reverse("review-claim", args=[adjudication.pk]))
    assert claimed.status_code == 302
    decided = manager_client.post(
        reverse("review-decide", args=[adjudication.pk]),
        {"approved": "no", "reviewer_notes": "Adjudicated: no."},
    )
    # Back to the review decided, marked so that drafts.js drops the browser's copy of the draft.
    assert decided.status_code == 302
    assert decided["Location"] == f"{adjudication.get_absolute_url()}?decided={adjudication.pk}"
    adjudication.refresh_from_db()
    assert (adjudication.approved, adjudication.reviewed_by) == ("no", manager)


@pytest.mark.django_db
def test_a_manager_decides_nothing_but_adjudications(manager, manager_client, reviewer):
    result = make_result()
    services.enqueue([result.pk])
    review = HITLReview.objects.get()
    assert manager_client.post(reverse("review-claim", args=[review.pk])).status_code == 403
    with pytest.raises(services.ClaimLost, match="adjudications only"):
        services.claim(review.pk, manager)


# Blindness


@pytest.fixture
def blind_pair(reviewer, other_reviewer, every_first_review_is_second_reviewed):
    first = first_review(reviewer, approved="needs_changes")
    second = services.claim_next(other_reviewer)
    assert second.previous_review_id == first.pk
    return first, second


def assert_blind(text: str) -> None:
    """Nothing of the first decision (needs changes, these notes, this correction)."""
    assert FIRST_NOTES not in text
    assert FIRST_FIX["speaker"] not in text
    for trace in (
        "badge needs_changes",
        "(needs_changes)",
        "Needs changes</span>",
        ': "needs_changes"',
    ):
        assert trace not in text


@pytest.mark.django_db
def test_the_second_reviewer_sees_nothing_of_the_first_decision(
    blind_pair, other_reviewer, reviewer
):
    first, second = blind_pair
    client = client_for(other_reviewer)
    page = client.get(second.get_absolute_url())
    assert page.status_code == 200 and "Second review: decide on your own" in page.text
    assert_blind(page.text)
    # ...nor on the first review's own page, the result's page or the queue.
    for url in (
        first.get_absolute_url(),
        reverse("result-detail", args=[first.analysis_result_id]),
        reverse("review-queue"),
        reverse("result-list") + "?review_state=needs_changes",
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert_blind(response.text)
    # ...nor in what the page's heartbeat answers, nor in the review's API answer.
    beat = client.post(reverse("review-heartbeat", args=[second.pk]), {"reviewer_notes": "x"})
    assert_blind(beat.text)
    answer = token_client("read").get(f"/api/reviews/{second.pk}")
    assert answer.status_code == 200 and answer.json()["round"] == Round.SECOND
    assert_blind(json.dumps(answer.json()))
    assert second.previous_decision and "previous_decision" not in answer.json()


@pytest.mark.django_db
def test_the_first_reviewer_and_managers_still_see_the_first_decision(
    blind_pair, reviewer, manager_client
):
    first, _ = blind_pair
    for client in (client_for(reviewer), manager_client):
        page = client.get(reverse("result-detail", args=[first.analysis_result_id])).text
        assert FIRST_NOTES in page


@pytest.mark.django_db
def test_the_first_decision_shows_again_once_the_second_review_is_decided(
    blind_pair, other_reviewer
):
    first, second = blind_pair
    services.decide(second.pk, other_reviewer, "needs_changes", "Same.", None)
    page = client_for(other_reviewer).get(first.get_absolute_url()).text
    assert FIRST_NOTES in page


# Webhooks and the decision's cost


@pytest.mark.django_db
def test_the_pipeline_learns_each_round_and_why_a_review_opened(blind_pair, other_reviewer):
    _, second = blind_pair
    opened = Event.objects.filter(type=EventType.REVIEW_ENQUEUED, data__review_id=second.pk).get()
    assert (opened.data["round"], opened.data["reason"]) == (2, "second_review")
    services.decide(second.pk, other_reviewer, "yes", "", None)
    decided = Event.objects.filter(type=EventType.REVIEW_DECIDED).order_by("pk")
    assert [e.data["round"] for e in decided] == [1, 2]


@pytest.mark.django_db
def test_a_decision_that_sets_nothing_off_costs_no_statement_more(
    reviewer, django_assert_num_queries
):
    """decide(): one read before its transaction (as before: it now also reads the rule's rate
    and the earlier decision); in the transaction the UPDATE, the draft's DELETE, the audit
    INSERT, the webhook INSERT and its dispatch task's, plus the savepoint pair of the atomic
    block."""
    result = make_result()
    services.enqueue([result.pk])
    review = services.claim_next(reviewer)
    with django_assert_num_queries(8):
        services.decide(review.pk, reviewer, "yes", "", None)


@pytest.mark.django_db
def test_a_decision_that_opens_a_second_review_costs_six_statements_more(
    reviewer, django_assert_num_queries, every_first_review_is_second_reviewed
):
    result = make_result()
    services.enqueue([result.pk])
    review = services.claim_next(reviewer)
    # + a savepoint and its release, the review's INSERT, its audit INSERT, its webhook INSERT
    # and its dispatch task's
    with django_assert_num_queries(8 + 6):
        services.decide(review.pk, reviewer, "yes", "", None)
    assert second_of(review) is not None


# The database's rule: one open review per result and round


@pytest.mark.django_db
def test_a_result_may_have_one_open_review_in_each_round_and_no_more():
    result = make_result()
    HITLReview.objects.create(analysis_result=result)
    HITLReview.objects.create(analysis_result=result, round=Round.SECOND)
    with pytest.raises(IntegrityError), transaction.atomic():
        HITLReview.objects.create(analysis_result=result, round=Round.SECOND)


@pytest.mark.django_db
def test_reviews_written_without_a_round_are_first_reviews():
    """Rows from before rounds existed, or written by plain SQL against the seed's schema."""
    result = make_result()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO hitl_reviews (analysis_result_id, status, priority, created_at, updated_at)"
            " VALUES (%s, 'pending', 0, %s, %s)",
            [result.pk, result.created_at, result.created_at],
        )
    review = HITLReview.objects.get(analysis_result=result)
    assert (review.round, review.reason) == (Round.FIRST, Reason.UNRECORDED)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_enqueues_open_one_review_per_result_and_round():
    for _attempt in range(10):
        result = make_result()
        outcomes = run_together(*[lambda r=result: services.enqueue([r.pk])] * 8)
        assert sorted(outcomes) == [0] * 7 + [1]

        def open_second(r=result):
            with transaction.atomic():
                return HITLReview.objects.create(analysis_result=r, round=Round.SECOND).pk

        outcomes = run_together(*[open_second] * 8)
        assert sum(isinstance(o, int) for o in outcomes) == 1
        assert sum(isinstance(o, IntegrityError) for o in outcomes) == 7
        assert HITLReview.objects.open().filter(analysis_result=result).count() == 2
