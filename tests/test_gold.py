"""Gold items (docs/quality.md): an admin marks decided results as gold; gold checks of them
are mixed into the reviewers' work at REVIEW_GOLD_RATE, look like any second review, and score
each reviewer's accuracy on the dashboard, which only managers see."""

import json
import re

import pytest
from django.urls import reverse

from dashboard.stats import Scope, figures
from mediaanalysis.webhooks.models import Event, EventType
from reviews import services
from reviews.models import GoldItem, HITLReview, Reason, Round
from tests.conftest import client_for, make_result
from tests.test_api import token_client

pytestmark = pytest.mark.django_db

GOLD = re.compile(r"gold", re.IGNORECASE)


def decided(reviewer, approved="yes", **result):
    result = make_result(**result)
    services.enqueue([result.pk])
    review = services.claim_next(reviewer)
    services.decide(review.pk, reviewer, approved, "", None)
    return result


@pytest.fixture
def gold_items(reviewer, admin_user, settings):
    """Two results decided by rita, made gold by an admin: one approved, one rejected."""
    settings.REVIEW_GOLD_RATE = 0
    results = [decided(reviewer, "yes"), decided(reviewer, "no")]
    outcome = services.mark_gold([r.pk for r in results], admin_user)
    assert (outcome.marked, outcome.undecided) == (2, [])
    return list(GoldItem.objects.order_by("pk"))


def mix_in(settings, count=1):
    """Open `count` ordinary reviews with every one of them bringing a gold check along."""
    settings.REVIEW_GOLD_RATE = 1.0
    services.enqueue([make_result().pk for _ in range(count)])
    settings.REVIEW_GOLD_RATE = 0


def test_an_admin_marks_decided_results_as_gold_with_their_latest_decision(
    gold_items, admin_client
):
    assert [g.expected_decision for g in gold_items] == ["yes", "no"]
    never_reviewed = make_result()
    response = admin_client.post(
        reverse("admin:mediaanalysis_analysisresult_changelist"),
        {"action": "mark_as_gold", "_selected_action": [never_reviewed.pk]},
        follow=True,
    )
    assert "never decided" in response.text
    assert not GoldItem.objects.filter(analysis_result=never_reviewed).exists()


def test_gold_checks_are_mixed_in_at_the_rate_least_recently_mixed_first(
    gold_items, settings, other_reviewer
):
    mix_in(settings, count=1)
    first = HITLReview.objects.get(gold_item__isnull=False)
    assert first.gold_item == gold_items[0]  # never mixed in yet, the oldest first
    assert (first.round, first.reason) == (Round.SECOND, Reason.GOLD)
    mix_in(settings, count=3)  # one gold item left without an open check: one more check
    assert HITLReview.objects.filter(gold_item__isnull=False).count() == 2
    settings.REVIEW_GOLD_RATE = 0
    services.enqueue([make_result().pk])
    assert HITLReview.objects.filter(gold_item__isnull=False).count() == 2


def test_no_gold_is_mixed_in_without_gold_items(settings, reviewer):
    settings.REVIEW_GOLD_RATE = 1.0
    services.enqueue([make_result().pk for _ in range(5)])
    assert HITLReview.objects.count() == 5


def test_the_reviewer_who_decided_a_gold_item_never_gets_its_check(
    gold_items, settings, reviewer, other_reviewer
):
    mix_in(settings)
    check = HITLReview.objects.get(gold_item__isnull=False)
    while review := services.claim_next(reviewer):
        assert review.pk != check.pk  # rita decided the gold item herself
        services.decide(review.pk, reviewer, "yes", "", None)
    assert services.claim_next(other_reviewer).pk == check.pk


def test_a_gold_check_looks_like_any_second_review_to_its_reviewer(
    gold_items, settings, other_reviewer
):
    mix_in(settings)
    check = HITLReview.objects.get(gold_item__isnull=False)
    client = client_for(other_reviewer)
    while (review := services.claim_next(other_reviewer)).pk != check.pk:
        services.decide(review.pk, other_reviewer, "yes", "", None)
    pages = [
        client.get(check.get_absolute_url()),
        client.get(reverse("review-queue")),
        client.get(reverse("result-detail", args=[check.analysis_result_id])),
        client.get(reverse("result-list")),
        client.post(reverse("review-heartbeat", args=[check.pk])),
    ]
    for page in pages:
        assert page.status_code == 200
        assert not GOLD.search(page.text)
    assert "Second review: decide on your own" in pages[0].text
    answer = token_client("read").get(f"/api/reviews/{check.pk}").json()
    assert answer["reason"] == Reason.SECOND_REVIEW and answer["round"] == 2
    assert not GOLD.search(json.dumps(answer))
    assert not GOLD.search(token_client("read").get("/api/openapi.json").text)


def test_a_gold_decision_is_scored_sets_nothing_off_and_tells_the_pipeline_nothing(
    gold_items, settings, other_reviewer
):
    mix_in(settings)
    check = HITLReview.objects.get(gold_item__isnull=False)
    while (review := services.claim_next(other_reviewer)).pk != check.pk:
        services.decide(review.pk, other_reviewer, "yes", "", None)
    events_before = Event.objects.count()
    services.decide(check.pk, other_reviewer, "no", "", None)  # the known answer is "yes"
    assert Event.objects.count() == events_before
    assert not Event.objects.filter(
        type=EventType.REVIEW_ENQUEUED, data__review_id=check.pk
    ).exists()
    assert not HITLReview.objects.filter(round=Round.ADJUDICATION).exists()


def test_each_reviewers_gold_accuracy_is_counted_for_managers(
    gold_items, settings, other_reviewer, manager_client
):
    mix_in(settings, count=2)  # a check of each gold item: the answers are "yes" and "no"
    while review := services.claim_next(other_reviewer):
        services.decide(review.pk, other_reviewer, "yes", "", None)  # omar approves everything
    gold = figures(Scope("24h"))["quality"]["gold"]
    assert gold == [{"reviewer": "omar", "n": 2, "correct": 1, "accuracy": 0.5}]
    page = manager_client.get("/dashboard/?refresh=1").text
    assert "Gold checks: accuracy by reviewer" in page
    assert "quality=gold_checked&amp;reviewer=omar" in page
    assert "quality=gold_missed&amp;reviewer=omar" in page


def test_the_gold_filter_lists_gold_items_for_managers_only(
    gold_items, manager_client, reviewer_client
):
    other = make_result()
    managers = manager_client.get(reverse("result-list") + "?quality=gold").context["rows"]
    assert {r.pk for r in managers} == {g.analysis_result_id for g in gold_items}
    reviewers = reviewer_client.get(reverse("result-list") + "?quality=gold")
    assert other.pk in {r.pk for r in reviewers.context["rows"]}  # ignored for them
    assert "quality" not in reviewers.context["form"].fields
