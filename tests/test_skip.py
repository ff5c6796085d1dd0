"""Skip (PRODUCT.md section 3): it gives the held review back and claims the next in the lane,
recorded in the history; the skipped review does not come straight back to the same reviewer."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from dashboard import analytics
from reviews import services
from reviews.models import HITLReview, ReviewEvent, ReviewStatus
from tests.conftest import make_result

pytestmark = pytest.mark.django_db

Kind = ReviewEvent.Kind


def review(analysis_type="audio", priority=0) -> HITLReview:
    return HITLReview.objects.create(
        analysis_result=make_result(analysis_type=analysis_type), priority=priority
    )


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    return time_machine


def test_skip_releases_the_review_claims_the_next_in_the_lane_and_is_recorded(
    reviewer, reviewer_client
):
    first = review("video", priority=3)
    review("audio", priority=2)  # outside the lane
    second = review("video", priority=1)
    reviewer_client.get(reverse("review-queue"), {"analysis_type": "video"})
    services.claim(first.pk, reviewer)
    response = reviewer_client.post(reverse("review-skip", args=[first.pk]))
    assert response["Location"] == second.get_absolute_url()
    first.refresh_from_db()
    assert (first.status, first.claimed_by) == (ReviewStatus.PENDING, None)
    assert HITLReview.objects.get(pk=second.pk).claimed_by == reviewer
    kinds = list(
        ReviewEvent.objects.filter(actor=reviewer).order_by("id").values_list("review_id", "kind")
    )
    assert kinds == [(first.pk, Kind.CLAIMED), (first.pk, Kind.SKIPPED), (second.pk, Kind.CLAIMED)]


def test_a_skipped_review_does_not_come_straight_back_to_the_same_reviewer(
    reviewer, other_reviewer, clock
):
    only = review()
    services.claim(only.pk, reviewer)
    assert services.skip(only.pk, reviewer) is None  # nothing else to take
    assert services.claim_next(reviewer) is None
    clock.shift(timedelta(seconds=settings.REVIEW_SKIP_SECONDS - 1))
    assert services.claim_next(reviewer) is None
    clock.shift(timedelta(seconds=2))
    assert services.claim_next(reviewer).pk == only.pk


def test_another_reviewer_may_take_a_skipped_review_at_once(reviewer, other_reviewer):
    only = review()
    services.claim(only.pk, reviewer)
    services.skip(only.pk, reviewer)
    assert services.claim_next(other_reviewer).pk == only.pk


def test_a_reviewer_may_still_open_and_claim_a_review_they_skipped(reviewer):
    only = review()
    services.claim(only.pk, reviewer)
    services.skip(only.pk, reviewer)
    assert services.claim(only.pk, reviewer).claimed_by == reviewer


def test_skip_without_a_claim_is_refused_and_records_nothing(reviewer, reviewer_client):
    pending = review()
    response = reviewer_client.post(reverse("review-skip", args=[pending.pk]), follow=True)
    assert "Not skipped: You do not hold a claim on this review." in response.text
    assert not ReviewEvent.objects.filter(kind=Kind.SKIPPED).exists()
    assert reviewer_client.post(reverse("review-skip", args=[999_999])).status_code == 404


def test_the_review_page_offers_skip_with_its_key(reviewer, reviewer_client):
    held = review()
    services.claim(held.pk, reviewer)
    page = reviewer_client.get(held.get_absolute_url()).text
    assert f'action="{reverse("review-skip", args=[held.pk])}"' in page
    assert 'data-shortcut="s"' in page


def test_skips_are_counted_in_the_reviewer_analytics(reviewer):
    for _ in range(2):
        review()
    first = services.claim_next(reviewer)
    second = services.skip(first.pk, reviewer)
    services.decide(second.pk, reviewer, "yes", "", None)
    start = timezone.now() - timedelta(hours=1)
    (person,) = analytics.work(HITLReview.all_objects.all(), start)["people"]
    assert (person["claims"], person["skips"], person["skip_rate"]) == (2, 1, 0.5)
