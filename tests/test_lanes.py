"""Lanes (PRODUCT.md section 3): the queue's filters, chosen from the data, kept in the URL and
in the reviewer's session, are what "Claim next" takes the head of; an empty lane says why."""

from collections import Counter

import pytest
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from reviews import services
from reviews.filters import QueueFilter
from reviews.models import HITLReview, ReviewEvent
from tests.conftest import make_result, make_user
from tests.test_review_concurrency import make_reviewers, run_together

QUEUE = reverse("review-queue")
CLAIM_NEXT = reverse("review-claim-next")


def review(analysis_type="audio", model="whisper-large-v3", priority=0, **fields) -> HITLReview:
    result = make_result(analysis_type=analysis_type, model_used=model, **fields)
    return HITLReview.objects.create(analysis_result=result, priority=priority)


def claimed_by(response) -> int:
    return int(response["Location"].split("/")[2])


@pytest.mark.django_db
def test_claim_next_takes_the_head_of_the_lane_not_of_the_whole_queue(reviewer_client):
    review("document", "tesseract-5", priority=9)
    video = review("video", "clip-vit", priority=1)
    reviewer_client.get(QUEUE, {"analysis_type": "video"})
    response = reviewer_client.post(CLAIM_NEXT)
    assert claimed_by(response) == video.pk


@pytest.mark.django_db
def test_the_lanes_choices_come_from_the_data_and_a_partial_word_is_refused_not_ignored(
    reviewer_client,
):
    review("document", "tesseract-5")
    review("video", "clip-vit")
    response = reviewer_client.get(QUEUE)
    form = response.context["form"]
    assert [v for v, _ in form.fields["analysis_type"].choices if v] == ["document", "video"]
    assert [v for v, _ in form.fields["model"].choices if v] == ["clip-vit", "tesseract-5"]
    assert [v for v, _ in form.fields["min_priority"].choices if v] == ["0"]
    refused = reviewer_client.get(QUEUE, {"analysis_type": "vid"})
    assert refused.status_code == 200
    assert refused.context["upcoming"] == []  # not the whole queue
    assert "Select a valid choice" in refused.text


@pytest.mark.django_db
def test_the_lane_is_kept_in_the_session_and_the_bare_queue_url_goes_back_to_it(
    reviewer_client,
):
    review("document", "tesseract-5", priority=9)
    video = review("video", "clip-vit")
    reviewer_client.get(QUEUE, {"analysis_type": "video", "model": "clip-vit"})
    back = reviewer_client.get(QUEUE)
    assert back.status_code == 302
    assert QueryDict(back["Location"].split("?")[1]) == QueryDict(
        "analysis_type=video&model=clip-vit"
    )
    assert 'Lane: <strong id="lane-words">video · clip-vit</strong>' in (
        reviewer_client.get(back["Location"]).text
    )
    assert claimed_by(reviewer_client.post(CLAIM_NEXT)) == video.pk


@pytest.mark.django_db
def test_back_at_the_queue_after_a_decision_the_lane_is_still_there(reviewer, reviewer_client):
    video = review("video", "clip-vit")
    reviewer_client.get(QUEUE, {"analysis_type": "video"})
    reviewer_client.post(CLAIM_NEXT)
    decided = reviewer_client.post(reverse("review-decide", args=[video.pk]), {"approved": "yes"})
    assert decided["Location"] == f"{QUEUE}?decided={video.pk}"
    back = reviewer_client.get(decided["Location"])
    assert QueryDict(back["Location"].split("?")[1]) == QueryDict(
        f"decided={video.pk}&analysis_type=video"
    )


@pytest.mark.django_db
def test_the_whole_queue_link_clears_the_lane(reviewer, reviewer_client):
    document = review("document", "tesseract-5", priority=9)
    video = review("video", "clip-vit")
    reviewer_client.get(QUEUE, {"analysis_type": "video"})
    assert claimed_by(reviewer_client.post(CLAIM_NEXT)) == video.pk
    services.release(video.pk, reviewer)
    reviewer_client.get(QUEUE, {"lane": "all"})
    assert reviewer_client.get(QUEUE).status_code == 200  # no lane to go back to
    assert claimed_by(reviewer_client.post(CLAIM_NEXT)) == document.pk


@pytest.mark.django_db
def test_a_lane_cleared_in_the_form_sends_no_parameters_and_clears_it(reviewer_client):
    document = review("document", "tesseract-5", priority=9)
    review("video", "clip-vit")
    reviewer_client.get(QUEUE, {"analysis_type": "video"})
    # lists.js leaves the empty fields out of htmx's GET: "any type" arrives as nothing.
    response = reviewer_client.get(QUEUE, headers={"HX-Request": "true"})
    assert response.status_code == 200 and response.context["lane"] == {}
    assert claimed_by(reviewer_client.post(CLAIM_NEXT)) == document.pk


@pytest.mark.django_db
def test_the_queues_claim_button_sends_the_lane_it_shows_even_if_another_tab_changed_it(
    reviewer_client,
):
    review("document", "tesseract-5", priority=9)
    video = review("video", "clip-vit")
    page = reviewer_client.get(QUEUE, {"analysis_type": "video"}).text
    assert 'name="lane" form="claim-next-form" value="analysis_type=video"' in page
    reviewer_client.get(QUEUE, {"analysis_type": "document"})  # another tab
    response = reviewer_client.post(CLAIM_NEXT, {"lane": "analysis_type=video"})
    assert claimed_by(response) == video.pk


