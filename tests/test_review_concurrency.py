"""The claim under real concurrency, on PostgreSQL: real threads, each with its own connection,
against committed rows (`transaction=True`; with the plain `db` fixture the threads would not see
the test's rows and every race would pass untested).

Races are lined up with a barrier and repeated, so that each one runs many times."""

import contextlib
import threading
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone

from mediaanalysis.pipeline.models import AnalysisResult
from mediaanalysis.roles import REVIEWERS
from reviews import services
from reviews.models import HITLReview, ReviewDraft, ReviewEvent, ReviewStatus
from tests.conftest import make_job

Kind = ReviewEvent.Kind
CLAIMS = [Kind.CLAIMED, Kind.TAKEN_OVER]
ROUNDS = 30


def make_reviewers(django_user_model, count, prefix="reviewer") -> list:
    group = Group.objects.get(name=REVIEWERS)
    users = [django_user_model.objects.create(username=f"{prefix}-{n:02d}") for n in range(count)]
    for user in users:
        user.groups.add(group)
    return users


def make_pending_reviews(count) -> list[int]:
    """`count` pending reviews over five priorities, as the queue holds them."""
    job = make_job(status="completed", progress=1.0)
    results = AnalysisResult.objects.bulk_create(
        AnalysisResult(job=job, analysis_type="audio", confidence_score=0.9) for _ in range(count)
    )
    ids = [r.pk for r in results]
    for priority in range(5):
        services.enqueue(ids[priority::5], priority=priority)
    return list(HITLReview.objects.filter(analysis_result_id__in=ids).values_list("pk", flat=True))


def run_together(*jobs) -> list:
    """Run each job in its own thread, all released at once; return what each returned or raised.

    Each thread connects before the barrier, so the racers meet at the database, and gives its
    connection back to the pool when done.
    """
    barrier = threading.Barrier(len(jobs))
    outcomes = [None] * len(jobs)

    def run(index, job):
        try:
            connection.ensure_connection()
            barrier.wait()
            outcomes[index] = job()
        except Exception as exc:  # reported to the test, which decides what is expected
            outcomes[index] = exc
        finally:
            connection.close()

    # The test's own connection goes back to the pool too, so the racers never wait for one.
    connection.close()
    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


class RacerClocks:
    """Each racing thread reads its own `now`: an instant it was given, or the real clock.

    time-machine moves the clock of the whole process; a race across an expiry needs one racer
    just before it and another just after it at the same moment, which only a clock per thread
    gives.
    """

    def __init__(self):
        self._local = threading.local()

    def set(self, instant) -> None:
        self._local.instant = instant

    def now(self):
        return getattr(self._local, "instant", None) or timezone.now()


@pytest.fixture
def clocks(monkeypatch):
    clocks = RacerClocks()
    monkeypatch.setattr(services, "timezone", clocks)
    return clocks


def claim_expiring_now(holder):
    """A fresh review, the only one in the queue, claimed by `holder`; return its id and the
    claim's expiry, moved to the present."""
    (review_id,) = make_pending_reviews(1)
    services.claim(review_id, holder)
    expiry = timezone.now()
    HITLReview.objects.filter(pk=review_id).update(claim_expires_at=expiry)
    return review_id, expiry


