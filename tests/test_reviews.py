"""The review workflow of docs/design.md, The review workflow: every transition and every refused one, through
the services and through the pages. The clock is moved with time-machine, never slept on."""

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from mediaanalysis.roles import REVIEWERS
from reviews import services
from reviews.diff import MISSING, diff_corrections
from reviews.models import HITLReview, ReviewDraft, ReviewEvent, ReviewStatus
from tests.conftest import client_for, make_file, make_job, make_result, make_session, make_user

Kind = ReviewEvent.Kind


def make_review(priority=0, **result_fields) -> HITLReview:
    return HITLReview.objects.create(
        analysis_result=make_result(**result_fields), priority=priority
    )


def ttl() -> timedelta:
    return timedelta(seconds=settings.REVIEW_CLAIM_TTL)


def fresh(review) -> HITLReview:
    return HITLReview.all_objects.select_related("claimed_by", "reviewed_by").get(pk=review.pk)


def history(review) -> list[tuple[str, str | None]]:
    return list(
        ReviewEvent.objects.filter(review=review)
        .order_by("at", "id")
        .values_list("kind", "actor__username")
    )


def url(name, review=None) -> str:
    return reverse(name, args=[review.pk]) if review is not None else reverse(name)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def clock(time_machine):
    """The clock stands still at the test's start until the test moves it."""
    time_machine.move_to(timezone.now(), tick=False)
    return time_machine


@pytest.fixture
def expire(clock):
    """Move the clock just past the end of every claim made so far."""

    def move():
        clock.shift(ttl() + timedelta(seconds=1))

    return move


@pytest.fixture
def other_client(other_reviewer):
    return client_for(other_reviewer)


# Enqueue: managers and admins send results to review; the system sends doubtful ones itself.


