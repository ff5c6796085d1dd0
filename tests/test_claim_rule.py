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


def test_claim_next_never_hands_a_reviewer_a_later_round_of_their_own_decision(
    django_user_model,
):
    """Second reviews and adjudications of results a reviewer decided are skipped for them,
    by the one-statement claim on PostgreSQL as by the ORM's on SQLite."""
    people = [make_user(django_user_model, f"rater-{n}", "Reviewers") for n in range(3)]
    for n, (priority, age) in enumerate(itertools.product([-5, 0, 7], [3, 90])):
        decider, other = people[n % 3], people[(n + 1) % 3]
        result = make_result()
        decided = {
            "status": ReviewStatus.COMPLETED,
            "approved": "yes",
            "reviewed_by": decider,
            "reviewed_at": ago(minutes=age + 1),
        }
        first = HITLReview.objects.create(analysis_result=result, **decided)
        second = HITLReview.objects.create(
            analysis_result=result,
            round=2,
            previous_review=first,
            priority=priority,
            created_at=ago(minutes=age),
        )
        if n % 2:  # the second review was decided too, differently, by the next reviewer
            HITLReview.objects.filter(pk=second.pk).update(
                **{**decided, "reviewed_by": other, "approved": "no"}
            )
            HITLReview.objects.create(
                analysis_result=result,
                round=3,
                previous_review=second,
                priority=priority + 1,
                created_at=ago(minutes=age),
            )
        HITLReview.objects.create(analysis_result=make_result(), priority=priority - 1)

    open_before = HITLReview.objects.open().count()
    taken = []
    for turn in itertools.count():
        person = people[turn % 3]
        now = timezone.now()
        expected = HITLReview.objects.claimable(now).for_reviewer(person).first()
        review = services.claim_next(person)
        assert (review and review.pk) == (expected and expected.pk)
        if review is None:
            if all(
                HITLReview.objects.claimable(now).for_reviewer(p).first() is None for p in people
            ):
                break
            continue
        decided_it = HITLReview.objects.filter(
            analysis_result=review.analysis_result_id, reviewed_by=person
        ).exists()
        assert review.round == 1 or not decided_it
        services.decide(review.pk, person, "yes", "", None)
        taken.append(review.pk)
    # Every open review went to someone allowed to take it, once.
    assert len(taken) == len(set(taken)) == open_before == 12
