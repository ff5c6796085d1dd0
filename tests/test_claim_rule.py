"""Claim next takes exactly the head of `claimable(now)`, on every backend.

On PostgreSQL claim next is one SQL statement; its head is compiled from `claimable()`, and this
test holds the two together over a mix of priorities, ages, states, expiries and deletions.
"""

import itertools

import pytest
from django.utils import timezone

from reviews import services
from reviews.models import HITLReview, ReviewStatus
from tests.conftest import ago, make_result, make_user

pytestmark = pytest.mark.django_db


def _review(django_user_model, n, status, priority, age_minutes, expired=False, deleted=False):
    review = HITLReview.objects.create(
        analysis_result=make_result(), priority=priority, created_at=ago(minutes=age_minutes)
    )
    fields = {}
    if status != ReviewStatus.PENDING:
        holder = make_user(django_user_model, f"holder-{n}", "Reviewers")
        fields = {
            "status": status,
            "claimed_by": holder,
            "claimed_at": ago(minutes=30),
            "claim_expires_at": ago(minutes=1) if expired else ago(minutes=-30),
        }
        if status == ReviewStatus.COMPLETED:
            fields |= {"approved": "yes", "claim_expires_at": None}
    if deleted:
        fields["deleted_at"] = timezone.now()
    HITLReview.all_objects.filter(pk=review.pk).update(**fields)
    return review


def test_claim_next_takes_the_head_of_claimable_every_time(django_user_model):
    states = [
        (ReviewStatus.PENDING, False),
        (ReviewStatus.CLAIMED, False),
        (ReviewStatus.CLAIMED, True),
        (ReviewStatus.REVIEWING, False),
        (ReviewStatus.REVIEWING, True),
        (ReviewStatus.COMPLETED, False),
    ]
    combos = itertools.product(states, [-5, 0, 7], [3, 90], [False, True])
    for n, ((status, expired), priority, age, deleted) in enumerate(combos):
        _review(django_user_model, n, status, priority, age, expired, deleted)

    taken = []
    for round_ in itertools.count():
        expected = HITLReview.objects.claimable(timezone.now()).first()
        reviewer = make_user(django_user_model, f"claimer-{round_}", "Reviewers")
        review = services.claim_next(reviewer)
        if expected is None:
            assert review is None
            break
        assert review is not None and review.pk == expected.pk
        assert review.claimed_by_id == reviewer.pk
        taken.append(review.pk)

    # Every pending review and every expired claim of a live row was handed out once.
    assert len(taken) == len(set(taken)) == 3 * 2 * 3
