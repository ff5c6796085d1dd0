"""On a phone (390x844): the navigation folds behind a Menu button, no page scrolls sideways,
and a reviewer decides a review from the decision bar that stays on the screen."""

import re

import pytest
from playwright.sync_api import expect

from reviews.models import HITLReview, ReviewStatus
from tests.conftest import make_file, make_job, make_result
from tests.e2e.conftest import accessibility_problems, login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, has_touch=True)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def scrolls_sideways(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


def in_view(page, selector) -> bool:
    box = page.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]


def test_a_reviewer_on_a_phone_decides_a_review_without_scrolling_sideways(phone, reviewer):
    media = make_file(original_filename="a-very-long-name-of-a-match-recording-2026-final.mp4")
    job = make_job(media_file=media, status="completed")
    result = make_result(
        job=job, media_file=media, analysis_type="video", transcript="Kick-off. " * 200
    )
    item = HITLReview.objects.create(analysis_result=result, priority=2)

    login(phone, reviewer)
    phone.goto("/reviews/")
    assert not scrolls_sideways(phone)
    nav = phone.get_by_role("navigation", name="Main")
    expect(nav).to_be_hidden()
    phone.get_by_role("button", name="Menu").tap()
    expect(nav).to_be_visible()
    expect(phone.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "true")

    phone.get_by_role("button", name=re.compile("Claim next")).tap()
    phone.wait_for_url(re.compile(rf"/reviews/{item.pk}/$"))
    assert not scrolls_sideways(phone)
    # The decisions and the time left are on the screen without scrolling, and stay there.
    assert in_view(phone, "button[name=approved][value=yes]")
    expect(phone.locator(".bar-timer")).to_have_text(re.compile(r"1[45]:\d\d"))
    phone.mouse.wheel(0, 3000)
    assert in_view(phone, "button[name=approved][value=needs_changes]")
    assert accessibility_problems(phone) == []

    phone.locator("button[name=approved][value=needs_changes]").tap()
    phone.wait_for_url(re.compile(r"/reviews/(\?.*)?$"))
    item.refresh_from_db()
    assert (item.status, item.approved) == (ReviewStatus.COMPLETED, "needs_changes")
    assert not scrolls_sideways(phone)


@pytest.mark.parametrize("url", ["/jobs/", "/results/", "/files/", "/sessions/", "/dashboard/"])
def test_a_managers_pages_fit_a_phone(phone, manager, url):
    media = make_file(original_filename="an-uncommonly-long-file-name-for-a-phone-screen.mp4")
    make_result(job=make_job(media_file=media, status="completed"), media_file=media)
    login(phone, manager)
    phone.goto(url)
    phone.wait_for_load_state("networkidle")
    assert not scrolls_sideways(phone)
