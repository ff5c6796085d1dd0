"""The review page as a reviewer needs it: no live decision button without a claim, "Claim again"
after an expiry, one error message that goes when the JSON is fixed, a history in words, why the
item is here, and a taken-over reviewer's draft offered to the new holder."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from reviews import services
from reviews.forms import parse_corrections
from reviews.models import HITLReview, Reason, ReviewEvent
from tests.conftest import make_file, make_job, make_result

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    return time_machine


def expire(clock):
    clock.shift(timedelta(seconds=settings.REVIEW_CLAIM_TTL + 1))


def review(**fields) -> HITLReview:
    media = make_file(original_filename="match-highlights.mp4")
    job = make_job(media_file=media, status="completed")
    return HITLReview.objects.create(
        analysis_result=make_result(job=job, result_data={"speakers": 1}), **fields
    )


def decision_buttons(page: str) -> list[str]:
    return [line for line in page.splitlines() if 'name="approved"' in line]


def test_without_a_claim_the_decision_buttons_are_disabled_and_claiming_is_offered(
    reviewer_client,
):
    pending = review()
    page = reviewer_client.get(pending.get_absolute_url()).text
    buttons = decision_buttons(page)
    assert len(buttons) == 3 and all(" disabled" in b for b in buttons)
    assert "Claim this review" in page


def test_with_the_claim_the_decision_buttons_are_live(reviewer, reviewer_client):
    held = review()
    services.claim(held.pk, reviewer)
    buttons = decision_buttons(reviewer_client.get(held.get_absolute_url()).text)
    assert len(buttons) == 3 and not any(" disabled" in b for b in buttons)


def test_a_review_someone_else_holds_says_who_and_offers_no_claim(reviewer_client, other_reviewer):
    taken = review()
    services.claim(taken.pk, other_reviewer)
    page = reviewer_client.get(taken.get_absolute_url()).text
    assert "omar holds the claim on this review until" in page
    assert "Claim this review" not in page


def test_after_an_expiry_the_heartbeat_says_whether_the_review_may_be_claimed_again(
    reviewer, reviewer_client, other_reviewer, clock
):
    mine = review()
    services.claim(mine.pk, reviewer)
    expire(clock)
    beat = reviewer_client.post(reverse("review-heartbeat", args=[mine.pk]))
    assert beat.json()["claimable"] is True
    services.claim(mine.pk, other_reviewer)
    beat = reviewer_client.post(reverse("review-heartbeat", args=[mine.pk]))
    assert beat.json() == {
        "ok": False,
        "error": "Your claim expired and omar has taken this review over.",
        "claimable": False,
    }


def test_a_refused_decision_offers_claim_again_where_nobody_took_the_review(
    reviewer, reviewer_client, clock
):
    mine = review()
    services.claim(mine.pk, reviewer)
    expire(clock)
    response = reviewer_client.post(
        reverse("review-decide", args=[mine.pk]), {"approved": "yes", "reviewer_notes": "ok"}
    )
    assert response.status_code == 409
    page = response.text
    start = page.index('id="claim-again"')
    assert "hidden" not in page[start : page.index(">", start)]
    assert "Claim again" in page


def test_reopening_the_decide_address_goes_to_the_review_not_a_405(reviewer_client):
    pending = review()
    response = reviewer_client.get(reverse("review-decide", args=[pending.pk]))
    assert response.status_code == 302
    assert response["Location"] == pending.get_absolute_url()


def test_the_live_preview_replaces_the_corrections_error_and_clears_it_once_fixed(
    reviewer, reviewer_client
):
    held = review()
    services.claim(held.pk, reviewer)
    diff = reverse("review-diff", args=[held.pk])
    broken = reviewer_client.post(diff, {"corrections": '\n  {"speakers": 2'}).text
    assert 'id="corrections-error" hx-swap-oob="true"><span class="errorlist">' in broken
    fixed = reviewer_client.post(diff, {"corrections": '{"speakers": 2}'}).text
    assert '<span id="corrections-error" hx-swap-oob="true"></span>' in fixed


def test_the_form_and_the_preview_name_the_same_line_and_column(reviewer, reviewer_client):
    held = review()
    services.claim(held.pk, reviewer)
    typed = '\n  {"speakers": 2'
    with pytest.raises(Exception) as expected:
        parse_corrections(typed)
    (message,) = expected.value.messages
    refused = reviewer_client.post(
        reverse("review-decide", args=[held.pk]), {"approved": "yes", "corrections": typed}
    )
    preview = reviewer_client.post(reverse("review-diff", args=[held.pk]), {"corrections": typed})
    assert refused.status_code == 422
    assert escape(message) in refused.text and escape(message) in preview.text


def test_renewals_fold_into_their_claim_and_decisions_read_in_words(reviewer, reviewer_client):
    mine = review()
    services.claim(mine.pk, reviewer)
    for _ in range(3):
        services.heartbeat(mine.pk, reviewer)
    services.decide(mine.pk, reviewer, "needs_changes", "", None)
    page = reviewer_client.get(mine.get_absolute_url()).text
    assert "<strong>Renewed</strong>" not in page
    assert "kept alive 3 times, last at" in page
    assert "<strong>Decided</strong> by rita: needs changes" in page


def test_the_file_name_is_at_the_top_and_the_page_says_why_the_item_is_here(reviewer_client):
    low = review(
        reason=Reason.LOW_CONFIDENCE,
        reason_details={"confidence": 0.42, "threshold": 0.7},
        priority=3,
    )
    page = reviewer_client.get(low.get_absolute_url()).text
    assert '<h1><span class="file-title">match-highlights.mp4</span>' in page
    assert "the model&#x27;s 0.42 is below the threshold of 0.70" in page
    assert "Higher goes first; 0 is normal" in page


def test_queue_rows_say_why_each_item_is_here_and_name_its_file(reviewer_client, manager):
    review(reason=Reason.LOW_CONFIDENCE, reason_details={"confidence": 0.42, "threshold": 0.7})
    services.enqueue([make_result().pk], priority=2, actor=manager)
    page = reviewer_client.get(reverse("review-queue")).text
    assert "Low confidence: 0.42 &lt; 0.70" in page
    assert "Sent by maya" in page
    assert "match-highlights.mp4" in page


def test_a_taken_over_reviewers_draft_is_offered_to_the_new_holder_and_kept_after_the_decision(
    reviewer, reviewer_client, other_reviewer, clock
):
    item = review()
    services.claim(item.pk, other_reviewer)
    services.heartbeat(item.pk, other_reviewer, "speaker 2 is the coach", '{"speakers": 2}')
    expire(clock)
    services.claim(item.pk, reviewer)
    page = reviewer_client.get(item.get_absolute_url()).text
    assert "Use this draft" in page
    assert "speaker 2 is the coach" in page
    services.decide(item.pk, reviewer, "yes", "", None)
    after = reviewer_client.get(item.get_absolute_url()).text
    assert "<strong>Draft left (not sent)</strong> by omar" in after
    assert "speaker 2 is the coach" in after
    assert "Use this draft" not in after
    assert ReviewEvent.objects.filter(review=item, kind="decided").count() == 1