@pytest.mark.django_db
def test_claim_next_takes_the_lane_from_its_query_string_too(reviewer_client):
    review("document", "tesseract-5", priority=9)
    video = review("video", "clip-vit")
    response = reviewer_client.post(f"{CLAIM_NEXT}?analysis_type=video")
    assert claimed_by(response) == video.pk


@pytest.mark.django_db
def test_a_lane_by_priority_and_by_search_takes_only_what_matches(reviewer_client):
    review(priority=1, transcript="the goalkeeper saves")
    urgent = review(priority=5, transcript="a quiet afternoon")
    match = review(priority=3, transcript="the goalkeeper scores")
    reviewer_client.get(QUEUE, {"min_priority": "3", "q": "goalkeeper"})
    assert claimed_by(reviewer_client.post(CLAIM_NEXT)) == match.pk
    assert HITLReview.objects.get(pk=urgent.pk).claimed_by is None


@pytest.mark.django_db
def test_a_lane_that_no_longer_validates_claims_nothing_and_says_so(reviewer_client):
    review("document", "tesseract-5")
    response = reviewer_client.post(CLAIM_NEXT, {"lane": "analysis_type=nothing-like-it"})
    assert response.status_code == 302 and response["Location"].startswith(QUEUE)
    assert not HITLReview.objects.filter(claimed_by__isnull=False).exists()


@pytest.mark.django_db
def test_an_empty_lane_says_what_is_held_by_others_skipped_blind_and_in_other_lanes(
    reviewer, reviewer_client, other_reviewer
):
    held = review("video", "clip-vit", priority=5)
    services.claim(held.pk, other_reviewer)
    skipped = review("video", "clip-vit", priority=4)
    services.claim(skipped.pk, reviewer)
    services.skip(skipped.pk, reviewer, lambda qs: qs.filter(pk=0))  # nothing next
    for _ in range(3):
        review("document", "tesseract-5")
    response = reviewer_client.get(QUEUE, {"analysis_type": "video"})
    empty = response.context["empty"]
    assert (empty["held"], empty["skipped"], empty["blind"], empty["other_lanes"]) == (1, 1, 0, 3)
    assert empty["next_expiry"] == HITLReview.objects.get(pk=held.pk).claim_expires_at
    text = response.text
    assert "1 held by other reviewers" in text
    assert "1 you skipped in the last 15 minutes" in text
    assert "3 waiting in other lanes" in text


@pytest.mark.django_db
def test_the_queue_with_a_lane_runs_a_bounded_number_of_queries(
    reviewer_client, django_assert_max_num_queries
):
    for n in range(40):
        review(("video", "audio")[n % 2], priority=n % 4)
    lane = {"analysis_type": "video", "min_priority": "1"}
    reviewer_client.get(QUEUE, lane)  # the lane's choices are cached, the lane kept
    # user and roles, the three counts, the lane's 25 rows, the held claim, recent decisions
    with django_assert_max_num_queries(7):
        response = reviewer_client.get(QUEUE, lane)
    assert len(response.context["upcoming"]) == 10  # the videos of priority 2
    # An empty lane adds its reasons (four bounded counts and the first expiry), and the
    # session keeps the new lane (an UPDATE in a savepoint).
    with django_assert_max_num_queries(15):
        response = reviewer_client.get(QUEUE, {"analysis_type": "video", "min_priority": "9"})
    assert response.context["empty"]["other_lanes"] == 40


def lane_of(data: str):
    lane = QueueFilter(QueryDict(data), queryset=HITLReview.objects.none())
    assert lane.is_valid()
    return lane.narrow


@pytest.mark.django_db
def test_the_lanes_claim_is_the_head_of_the_lane_over_the_queue_for_the_reviewer(
    django_user_model,
):
    """One rule: whatever the backend, claim next in a lane takes the head of the lane applied
    to queue_for(user), as the queue page lists it."""
    for n in range(24):
        review(("video", "audio", "document")[n % 3], priority=n % 4)
    for n in range(9):
        person = make_user(django_user_model, f"laner-{n}", "Reviewers")
        narrow = lane_of(("analysis_type=video", "min_priority=2", "")[n % 3])
        expected = narrow(HITLReview.objects.queue_for(person, timezone.now())).first()
        taken = services.claim_next(person, narrow)
        assert taken.pk == expected.pk


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_reviewers_racing_in_one_lane_never_take_the_same_review_or_one_outside_it(
    django_user_model,
):
    videos = {review("video", "clip-vit", priority=n % 3).pk for n in range(24)}
    for _ in range(24):
        review("audio", priority=9)  # ahead in the whole queue, outside the lane
    people = make_reviewers(django_user_model, 8, prefix="lane")
    narrow = lane_of("analysis_type=video")
    taken = []
    for _round in range(3):

        def claim_and_decide(person):
            got = services.claim_next(person, narrow)
            if got is not None:
                services.decide(got.pk, person, "yes", "", None)
            return None if got is None else got.pk

        outcomes = run_together(*[lambda p=p: claim_and_decide(p) for p in people])
        assert not [o for o in outcomes if isinstance(o, Exception)]
        taken += [o for o in outcomes if o is not None]
    assert len(taken) == 24 and set(taken) == videos
    claims = Counter(ReviewEvent.objects.filter(kind="claimed").values_list("review_id", flat=True))
    assert set(claims) == videos and max(claims.values()) == 1