@pytest.mark.django_db
def test_manager_sends_the_ticked_results_to_review_with_a_priority(manager_client, manager):
    ticked, also_ticked, left_alone = make_result(), make_result(), make_result()
    response = manager_client.post(
        url("review-enqueue"),
        {
            "scope": "selected",
            "result": [ticked.pk, also_ticked.pk],
            "priority": "5",
            "next": "/results/?model=whisper-large-v3",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/results/?model=whisper-large-v3"
    assert messages_of(response)[0].startswith("Sent 2 results to review with priority 5.")
    opened = HITLReview.objects.order_by("analysis_result_id")
    assert [(r.analysis_result_id, r.status, r.priority) for r in opened] == [
        (ticked.pk, "pending", 5),
        (also_ticked.pk, "pending", 5),
    ]
    assert not HITLReview.objects.filter(analysis_result=left_alone).exists()
    assert set(ReviewEvent.objects.values_list("kind", "actor__username")) == {("enqueued", "maya")}


@pytest.mark.django_db
def test_manager_sends_every_result_of_the_current_filter_to_review(manager_client):
    ocr = [make_result(model_used="tesseract-5", analysis_type="document") for _ in range(3)]
    make_result(model_used="whisper-large-v3")
    response = manager_client.post(
        url("review-enqueue"),
        {
            "scope": "filter",
            "query": "model=tesseract-5&page=2",
            "priority": "2",
            "next": "",
            "confirm": "1",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("result-list")
    assert messages_of(response)[0].startswith("Sent 3 results to review with priority 2.")
    assert set(HITLReview.objects.values_list("analysis_result_id", flat=True)) == {
        r.pk for r in ocr
    }


@pytest.mark.django_db
def test_enqueue_with_a_filter_that_does_not_validate_sends_nothing(manager_client):
    make_result(confidence_score=0.95)
    response = manager_client.post(
        url("review-enqueue"),
        {"scope": "filter", "query": "confidence_min=lots", "priority": "1"},
        follow=True,
    )
    assert response.status_code == 200
    assert not HITLReview.objects.exists()
    assert any("filter" in m.lower() for m in messages_of(response))


@pytest.mark.django_db
def test_enqueue_without_a_ticked_result_says_so_and_sends_nothing(manager_client):
    make_result()
    response = manager_client.post(
        url("review-enqueue"), {"scope": "selected", "priority": "1"}, follow=True
    )
    assert "Tick at least one result first." in messages_of(response)
    assert not HITLReview.objects.exists()


@pytest.mark.django_db
def test_enqueue_never_redirects_to_another_site(manager_client):
    result = make_result()
    response = manager_client.post(
        url("review-enqueue"),
        {"scope": "selected", "result": result.pk, "next": "https://evil.example/"},
    )
    assert response.status_code == 302
    assert response.url == reverse("result-list")


@pytest.mark.django_db
@pytest.mark.parametrize("back", ["x", "review-queue", "javascript:alert(1)", "//evil.example/"])
def test_enqueue_takes_next_only_as_a_path_of_this_site(manager_client, back):
    result = make_result()
    response = manager_client.post(
        url("review-enqueue"), {"scope": "selected", "result": result.pk, "next": back}
    )
    assert response.status_code == 302
    assert response.url == reverse("result-list")


@pytest.mark.django_db
def test_manager_sends_a_result_to_review_from_its_page(manager_client):
    result = make_result()
    page = manager_client.get(result.get_absolute_url())
    assert "Send to review" in page.text
    response = manager_client.post(
        url("review-enqueue"),
        {
            "result": result.pk,
            "scope": "selected",
            "priority": "7",
            "next": page.request["PATH_INFO"],
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == result.get_absolute_url()
    assert "This result is in the review queue." in response.text
    assert "Send to review" not in response.text
    review = HITLReview.objects.get(analysis_result=result)
    assert (review.status, review.priority) == ("pending", 7)


@pytest.mark.django_db
def test_admin_sends_selected_results_to_review_from_the_admin(admin_client):
    chosen, other = make_result(), make_result()
    response = admin_client.post(
        reverse("admin:mediaanalysis_analysisresult_changelist"),
        {"action": "send_to_review", "_selected_action": [chosen.pk], "priority": "4"},
        follow=True,
    )
    assert "Sent 1 result(s) to review with priority 4." in response.text
    review = HITLReview.objects.get()
    assert (review.analysis_result_id, review.priority) == (chosen.pk, 4)
    assert history(review) == [("enqueued", "ada")]
    assert not HITLReview.objects.filter(analysis_result=other).exists()


@pytest.mark.django_db
def test_adding_a_review_in_the_admin_goes_through_the_queue(admin_client):
    result = make_result()
    admin_client.post(
        reverse("admin:reviews_hitlreview_add"),
        {
            "analysis_result": result.pk,
            "priority": "3",
            "reviewer_notes": "",
            "corrections": "",
            **{
                f"{inline}-{field}": "0"
                for inline in ("events", "drafts")
                for field in ("TOTAL_FORMS", "INITIAL_FORMS")
            },
        },
    )
    review = HITLReview.objects.get()
    assert (review.analysis_result_id, review.priority, review.status) == (result.pk, 3, "pending")
    assert history(review) == [("enqueued", "ada")]


@pytest.mark.django_db
def test_a_result_never_has_two_open_reviews(manager_client):
    result = make_result()
    assert services.enqueue([result.pk, result.pk], priority=1) == 1
    assert services.enqueue([result.pk], priority=9) == 0
    response = manager_client.post(
        url("review-enqueue"), {"scope": "selected", "result": result.pk}, follow=True
    )
    assert messages_of(response) == [
        "Nothing was sent to review.",
        "1 result already had an open review and kept it.",
    ]
    assert HITLReview.objects.get().priority == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        HITLReview.objects.create(analysis_result=result)


@pytest.mark.django_db
def test_a_decided_result_can_be_sent_to_review_again(reviewer):
    result = make_result()
    services.enqueue([result.pk])
    review = services.claim_next(reviewer)
    services.decide(review.pk, reviewer, "yes", "", None)
    assert services.enqueue([result.pk]) == 1
    assert list(HITLReview.objects.order_by("id").values_list("status", flat=True)) == [
        "completed",
        "pending",
    ]


@pytest.mark.django_db
def test_a_completed_result_below_the_confidence_threshold_is_enqueued_when_written(settings):
    settings.REVIEW_CONFIDENCE_THRESHOLD = 0.7
    doubtful = make_result(confidence_score=0.69)
    sure = make_result(confidence_score=0.7)
    unscored = make_result(confidence_score=None)
    review = HITLReview.objects.get()
    assert (review.analysis_result_id, review.status) == (doubtful.pk, "pending")
    assert history(review) == [("enqueued", None)]
    assert not HITLReview.objects.filter(analysis_result__in=[sure, unscored]).exists()


@pytest.mark.django_db
def test_a_doubtful_result_written_again_is_not_enqueued_twice(reviewer):
    doubtful = make_result(confidence_score=0.1)
    doubtful.summary = "edited"
    doubtful.save()
    assert HITLReview.objects.count() == 1
    review = services.claim_next(reviewer)
    services.decide(review.pk, reviewer, "no", "wrong speaker", None)
    doubtful.save()
    assert HITLReview.objects.count() == 1


@pytest.mark.django_db
def test_a_result_updated_after_a_needs_changes_decision_goes_back_to_review(reviewer):
    result = make_result(confidence_score=0.95)
    services.enqueue([result.pk], priority=3)
    review = services.claim_next(reviewer)
    services.decide(review.pk, reviewer, "needs_changes", "German, not English", {"language": "de"})
    result.result_data = {"language": "de"}
    result.save()
    again = HITLReview.objects.open().get(analysis_result=result)
    assert again.pk != review.pk
    assert (again.status, again.priority) == ("pending", 3)


@pytest.mark.django_db
def test_a_result_updated_after_approval_stays_out_of_the_queue(reviewer):
    result = make_result(confidence_score=0.95)
    services.enqueue([result.pk])
    review = services.claim_next(reviewer)
    services.decide(review.pk, reviewer, "yes", "", None)
    result.summary = "edited"
    result.save()
    assert not HITLReview.objects.open().exists()


# Claim next: the highest priority, then the oldest; atomic; expiry needs no cron.


@pytest.mark.django_db
def test_claim_next_hands_out_the_highest_priority_then_the_oldest(reviewer, clock):
    low_old = make_review(priority=0)
    clock.shift(60)
    high_new = make_review(priority=5)
    clock.shift(60)
    low_new = make_review(priority=0)
    clock.shift(60)
    high_old_enough = make_review(priority=5)
    order = []
    for _ in range(4):
        review = services.claim_next(reviewer)
        order.append(review.pk)
        services.decide(review.pk, reviewer, "yes", "", None)
    assert order == [high_new.pk, high_old_enough.pk, low_old.pk, low_new.pk]


@pytest.mark.django_db
def test_claim_sets_the_claimant_and_an_expiry_one_ttl_away(reviewer, clock):
    review = make_review()
    claimed = services.claim_next(reviewer)
    now = timezone.now()
    review = fresh(review)
    assert claimed.pk == review.pk
    assert review.status == ReviewStatus.CLAIMED
    assert review.claimed_by == reviewer
    assert review.claimed_at == now
    assert review.claim_expires_at == now + ttl()
    assert review.is_held_by(reviewer)
    assert history(review) == [("claimed", "rita")]


@pytest.mark.django_db
def test_a_live_claim_is_not_handed_to_another_reviewer(reviewer, other_reviewer, clock):
    make_review()
    services.claim_next(reviewer)
    clock.shift(ttl() - timedelta(seconds=1))
    assert services.claim_next(other_reviewer) is None


@pytest.mark.django_db
def test_an_expired_claim_is_claimable_at_once_without_running_any_command(
    reviewer, other_reviewer, expire
):
    review = make_review()
    services.claim_next(reviewer)
    expire()
    taken = services.claim_next(other_reviewer)
    review = fresh(review)
    assert taken.pk == review.pk
    assert review.claimed_by == other_reviewer
    assert review.claim_expires_at == timezone.now() + ttl()
    assert history(review)[-1] == ("taken_over", "omar")
    event = ReviewEvent.objects.get(review=review, kind=Kind.TAKEN_OVER)
    assert event.details == {"previous_holder": reviewer.pk}


@pytest.mark.django_db
def test_an_expired_reviewing_claim_is_claimable_too(reviewer, other_reviewer, clock, expire):
    review = make_review()
    services.claim_next(reviewer)
    services.heartbeat(review.pk, reviewer)
    assert fresh(review).status == ReviewStatus.REVIEWING
    expire()
    assert services.claim_next(other_reviewer).pk == review.pk


@pytest.mark.django_db
def test_an_expired_claim_takes_its_place_in_the_queue_among_pending_reviews(
    reviewer, other_reviewer, django_user_model, expire
):
    """Claim next reads the pending reviews alone only while no claim has lapsed: a lapsed
    one ahead of them is claimed first, and one behind them after them."""
    ahead = make_review(priority=5)
    assert services.claim_next(reviewer).pk == ahead.pk
    pending = make_review(priority=1)
    expire()
    assert services.claim_next(other_reviewer).pk == ahead.pk
    expire()
    third = make_user(django_user_model, "ines", REVIEWERS)
    assert services.claim_next(third).pk == ahead.pk  # still ahead of the pending one
    expire()
    first = make_review(priority=9)
    assert services.claim_next(reviewer).pk == first.pk  # ahead of the lapsed claim
    assert services.claim_next(other_reviewer).pk == ahead.pk
    assert services.claim_next(third).pk == pending.pk


@pytest.mark.django_db
def test_a_reviewer_holding_a_live_claim_gets_it_back_rather_than_a_second(reviewer):
    first, second = make_review(priority=1), make_review()
    assert services.claim_next(reviewer).pk == first.pk
    assert services.claim_next(reviewer).pk == first.pk
    assert fresh(second).status == ReviewStatus.PENDING
    assert ReviewEvent.objects.filter(kind=Kind.CLAIMED).count() == 1


@pytest.mark.django_db
def test_decided_and_deleted_reviews_are_never_claimed(reviewer, other_reviewer):
    decided, deleted = make_review(priority=2), make_review(priority=1)
    services.claim_next(other_reviewer)
    services.decide(decided.pk, other_reviewer, "yes", "", None)
    deleted.soft_delete()
    assert services.claim_next(reviewer) is None


@pytest.mark.django_db
def test_claim_next_page_takes_the_reviewer_to_the_review(reviewer_client, reviewer):
    review = make_review()
    response = reviewer_client.post(url("review-claim-next"))
    assert response.status_code == 302
    assert response.url == review.get_absolute_url()
    assert fresh(review).claimed_by == reviewer


@pytest.mark.django_db
def test_claim_next_from_htmx_answers_with_a_client_redirect(reviewer_client):
    review = make_review()
    response = reviewer_client.post(url("review-claim-next"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Redirect"] == review.get_absolute_url()


@pytest.mark.django_db
def test_claim_next_on_an_empty_queue_says_so_on_the_queue_page(reviewer_client):
    response = reviewer_client.post(url("review-claim-next"), follow=True)
    assert response.redirect_chain == [(reverse("review-queue"), 302)]
    assert "The queue is empty" in response.text


@pytest.mark.django_db
def test_claim_next_only_answers_posts(reviewer_client):
    make_review()
    assert reviewer_client.get(url("review-claim-next")).status_code == 405
    assert not HITLReview.objects.filter(status=ReviewStatus.CLAIMED).exists()


@pytest.mark.django_db
def test_a_reviewer_claims_their_own_expired_review_again_from_its_page(
    reviewer_client, reviewer, expire
):
    review = make_review()
    services.claim_next(reviewer)
    expire()
    page = reviewer_client.get(review.get_absolute_url())
    assert "Claim this review" in page.text
    reviewer_client.post(url("review-claim", review))
    assert fresh(review).is_held_by(reviewer)


@pytest.mark.django_db
def test_claiming_a_review_held_live_by_another_is_refused(other_client, reviewer):
    review = make_review()
    services.claim_next(reviewer)
    response = other_client.post(url("review-claim", review), follow=True)
    assert "This review is claimed by rita, not by you." in messages_of(response)
    assert fresh(review).claimed_by == reviewer


@pytest.mark.django_db
def test_a_reviewer_cannot_claim_a_second_review_by_its_page(reviewer_client, reviewer):
    held, other = make_review(priority=1), make_review()
    services.claim_next(reviewer)
    response = reviewer_client.post(url("review-claim", other), follow=True)
    assert f"You already hold review #{held.pk}; decide or release it first." in (
        messages_of(response)
    )
    assert fresh(other).status == ReviewStatus.PENDING


# Heartbeat: claimed -> reviewing, renewal, and the typed text kept as a draft.


@pytest.mark.django_db
def test_heartbeat_moves_a_claim_to_reviewing_and_renews_its_expiry(
    reviewer_client, reviewer, clock
):
    review = make_review()
    services.claim_next(reviewer)
    clock.shift(600)
    response = reviewer_client.post(url("review-heartbeat", review))
    assert response.status_code == 200
    body = response.json()
    review = fresh(review)
    assert body["ok"] is True
    assert body["status"] == "reviewing"
    assert body["seconds_left"] == settings.REVIEW_CLAIM_TTL
    assert review.status == ReviewStatus.REVIEWING
    assert review.claim_expires_at == timezone.now() + ttl()
    assert history(review) == [("claimed", "rita"), ("renewed", "rita")]


@pytest.mark.django_db
def test_a_renewed_claim_outlives_the_first_expiry(reviewer, other_reviewer, clock):
    review = make_review()
    services.claim_next(reviewer)
    clock.shift(ttl() - timedelta(seconds=5))
    services.heartbeat(review.pk, reviewer)
    clock.shift(10)
    assert services.claim_next(other_reviewer) is None
    assert fresh(review).is_held_by(reviewer)


@pytest.mark.django_db
def test_heartbeat_saves_what_the_reviewer_typed(reviewer_client, reviewer):
    review = make_review()
    services.claim_next(reviewer)
    reviewer_client.post(
        url("review-heartbeat", review),
        {"reviewer_notes": "speaker 2 is missing", "corrections": '{"speakers": 2'},
    )
    draft = ReviewDraft.objects.get(review=review, user=reviewer)
    assert (draft.notes, draft.corrections) == ("speaker 2 is missing", '{"speakers": 2')
    page = reviewer_client.get(review.get_absolute_url())
    assert "speaker 2 is missing" in page.text
    assert escape('{"speakers": 2') in page.text


@pytest.mark.django_db
def test_heartbeat_after_expiry_is_refused_with_409_and_the_draft_is_still_saved(
    reviewer_client, reviewer, expire
):
    review = make_review()
    services.claim_next(reviewer)
    expire()
    response = reviewer_client.post(url("review-heartbeat", review), {"reviewer_notes": "late"})
    assert response.status_code == 409
    assert response.json() == {
        "ok": False,
        "error": "Your claim on this review has expired. Claim it again to decide.",
        "claimable": True,  # nobody took it: the page offers "Claim again"
    }
    assert ReviewDraft.objects.get(review=review, user=reviewer).notes == "late"
    assert Kind.RENEWED not in [kind for kind, _ in history(review)]
    assert not fresh(review).is_claim_live()


@pytest.mark.django_db
def test_heartbeat_after_a_takeover_is_refused_naming_who_took_it(
    reviewer_client, reviewer, other_reviewer, expire
):
    review = make_review()
    services.claim_next(reviewer)
    expire()
    services.claim_next(other_reviewer)
    response = reviewer_client.post(url("review-heartbeat", review), {"corrections": "{}"})
    assert response.status_code == 409
    assert response.json()["error"] == ("Your claim expired and omar has taken this review over.")
    assert ReviewDraft.objects.get(review=review, user=reviewer).corrections == "{}"
    assert fresh(review).is_held_by(other_reviewer)


@pytest.mark.django_db
def test_heartbeat_for_a_missing_review_is_a_404(reviewer_client):
    response = reviewer_client.post(reverse("review-heartbeat", args=[999_999]))
    assert response.status_code == 404
    assert response.json()["ok"] is False


# Release.


@pytest.mark.django_db
def test_release_puts_the_review_back_in_the_queue_for_anyone(
    reviewer_client, reviewer, other_reviewer
):
    review = make_review()
    services.claim_next(reviewer)
    response = reviewer_client.post(url("review-release", review), follow=True)
    assert response.redirect_chain == [(reverse("review-queue"), 302)]
    assert f"Review #{review.pk} is back in the queue." in messages_of(response)
    review = fresh(review)
    assert review.status == ReviewStatus.PENDING
    assert (review.claimed_by, review.claimed_at, review.claim_expires_at) == (None, None, None)
    assert history(review) == [("claimed", "rita"), ("released", "rita")]
    assert services.claim_next(other_reviewer).pk == review.pk


@pytest.mark.django_db
def test_release_by_someone_who_does_not_hold_the_claim_is_refused(
    other_client, reviewer, other_reviewer
):
    review = make_review()
    services.claim_next(reviewer)
    response = other_client.post(url("review-release", review), follow=True)
    assert response.redirect_chain == [(review.get_absolute_url(), 302)]
    assert "This review is claimed by rita, not by you." in messages_of(response)
    assert fresh(review).is_held_by(reviewer)


@pytest.mark.django_db
def test_release_after_expiry_is_refused(reviewer, expire):
    review = make_review()
    services.claim_next(reviewer)
    expire()
    with pytest.raises(services.ClaimLost):
        services.release(review.pk, reviewer)
    assert fresh(review).claimed_by == reviewer
    assert Kind.RELEASED not in [kind for kind, _ in history(review)]


# Decision.


@pytest.mark.django_db
@pytest.mark.parametrize("approved", ["yes", "no", "needs_changes"])
def test_decision_completes_the_review_with_who_and_when(
    reviewer_client, reviewer, clock, approved
):
    review = make_review()
    services.claim_next(reviewer)
    services.heartbeat(review.pk, reviewer, "a draft", "")
    clock.shift(30)
    reviewer_client.post(
        url("review-decide", review),
        {"approved": approved, "reviewer_notes": "checked", "corrections": '{"language": "de"}'},
    )
    review = fresh(review)
    assert review.status == ReviewStatus.COMPLETED
    assert review.approved == approved
    assert review.reviewed_by == reviewer
    assert review.reviewed_at == timezone.now()
    assert review.reviewer_notes == "checked"
    assert review.corrections == {"language": "de"}
    assert not ReviewDraft.objects.filter(review=review).exists()
    assert history(review)[-1] == ("decided", "rita")
    assert ReviewEvent.objects.get(review=review, kind=Kind.DECIDED).details == {
        "approved": approved
    }


@pytest.mark.django_db
def test_decision_takes_the_reviewer_straight_to_the_next_claim(reviewer_client, reviewer):
    first, second = make_review(priority=1), make_review()
    services.claim_next(reviewer)
    response = reviewer_client.post(
        url("review-decide", first), {"approved": "yes", "reviewer_notes": ""}, follow=True
    )
    # ?decided= tells the page's drafts.js to drop its copy of the accepted draft.
    assert response.redirect_chain == [(f"{second.get_absolute_url()}?decided={first.pk}", 302)]
    assert f"Review #{first.pk} saved: approved." in messages_of(response)
    assert fresh(second).is_held_by(reviewer)


@pytest.mark.django_db
def test_the_last_decision_takes_the_reviewer_to_the_queue_saying_it_is_empty(
    reviewer_client, reviewer
):
    review = make_review()
    services.claim_next(reviewer)
    response = reviewer_client.post(url("review-decide", review), {"approved": "no"}, follow=True)
    assert response.redirect_chain == [(f"{reverse('review-queue')}?decided={review.pk}", 302)]
    assert "The queue is empty: there is nothing to review right now. Well done." in (
        messages_of(response)
    )
    assert fresh(review).approved == "no"


@pytest.mark.django_db
def test_decision_from_htmx_answers_with_a_client_redirect_to_the_next_item(
    reviewer_client, reviewer
):
    first, second = make_review(priority=1), make_review()
    services.claim_next(reviewer)
    response = reviewer_client.post(
        url("review-decide", first), {"approved": "yes"}, headers={"HX-Request": "true"}
    )
    assert response["HX-Redirect"] == f"{second.get_absolute_url()}?decided={first.pk}"


@pytest.mark.django_db
def test_invalid_json_corrections_are_a_form_error_that_keeps_the_typed_text(
    reviewer_client, reviewer
):
    review = make_review()
    services.claim_next(reviewer)
    typed = '{"language": "de",'
    response = reviewer_client.post(
        url("review-decide", review),
        {"approved": "needs_changes", "reviewer_notes": "wrong language", "corrections": typed},
    )
    assert response.status_code == 422
    assert "This is not valid JSON" in response.text
    assert escape(typed) in response.text
    assert "wrong language" in response.text
    assert fresh(review).status == ReviewStatus.CLAIMED
    draft = ReviewDraft.objects.get(review=review, user=reviewer)
    assert (draft.notes, draft.corrections, draft.approved) == (
        "wrong language",
        typed,
        "needs_changes",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["[1, 2]", '"de"', "42", "null"])
def test_corrections_that_are_not_a_json_object_are_refused(reviewer_client, reviewer, typed):
    review = make_review()
    services.claim_next(reviewer)
    response = reviewer_client.post(
        url("review-decide", review), {"approved": "yes", "corrections": typed}
    )
    assert response.status_code == 422
    assert (
        escape('Corrections must be a JSON object, like {"field": "new value"}.') in response.text
    )
    assert fresh(review).status == ReviewStatus.CLAIMED


@pytest.mark.django_db
@pytest.mark.parametrize("approved", ["", "maybe"])
def test_a_decision_must_be_one_of_the_three(reviewer_client, reviewer, approved):
    review = make_review()
    services.claim_next(reviewer)
    response = reviewer_client.post(
        url("review-decide", review), {"approved": approved, "reviewer_notes": "hmm"}
    )
    assert response.status_code == 422
    assert "Choose approve, reject or needs changes." in response.text
    assert "hmm" in response.text
    assert fresh(review).status == ReviewStatus.CLAIMED


@pytest.mark.django_db
def test_decision_on_a_missing_review_is_a_404(reviewer_client):
    response = reviewer_client.post(reverse("review-decide", args=[999_999]), {"approved": "yes"})
    assert response.status_code == 404


# Fencing: only the live claimant decides; the others' typing is kept.


@pytest.mark.django_db
def test_a_reviewer_whose_claim_was_taken_over_is_refused_and_keeps_what_they_typed(
    reviewer_client, reviewer, other_reviewer, expire
):
    review = make_review()
    services.claim_next(reviewer)
    expire()
    services.claim_next(other_reviewer)
    response = reviewer_client.post(
        url("review-decide", review),
        {"approved": "no", "reviewer_notes": "the summary is wrong", "corrections": '{"a": 1}'},
    )
    assert response.status_code == 409
    assert "Your claim expired and omar has taken this review over." in response.text
    assert "the summary is wrong" in response.text
    assert escape('{"a": 1}') in response.text
    draft = ReviewDraft.objects.get(review=review, user=reviewer)
    assert (draft.notes, draft.corrections, draft.approved) == (
        "the summary is wrong",
        '{"a": 1}',
        "no",
    )
    review = fresh(review)
    assert review.status == ReviewStatus.CLAIMED
    assert review.is_held_by(other_reviewer)
    assert review.reviewer_notes is None
    assert history(review)[-1] == ("refused", "rita")


@pytest.mark.django_db
def test_the_refused_reviewer_finds_their_draft_on_the_page_later(
    reviewer_client, other_client, reviewer, other_reviewer, expire
):
    review = make_review()
    services.claim_next(reviewer)
    expire()
    services.claim_next(other_reviewer)
    reviewer_client.post(
        url("review-decide", review), {"approved": "yes", "reviewer_notes": "kept for later"}
    )
    assert "kept for later" in reviewer_client.get(review.get_absolute_url()).text
    theirs = other_client.get(review.get_absolute_url()).text
    assert "Drafts by others" in theirs and "kept for later" in theirs


@pytest.mark.django_db
def test_a_decision_after_the_claim_expired_is_refused_even_without_a_takeover(
    reviewer_client, reviewer, expire
):
    review = make_review()
    services.claim_next(reviewer)
    expire()
    response = reviewer_client.post(
        url("review-decide", review), {"approved": "yes", "reviewer_notes": "too slow"}
    )
    assert response.status_code == 409
    assert "Your claim on this review has expired. Claim it again to decide." in response.text
    assert fresh(review).status == ReviewStatus.CLAIMED
    assert ReviewDraft.objects.get(review=review, user=reviewer).notes == "too slow"


@pytest.mark.django_db
def test_a_reviewer_who_never_claimed_cannot_decide(other_client, reviewer):
    review = make_review()
    services.claim_next(reviewer)
    response = other_client.post(url("review-decide", review), {"approved": "yes"})
    assert response.status_code == 409
    assert "This review is claimed by rita, not by you." in response.text
    assert fresh(review).is_held_by(reviewer)


@pytest.mark.django_db
def test_a_decision_on_someone_elses_expired_claim_says_to_claim_it_first(
    other_client, reviewer, expire
):
    review = make_review()
    services.claim_next(reviewer)
    expire()
    response = other_client.post(url("review-decide", review), {"approved": "yes"})
    assert response.status_code == 409
    assert "The claim by rita has expired. Claim this review to decide." in response.text
    assert fresh(review).status == ReviewStatus.CLAIMED


@pytest.mark.django_db
def test_a_reviewer_whose_review_was_reassigned_is_told_so_on_deciding(
    reviewer_client, reviewer, other_reviewer, admin_user
):
    review = make_review()
    services.claim_next(reviewer)
    services.reassign([review.pk], admin_user, other_reviewer)
    response = reviewer_client.post(
        url("review-decide", review), {"approved": "yes", "reviewer_notes": "mine"}
    )
    assert response.status_code == 409
    assert "An admin has reassigned this review to omar." in response.text
    assert ReviewDraft.objects.get(review=review, user=reviewer).notes == "mine"
    assert fresh(review).is_held_by(other_reviewer)


@pytest.mark.django_db
def test_a_pending_review_cannot_be_decided_before_it_is_claimed(reviewer_client):
    review = make_review()
    response = reviewer_client.post(url("review-decide", review), {"approved": "yes"})
    assert response.status_code == 409
    assert "You do not hold a claim on this review. Claim it first." in response.text
    assert fresh(review).status == ReviewStatus.PENDING


@pytest.mark.django_db
def test_a_review_is_decided_only_once(reviewer, other_client):
    review = make_review()
    services.claim_next(reviewer)
    services.decide(review.pk, reviewer, "yes", "fine", None)
    with pytest.raises(services.ClaimLost, match="already decided by rita"):
        services.decide(review.pk, reviewer, "no", "changed my mind", None)
    response = other_client.post(url("review-decide", review), {"approved": "no"})
    assert response.status_code == 409
    assert "This review was already decided by rita." in response.text
    review = fresh(review)
    assert (review.approved, review.reviewer_notes) == ("yes", "fine")


# The admin: force-release, reassign, reopen, and the audit history.


def admin_action(client, action, reviews, **extra):
    return client.post(
        reverse("admin:reviews_hitlreview_changelist"),
        {"action": action, "_selected_action": [r.pk for r in reviews], **extra},
        follow=True,
    )


@pytest.mark.django_db
def test_admin_force_releases_a_live_claim_and_the_old_holder_can_no_longer_decide(
    admin_client, reviewer
):
    review = make_review()
    services.claim_next(reviewer)
    response = admin_action(admin_client, "force_release", [review])
    assert "Released 1 claim(s) back to the queue." in response.text
    review = fresh(review)
    assert (review.status, review.claimed_by) == (ReviewStatus.PENDING, None)
    event = ReviewEvent.objects.get(review=review, kind=Kind.FORCE_RELEASED)
    assert (event.actor.username, event.details) == ("ada", {"previous_holder": reviewer.pk})
    with pytest.raises(services.ClaimLost):
        services.decide(review.pk, reviewer, "yes", "", None)


@pytest.mark.django_db
def test_admin_reassigns_an_open_review_to_another_reviewer(admin_client, reviewer, other_reviewer):
    review = make_review()
    services.claim_next(reviewer)
    response = admin_action(admin_client, "reassign", [review], assignee=other_reviewer.pk)
    assert "Reassigned 1 review(s) to omar." in response.text
    review = fresh(review)
    assert review.is_held_by(other_reviewer)
    assert review.claim_expires_at == review.claimed_at + ttl()
    event = ReviewEvent.objects.get(review=review, kind=Kind.REASSIGNED)
    assert (event.actor.username, event.details) == (
        "ada",
        {"previous_holder": reviewer.pk, "assignee": other_reviewer.pk},
    )
    services.decide(review.pk, other_reviewer, "yes", "", None)
    assert fresh(review).reviewed_by == other_reviewer


@pytest.mark.django_db
def test_reassign_without_a_reviewer_chosen_changes_nothing(admin_client, reviewer):
    review = make_review()
    response = admin_action(admin_client, "reassign", [review])
    assert "Choose a reviewer in “Reassign to” first." in response.text
    assert fresh(review).status == ReviewStatus.PENDING


@pytest.mark.django_db
def test_admin_reopens_a_decided_review_and_it_goes_back_in_the_queue(
    admin_client, reviewer, other_reviewer
):
    review = make_review()
    services.claim_next(reviewer)
    services.decide(review.pk, reviewer, "no", "rejected at first", None)
    response = admin_action(admin_client, "reopen", [review])
    assert "Reopened 1 review(s)." in response.text
    review = fresh(review)
    assert review.status == ReviewStatus.PENDING
    assert (review.approved, review.reviewed_by, review.reviewed_at) == (None, None, None)
    assert (review.claimed_by, review.claim_expires_at) == (None, None)
    event = ReviewEvent.objects.get(review=review, kind=Kind.REOPENED)
    assert event.actor.username == "ada"
    assert event.details["approved"] == "no"
    assert event.details["reviewer_notes"] == "rejected at first"
    assert services.claim_next(other_reviewer).pk == review.pk
    assert history(review)[-1] == ("claimed", "omar")


@pytest.mark.django_db
def test_reopen_is_refused_when_the_result_already_has_an_open_review(admin_client, reviewer):
    review = make_review()
    services.claim_next(reviewer)
    services.decide(review.pk, reviewer, "needs_changes", "", None)
    services.enqueue([review.analysis_result_id])
    response = admin_action(admin_client, "reopen", [review])
    assert f"Not reopened, their result already has an open review: #{review.pk}" in response.text
    assert fresh(review).status == ReviewStatus.COMPLETED


@pytest.mark.django_db
def test_the_admin_shows_the_audit_history_and_drafts_of_a_review(admin_client, reviewer):
    review = make_review()
    services.claim_next(reviewer)
    services.heartbeat(review.pk, reviewer, "typing away", "")
    page = admin_client.get(reverse("admin:reviews_hitlreview_change", args=[review.pk]))
    assert page.status_code == 200
    assert "Audit history" in page.text
    assert "Claimed by rita at" in page.text
    assert "Renewed by rita at" in page.text
    assert "typing away" in page.text


# The tidy-up command.


@pytest.mark.django_db
def test_release_expired_claims_tidies_only_the_expired_ones(reviewer, other_reviewer, clock):
    stale, live, waiting = make_review(priority=2), make_review(priority=1), make_review()
    services.claim_next(reviewer)
    clock.shift(ttl() - timedelta(seconds=10))
    services.claim_next(other_reviewer)
    clock.shift(20)
    out = StringIO()
    call_command("release_expired_claims", stdout=out)
    assert out.getvalue().strip() == "Released 1 expired claim(s)."
    assert fresh(stale).status == ReviewStatus.PENDING
    assert fresh(stale).claimed_by is None
    assert fresh(live).is_held_by(other_reviewer)
    assert fresh(waiting).status == ReviewStatus.PENDING
    event = ReviewEvent.objects.get(kind=Kind.EXPIRED)
    assert (event.review_id, event.actor, event.details) == (
        stale.pk,
        None,
        {"previous_holder": reviewer.pk},
    )
    assert services.release_expired_claims() == 0


# Audit: every claim, renewal, release, takeover and decision, with who.


@pytest.mark.django_db
def test_every_step_of_a_review_is_recorded_with_who_did_it(
    reviewer_client, other_client, manager_client, reviewer, other_reviewer, expire
):
    result = make_result()
    manager_client.post(url("review-enqueue"), {"scope": "selected", "result": result.pk})
    review = HITLReview.objects.get()
    reviewer_client.post(url("review-claim-next"))
    reviewer_client.post(url("review-heartbeat", review))
    reviewer_client.post(url("review-release", review))
    other_client.post(url("review-claim-next"))
    expire()
    reviewer_client.post(url("review-claim-next"))
    other_client.post(url("review-decide", review), {"approved": "yes"})
    reviewer_client.post(url("review-decide", review), {"approved": "no"})
    assert history(review) == [
        ("enqueued", "maya"),
        ("claimed", "rita"),
        ("renewed", "rita"),
        ("released", "rita"),
        ("claimed", "omar"),
        ("taken_over", "rita"),
        ("refused", "omar"),
        ("decided", "rita"),
    ]
    page = reviewer_client.get(review.get_absolute_url()).text
    assert "<strong>Taken over after expiry</strong> by rita" in page
    assert "<strong>Decision refused (claim lost)</strong> by omar" in page
    assert "<strong>Decided</strong> by rita: rejected" in page  # in words, not "no"


# The corrections diff.


def test_diff_shows_changed_added_removed_and_unchanged_keys():
    before = {"language": "en", "labels": ["a"], "sentiment": "neutral", "speakers": 2}
    rows = diff_corrections(
        before, {"language": "de", "topic": "news", "sentiment": None, "speakers": 2}
    )
    assert [(r.path, r.kind, r.before_text, r.after_text) for r in rows] == [
        ("language", "changed", '"en"', '"de"'),
        ("topic", "added", "", '"news"'),
        ("sentiment", "removed", '"neutral"', ""),
        ("speakers", "same", "2", "2"),
    ]


def test_diff_follows_nested_objects_key_by_key():
    rows = diff_corrections(
        {"meta": {"fps": 3, "codec": "h264"}}, {"meta": {"fps": 5, "lang": "de"}}
    )
    assert [(r.path, r.kind) for r in rows] == [("meta.fps", "changed"), ("meta.lang", "added")]


def test_diff_removing_an_absent_key_changes_nothing():
    (row,) = diff_corrections({}, {"ghost": None})
    assert (row.path, row.kind, row.before, row.after) == ("ghost", "same", MISSING, MISSING)


def test_diff_of_no_corrections_or_no_result_data_is_sensible():
    assert diff_corrections({"a": 1}, None) == []
    assert diff_corrections({"a": 1}, [1, 2]) == []
    rows = diff_corrections(None, {"a": {"b": 1}})
    assert [(r.path, r.kind, r.after_text) for r in rows] == [("a", "added", '{"b": 1}')]


@pytest.mark.django_db
def test_the_diff_endpoint_returns_just_the_diff_fragment(reviewer_client):
    review = make_review(result_data={"language": "en", "topic": "news"})
    response = reviewer_client.post(
        url("review-diff", review),
        {"corrections": '{"language": "de", "topic": null}'},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert response.text.lstrip().startswith('<div id="diff">')
    assert '<tr class="changed"><td>language</td>' in response.text
    assert '<tr class="removed"><td>topic</td>' in response.text
    assert escape('"de"') in response.text


@pytest.mark.django_db
def test_the_diff_endpoint_explains_invalid_json_instead_of_failing(reviewer_client):
    review = make_review(result_data={"language": "en"})
    response = reviewer_client.post(url("review-diff", review), {"corrections": '{"language": '})
    assert response.status_code == 200
    assert "This is not valid JSON" in response.text
    assert "<table" not in response.text


@pytest.mark.django_db
def test_a_decided_review_shows_its_corrections_as_a_diff(reviewer_client, reviewer):
    review = make_review(result_data={"language": "en"})
    services.claim_next(reviewer)
    services.decide(review.pk, reviewer, "needs_changes", "", {"language": "de"})
    page = reviewer_client.get(review.get_absolute_url()).text
    assert '<tr class="changed"><td>language</td>' in page


# Permissions: reviewers and admins claim and decide; managers and admins enqueue.


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name, data",
    [
        ("review-claim-next", {}),
        ("review-claim", {}),
        ("review-decide", {"approved": "yes", "reviewer_notes": "manager says yes"}),
        ("review-release", {}),
        ("review-heartbeat", {"reviewer_notes": "manager typing"}),
    ],
)
def test_managers_cannot_claim_decide_release_or_renew(manager_client, reviewer, name, data):
    review = make_review()
    services.claim_next(reviewer)
    target = reverse(name) if name == "review-claim-next" else url(name, review)
    before = fresh(review)
    response = manager_client.post(target, data)
    assert response.status_code == 403
    after = fresh(review)
    assert (after.status, after.claimed_by, after.claim_expires_at) == (
        before.status,
        before.claimed_by,
        before.claim_expires_at,
    )
    assert not ReviewDraft.objects.exists()
    assert history(review) == [("claimed", "rita")]


@pytest.mark.django_db
def test_managers_read_the_queue_and_the_review_page_without_a_decision_form(
    manager_client, reviewer
):
    review = make_review()
    assert "Claim next" not in manager_client.get(url("review-queue")).text
    page = manager_client.get(review.get_absolute_url())
    assert page.status_code == 200
    assert 'id="decision-form"' not in page.text


@pytest.mark.django_db
@pytest.mark.parametrize(
    "method, name",
    [
        ("get", "review-queue"),
        ("get", "review-detail"),
        ("post", "review-claim-next"),
        ("post", "review-decide"),
        ("post", "review-enqueue"),
    ],
)
def test_a_user_in_no_group_gets_403(nobody, method, name):
    review = make_review()
    target = url(name, review) if name in ("review-detail", "review-decide") else url(name)
    data = {"approved": "yes", "scope": "selected", "result": review.analysis_result_id}
    response = getattr(client_for(nobody), method)(target, data if method == "post" else None)
    assert response.status_code == 403
    assert "Ask an admin for access" in response.text
    assert fresh(review).status == ReviewStatus.PENDING
    assert HITLReview.objects.count() == 1


@pytest.mark.django_db
def test_reviewers_cannot_send_results_to_review(reviewer_client):
    result = make_result()
    response = reviewer_client.post(
        url("review-enqueue"), {"scope": "selected", "result": result.pk}
    )
    assert response.status_code == 403
    assert not HITLReview.objects.exists()


@pytest.mark.django_db
def test_admins_claim_decide_and_enqueue(admin_client, admin_user):
    result = make_result()
    admin_client.post(url("review-enqueue"), {"scope": "selected", "result": result.pk})
    review = HITLReview.objects.get()
    admin_client.post(url("review-claim-next"))
    admin_client.post(url("review-decide", review), {"approved": "yes"})
    assert fresh(review).reviewed_by == admin_user


@pytest.mark.django_db
def test_pages_need_a_login(client):
    review = make_review()
    assert client.get(url("review-queue")).status_code == 302
    assert client.post(url("review-claim-next")).status_code == 302
    assert fresh(review).status == ReviewStatus.PENDING


# The queue page and the review page.


@pytest.mark.django_db
def test_queue_page_shows_counts_the_reviewers_claim_and_what_comes_next(
    reviewer_client, reviewer, other_reviewer, clock, expire
):
    clock.move_to(timezone.localtime().replace(hour=12, minute=0), tick=False)
    decided = make_review(priority=9)
    services.claim_next(reviewer)
    services.decide(decided.pk, reviewer, "yes", "", None)
    stale = make_review(priority=8)
    services.claim_next(other_reviewer)
    expire()
    mine = services.claim_next(reviewer)  # takes over the expired one
    waiting = make_review(priority=3)
    response = reviewer_client.get(url("review-queue"))
    counts = response.context["counts"]
    assert (counts["pending"], counts["claimed"], counts["expired"]) == (1, 1, 0)
    assert (counts["decided_today"], counts["decided_today_by_me"]) == (1, 1)
    assert mine.pk == stale.pk
    assert f'You hold <a href="{stale.get_absolute_url()}">review #{stale.pk}</a>' in (
        response.text
    )
    assert "Back to my review" in response.text
    assert [r.pk for r in response.context["upcoming"]] == [waiting.pk]
    assert [r.pk for r in response.context["recent"]] == [decided.pk]


@pytest.mark.django_db
def test_queue_page_counts_expired_claims_and_lists_them_as_claimable(
    reviewer_client, other_reviewer, expire
):
    review = make_review()
    services.claim_next(other_reviewer)
    expire()
    response = reviewer_client.get(url("review-queue"))
    assert response.context["counts"]["expired"] == 1
    assert [r.pk for r in response.context["upcoming"]] == [review.pk]
    assert "claim expired" in response.text


@pytest.mark.django_db
def test_queue_filters_by_priority_type_model_and_age(reviewer_client, clock):
    old = make_review(priority=1, analysis_type="document", model_used="tesseract-5")
    clock.shift(timedelta(hours=5))
    urgent = make_review(priority=7)

    def listed(query):
        response = reviewer_client.get(url("review-queue"), query, headers={"HX-Request": "true"})
        assert "<html" not in response.text
        return [r.pk for r in response.context["upcoming"]]

    assert listed({}) == [urgent.pk, old.pk]
    assert listed({"min_priority": "5"}) == [urgent.pk]
    assert listed({"analysis_type": "document"}) == [old.pk]
    assert listed({"model": "tesseract-5"}) == [old.pk]
    assert listed({"older_than": "4"}) == [old.pk]
    assert reviewer_client.get(url("review-queue"), {"min_priority": "x"}).status_code == 200


@pytest.mark.django_db
def test_review_page_shows_the_result_its_context_and_the_time_left(
    reviewer_client, reviewer, clock
):
    session = make_session()
    media = make_file(session_id=session.session_id, original_filename="council.mp4")
    job = make_job(session_id=session.session_id, media_file=media, status="completed")
    review = HITLReview.objects.create(
        analysis_result=make_result(
            job=job,
            media_file=media,
            transcript="Speaker 1: the budget passed",
            summary="A council meeting",
            result_data={"topic": "budget"},
        )
    )
    services.claim_next(reviewer)
    clock.shift(65)
    page = reviewer_client.get(review.get_absolute_url()).text
    assert "Speaker 1: the budget passed" in page
    assert "A council meeting" in page
    assert "council.mp4" in page
    assert session.session_id in page
    assert f'data-seconds-left="{settings.REVIEW_CLAIM_TTL - 65}"' in page
    assert 'data-held="true"' in page
    for key in ("a", "r", "c", "l", "n"):
        assert f'data-shortcut="{key}"' in page and f"<kbd>{key}</kbd>" in page


@pytest.mark.django_db
def test_review_page_of_someone_elses_claim_shows_who_holds_it(other_client, reviewer):
    review = make_review()
    services.claim_next(reviewer)
    page = other_client.get(review.get_absolute_url()).text
    assert "Claimed by rita" in page
    assert 'data-held="false"' in page
    assert 'data-shortcut="l"' not in page


@pytest.mark.django_db
def test_review_page_of_a_deleted_review_is_a_404(reviewer_client):
    review = make_review()
    review.soft_delete()
    assert reviewer_client.get(review.get_absolute_url()).status_code == 404


# Bounded queries.


@pytest.mark.django_db
def test_claim_next_runs_a_bounded_number_of_queries(
    reviewer_client, other_reviewer, django_assert_max_num_queries, expire
):
    for priority in range(30):
        make_review(priority=priority % 3)
    services.claim_next(other_reviewer)
    expire()  # the head of the queue is now an expired claim: the takeover path
    reviewer_client.get(url("review-queue"))  # the session is loaded and cached
    # user, roles, lock the reviewer, held claim, queue head, conditional update, audit row,
    # and the savepoint pair of the transaction
    with django_assert_max_num_queries(9):
        response = reviewer_client.post(url("review-claim-next"))
    assert response.status_code == 302
    with django_assert_max_num_queries(6):
        again = reviewer_client.post(url("review-claim-next"))
    assert again.url == response.url


@pytest.mark.django_db
def test_queue_page_runs_a_bounded_number_of_queries(
    reviewer_client, reviewer, django_assert_max_num_queries
):
    for _ in range(12):
        make_review()
        services.claim_next(reviewer)
        held = HITLReview.objects.held_by(reviewer, timezone.now()).get()
        services.decide(held.pk, reviewer, "yes", "", None)
    for priority in range(40):
        make_review(priority=priority % 4)
    services.claim_next(reviewer)
    # 7, and the lane's choices of type, model and priority (cached: not on the next load)
    with django_assert_max_num_queries(10):
        response = reviewer_client.get(url("review-queue"))
    assert len(response.context["upcoming"]) == 25
    assert len(response.context["recent"]) == 10


@pytest.mark.django_db
def test_review_page_runs_a_bounded_number_of_queries(
    reviewer_client, reviewer, other_reviewer, django_assert_max_num_queries, expire
):
    session = make_session()
    media = make_file(session_id=session.session_id)
    job = make_job(session_id=session.session_id, media_file=media, status="completed")
    review = HITLReview.objects.create(
        analysis_result=make_result(job=job, media_file=media, result_data={"a": 1})
    )
    for _ in range(3):
        services.claim_next(other_reviewer)
        services.heartbeat(review.pk, other_reviewer, "other notes", "")
        expire()
        services.claim_next(reviewer)
        services.heartbeat(review.pk, reviewer, "my notes", '{"a": 2}')
        expire()
    services.claim_next(reviewer)
    # 6, and the renewals, folded into the claims they kept alive (tests/test_review_page.py)
    with django_assert_max_num_queries(7):
        response = reviewer_client.get(review.get_absolute_url())
    assert response.status_code == 200
    assert len(response.context["events"]) >= 7
    assert "Drafts by others" in response.text
    with django_assert_max_num_queries(13):
        beat = reviewer_client.post(url("review-heartbeat", review), {"reviewer_notes": "n"})
    assert beat.json()["ok"] is True
