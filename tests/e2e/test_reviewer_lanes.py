"""A reviewer's day in the browser: working a lane with the keyboard (n, s, a), skipping an
item, the lane kept across pages, an empty lane that says why; and a claim that runs out."""

import re

import pytest
from playwright.sync_api import expect

from reviews import services
from reviews.models import HITLReview, ReviewEvent, ReviewStatus
from tests.conftest import make_file, make_job, make_result
from tests.e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def review(filename, analysis_type, priority) -> HITLReview:
    media = make_file(original_filename=filename, media_type=analysis_type)
    job = make_job(media_file=media, status="completed")
    result = make_result(job=job, media_file=media, analysis_type=analysis_type)
    return HITLReview.objects.create(analysis_result=result, priority=priority)


def test_a_reviewer_works_a_video_lane_skips_one_and_is_told_why_the_lane_is_empty(
    new_page, reviewer, other_reviewer
):
    review("contract.pdf", "document", priority=9)  # first in the whole queue
    goal = review("goal.mp4", "video", priority=5)
    interview = review("interview.mp4", "video", priority=3)
    held_by_omar = review("press.mp4", "video", priority=1)
    services.claim(held_by_omar.pk, other_reviewer)

    page = new_page()
    login(page, reviewer)
    page.goto("/reviews/")
    page.select_option("#id_analysis_type", "video")
    expect(page.locator("#lane-words")).to_have_text("video")
    expect(page).to_have_url(re.compile(r"analysis_type=video"))
    expect(page.locator("#upcoming tbody tr")).to_have_count(2)

    page.keyboard.press("n")  # the head of the lane, not the document
    page.wait_for_url(re.compile(rf"/reviews/{goal.pk}/$"))
    expect(page.locator("h1 .file-title")).to_have_text("goal.mp4")

    page.keyboard.press("s")  # skip: the next video
    page.wait_for_url(re.compile(rf"/reviews/{interview.pk}/$"))
    expect(page.locator(".messages")).to_contain_text(f"Review #{goal.pk} skipped")
    assert ReviewEvent.objects.filter(review=goal, kind="skipped", actor=reviewer).exists()

    page.keyboard.press("a")  # approve: and the lane has nothing more for this reviewer
    page.wait_for_url(re.compile(r"/reviews/(\?.*)?$"))
    assert HITLReview.objects.get(pk=interview.pk).status == ReviewStatus.COMPLETED
    expect(page).to_have_url(re.compile(r"analysis_type=video"))  # the lane is kept
    why = page.locator("#lane-empty")
    expect(why).to_contain_text("1 held by other reviewers")
    expect(why).to_contain_text("1 you skipped in the last 15 minutes")
    expect(why).to_contain_text("1 waiting in other lanes")

    page.get_by_role("link", name="see the whole queue").click()
    expect(page.locator("#upcoming tbody tr")).to_have_count(1)  # the document
    expect(page.locator("#upcoming")).to_contain_text("contract.pdf")


def test_a_claim_that_runs_out_offers_claim_again_until_someone_else_takes_it(
    new_page, reviewer, other_reviewer, settings
):
    settings.REVIEW_CLAIM_TTL = 4
    item = review("match.mp4", "video", priority=1)
    page = new_page()
    login(page, reviewer)
    page.goto("/reviews/")
    page.keyboard.press("n")
    page.wait_for_url(re.compile(rf"/reviews/{item.pk}/$"))
    expect(page.locator("#claim-timer")).not_to_have_attribute("aria-live", re.compile(".*"))
    banner = page.locator("#claim-lost")
    expect(banner).to_contain_text("has expired", timeout=15_000)
    expect(page.locator("#claim-again")).to_be_visible()
    expect(page.locator("button[name=approved][value=yes]")).to_be_disabled()
    expect(page.locator("#claim-announce")).to_have_text("Your claim has expired.")

    settings.REVIEW_CLAIM_TTL = 900
    services.claim(item.pk, other_reviewer)
    expect(banner).to_contain_text("omar has taken this review over", timeout=15_000)
    expect(page.locator("#claim-again")).to_be_hidden()


def test_claim_again_takes_the_review_back_when_nobody_else_has(new_page, reviewer, settings):
    settings.REVIEW_CLAIM_TTL = 4
    item = review("match.mp4", "video", priority=1)
    page = new_page()
    login(page, reviewer)
    page.goto("/reviews/")
    page.keyboard.press("n")
    page.wait_for_url(re.compile(rf"/reviews/{item.pk}/$"))
    expect(page.locator("#claim-again")).to_be_visible(timeout=15_000)
    settings.REVIEW_CLAIM_TTL = 900
    page.locator("#claim-again button").click()
    expect(page.locator("button[name=approved][value=yes]")).to_be_enabled()
    expect(page.locator("#claim-lost")).to_be_hidden()
    assert HITLReview.objects.get(pk=item.pk).claimed_by == reviewer