def assert_no_errors(outcomes, allowed=(services.ClaimLost,)):
    unexpected = [o for o in outcomes if isinstance(o, Exception) and not isinstance(o, allowed)]
    assert unexpected == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_reviewers_empty_a_queue_of_two_hundred_claiming_each_review_exactly_once(
    django_user_model,
):
    reviewers = make_reviewers(django_user_model, 20)
    review_ids = make_pending_reviews(200)
    assert len(review_ids) == 200

    def work(user):
        def claim_and_decide_until_empty():
            mine = []
            while (review := services.claim_next(user)) is not None:
                mine.append(review.pk)
                services.decide(review.pk, user, "yes", f"{user.username} on #{review.pk}", None)
            return mine

        return claim_and_decide_until_empty

    outcomes = run_together(*[work(user) for user in reviewers])

    assert_no_errors(outcomes, allowed=())
    claimed = [pk for mine in outcomes for pk in mine]
    assert len(claimed) == 200
    assert set(claimed) == set(review_ids)  # every review once: none twice, none skipped
    claimant = {pk: user for user, mine in zip(reviewers, outcomes, strict=True) for pk in mine}
    assert sum(1 for mine in outcomes if mine) > 1  # the reviewers really worked side by side

    reviews = HITLReview.objects.filter(pk__in=review_ids)
    assert {r.status for r in reviews} == {ReviewStatus.COMPLETED}
    assert all(r.reviewed_by_id == claimant[r.pk].pk for r in reviews)
    assert all(r.reviewer_notes == f"{claimant[r.pk].username} on #{r.pk}" for r in reviews)

    events = defaultdict(list)
    for review_id, kind, actor_id in ReviewEvent.objects.order_by("at", "id").values_list(
        "review_id", "kind", "actor_id"
    ):
        events[review_id].append((kind, actor_id))
    double_claims = [pk for pk, seen in events.items() if sum(k in CLAIMS for k, _ in seen) > 1]
    assert double_claims == []
    for pk in review_ids:
        who = claimant[pk].pk
        assert events[pk] == [(Kind.ENQUEUED, None), (Kind.CLAIMED, who), (Kind.DECIDED, who)]
    assert not ReviewEvent.objects.filter(kind__in=[Kind.TAKEN_OVER, Kind.REFUSED]).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_claim_racing_an_expiry_takeover_has_exactly_one_winner(django_user_model, clocks):
    holder, taker, other_taker = make_reviewers(django_user_model, 3)
    racers = [holder, taker, other_taker]
    winners = Counter()
    for _round in range(ROUNDS):
        review_id, expiry = claim_expiring_now(holder)
        before = ReviewEvent.objects.filter(review_id=review_id).count()

        def holder_renews(review_id=review_id, expiry=expiry):
            clocks.set(expiry - timedelta(seconds=1))  # the claim has a second left
            return services.heartbeat(review_id, holder).pk

        def taker_claims_next(expiry=expiry):
            clocks.set(expiry + timedelta(seconds=1))  # the claim expired a second ago
            review = services.claim_next(taker)
            return None if review is None else review.pk

        def other_taker_claims_it(review_id=review_id, expiry=expiry):
            clocks.set(expiry + timedelta(seconds=1))
            return services.claim(review_id, other_taker).pk

        outcomes = run_together(holder_renews, taker_claims_next, other_taker_claims_it)

        assert_no_errors(outcomes)
        won = [user for user, outcome in zip(racers, outcomes, strict=True) if outcome == review_id]
        assert len(won) == 1
        (winner,) = won
        winners[winner.username] += 1
        review = HITLReview.objects.get(pk=review_id)
        assert review.claimed_by_id == winner.pk
        assert review.claim_expires_at > expiry
        new_events = list(
            ReviewEvent.objects.filter(review_id=review_id)
            .order_by("id")
            .values_list("kind", "actor_id")[before:]
        )
        expected = Kind.RENEWED if winner == holder else Kind.TAKEN_OVER
        assert new_events == [(expected, winner.pk)]
        # The winner finishes, so that every racer starts the next round holding nothing.
        clocks.set(expiry)
        services.decide(review_id, winner, "yes", "", None)
    assert sum(winners.values()) == ROUNDS
    print(f"claim vs takeover, {ROUNDS} rounds, won by: {dict(winners)}")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_decision_racing_a_takeover_accepts_exactly_one_and_keeps_the_others_notes(
    django_user_model, clocks
):
    holder, taker = make_reviewers(django_user_model, 2)
    accepted_from = Counter()
    for n in range(ROUNDS):
        review_id, expiry = claim_expiring_now(holder)
        notes = {holder: f"holder's notes, round {n}", taker: f"taker's notes, round {n}"}

        def holder_decides(review_id=review_id, expiry=expiry, notes=notes):
            clocks.set(expiry - timedelta(seconds=1))  # submitted with a second left
            services.decide(
                review_id, holder, "yes", notes[holder], {"n": 1}, corrections_text='{"n": 1}'
            )
            return holder

        def taker_takes_over_and_decides(review_id=review_id, expiry=expiry, notes=notes):
            clocks.set(expiry + timedelta(seconds=1))  # the claim expired a second ago
            # Not taken over: the decision below is then refused, and its notes kept.
            with contextlib.suppress(services.ClaimLost):
                services.claim(review_id, taker)
            services.decide(review_id, taker, "no", notes[taker], None)
            return taker

        outcomes = run_together(holder_decides, taker_takes_over_and_decides)

        assert_no_errors(outcomes)
        accepted = [o for o in outcomes if not isinstance(o, Exception)]
        assert len(accepted) == 1
        (winner,) = accepted
        (loser,) = {holder, taker} - {winner}
        accepted_from[winner.username] += 1
        review = HITLReview.objects.get(pk=review_id)
        assert review.status == ReviewStatus.COMPLETED
        assert (review.reviewed_by_id, review.reviewer_notes) == (winner.pk, notes[winner])
        assert ReviewDraft.objects.get(review_id=review_id, user=loser).notes == notes[loser]
        assert not ReviewDraft.objects.filter(review_id=review_id, user=winner).exists()
        kinds = Counter(
            ReviewEvent.objects.filter(review_id=review_id).values_list("kind", flat=True)
        )
        assert (kinds[Kind.DECIDED], kinds[Kind.REFUSED]) == (1, 1)
    assert sum(accepted_from.values()) == ROUNDS
    print(f"decision vs takeover, {ROUNDS} rounds, accepted from: {dict(accepted_from)}")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_release_expired_claims_is_safe_while_reviewers_take_over_expired_claims(
    django_user_model,
):
    (gone,) = make_reviewers(django_user_model, 1, prefix="gone")
    takers = make_reviewers(django_user_model, 10)
    for _round in range(10):
        review_ids = make_pending_reviews(20)
        long_ago = timezone.now() - timedelta(hours=1)
        # A reviewer who left holds twenty expired claims.
        HITLReview.objects.filter(pk__in=review_ids).update(
            status=ReviewStatus.CLAIMED,
            claimed_by=gone,
            claimed_at=long_ago,
            claim_expires_at=long_ago + timedelta(minutes=15),
        )
        claimers = [lambda user=user: services.claim_next(user) for user in takers]

        released, *claimed = run_together(services.release_expired_claims, *claimers)

        assert_no_errors([released, *claimed], allowed=())
        taken = {review.pk: user for review, user in zip(claimed, takers, strict=True)}
        assert len(taken) == len(takers)  # ten reviewers, ten different reviews
        expired = set(
            ReviewEvent.objects.filter(review_id__in=review_ids, kind=Kind.EXPIRED).values_list(
                "review_id", flat=True
            )
        )
        assert released == len(expired)
        for review in HITLReview.objects.filter(pk__in=review_ids):
            if review.pk in taken:
                # a fresh claim is never undone by the tidy-up, whichever came first
                assert review.is_held_by(taken[review.pk])
            else:
                assert review.pk in expired
                assert (review.status, review.claimed_by_id) == (ReviewStatus.PENDING, None)
        for pk, user in taken.items():
            services.decide(pk, user, "yes", "", None)
        HITLReview.objects.filter(pk__in=review_ids).open().update(deleted_at=timezone.now())
