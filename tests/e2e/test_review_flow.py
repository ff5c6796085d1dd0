"""A reviewer's day in the browser: claim, read, decide by keyboard, and never lose a note."""

import re

import pytest
from playwright.sync_api import expect

from reviews.models import HITLReview, ReviewDraft, ReviewEvent, ReviewStatus
from tests.conftest import make_result
from tests.e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def make_review(priority=0, **result_fields) -> HITLReview:
    return HITLReview.objects.create(
        analysis_result=make_result(**result_fields), priority=priority
    )


def review_url(review) -> re.Pattern:
    return re.compile(rf"/reviews/{review.pk}/$")


def test_a_reviewer_claims_reads_approves_by_keyboard_and_lands_on_the_next_item(
    new_page, reviewer
):
    first = make_review(priority=1, transcript="Speaker 1: the budget passed on Tuesday.")
    second = make_review(transcript="Speaker 1: welcome back.")
    page = new_page()
    login(page, reviewer)
    page.goto("/reviews/")
    expect(page.get_by_role("button", name="Claim next")).to_be_visible()

    page.keyboard.press("n")
    page.wait_for_url(review_url(first))
    expect(page.locator("#transcript")).to_have_text("Speaker 1: the budget passed on Tuesday.")
    expect(page.locator("#claim-timer")).to_have_text(re.compile(r"^1[45]:\d\d$"))
    expect(page.get_by_role("button", name="Approve")).to_contain_text("a")

    # The first edit renews the claim at once (claimed -> reviewing) and keeps the draft.
    with page.expect_response(re.compile(r"/heartbeat/$")) as beat:
        page.fill("#id_reviewer_notes", "Checked against the audio: correct.")
    assert beat.value.json()["status"] == "reviewing"
    page.keyboard.press("Escape")
    page.keyboard.press("a")

    page.wait_for_url(review_url(second))
    expect(page.locator(".messages")).to_contain_text(f"Review #{first.pk} saved: approved.")
    expect(page.locator("#transcript")).to_have_text("Speaker 1: welcome back.")
    first.refresh_from_db()
    assert first.status == ReviewStatus.COMPLETED
    assert (first.approved, first.reviewer_notes) == ("yes", "Checked against the audio: correct.")
    assert first.reviewed_by == reviewer
    second.refresh_from_db()
    assert second.claimed_by == reviewer


def test_a_second_reviewer_in_another_browser_is_given_a_different_item(
    new_page, reviewer, other_reviewer
):
    first, second = make_review(priority=1), make_review()
    rita = new_page()
    login(rita, reviewer)
    rita.goto("/reviews/")
    rita.get_by_role("button", name="Claim next").click()
    rita.wait_for_url(review_url(first))

    omar = new_page()
    login(omar, other_reviewer)
    omar.goto("/reviews/")
    omar.get_by_role("button", name="Claim next").click()
    omar.wait_for_url(review_url(second))
    expect(omar.locator("#claim-timer")).to_be_visible()

    # Each sees the other's item as taken, with no way to decide it.
    omar.goto(first.get_absolute_url())
    expect(omar.locator(".page-head")).to_contain_text("Claimed by rita, until")
    expect(omar.get_by_role("button", name="Release")).to_have_count(0)
    rita.goto("/reviews/")
    expect(rita.get_by_role("button", name="Back to my review")).to_be_visible()
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.claimed_by, second.claimed_by) == (reviewer, other_reviewer)


def test_an_expired_claim_shows_on_the_page_and_a_refused_decision_keeps_the_note(
    new_page, reviewer, other_reviewer, settings
):
    settings.REVIEW_CLAIM_TTL = 3
    review = make_review(transcript="Speaker 1: the minutes of the last meeting.")
    rita = new_page()
    login(rita, reviewer)
    rita.goto("/reviews/")
    rita.keyboard.press("n")
    rita.wait_for_url(review_url(review))

    # Rita leaves the tab idle: no heartbeat, and the page says the claim is gone.
    expect(rita.locator("#claim-lost")).to_be_visible()
    expect(rita.locator("#claim-lost")).to_contain_text("expired")
    expect(rita.locator("#claim-timer")).to_have_text("0:00")

    settings.REVIEW_CLAIM_TTL = 900
    omar = new_page()
    login(omar, other_reviewer)
    omar.goto("/reviews/")
    omar.get_by_role("button", name="Claim next").click()
    omar.wait_for_url(review_url(review))

    # Rita's page says so at once; her decision buttons are disabled, never refused later.
    expect(rita.locator("#claim-lost")).to_contain_text("omar has taken this review over")
    expect(rita.locator("#claim-again")).to_be_hidden()
    expect(rita.locator("button[name=approved][value=yes]")).to_be_disabled()

    note = "Back from lunch: the speaker names are wrong."

    def keeps_the_note(response):
        return "/heartbeat/" in response.url and note in (response.request.post_data or "")

    with rita.expect_response(keeps_the_note):
        rita.fill("#id_reviewer_notes", note)  # kept as her draft by the page's next look
    rita.keyboard.press("Escape")
    rita.keyboard.press("a")

    expect(rita.locator("#id_reviewer_notes")).to_have_value(note)
    review.refresh_from_db()
    assert review.status == ReviewStatus.CLAIMED
    assert review.claimed_by == other_reviewer
    assert ReviewDraft.objects.get(review=review, user=reviewer).notes == note
    assert not ReviewEvent.objects.filter(review=review, kind=ReviewEvent.Kind.REFUSED).exists()
    # the idle tab never renewed the claim, not even when its time ran out
    assert not ReviewEvent.objects.filter(review=review, kind=ReviewEvent.Kind.RENEWED).exists()
