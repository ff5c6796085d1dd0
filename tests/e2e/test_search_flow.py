"""Finding a result by what was said: the navigation's search box, the live search of the
results list, and the link from a hit to the second where it was said."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import make_result
from tests.e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_manager_searches_from_the_navigation_narrows_the_search_and_opens_the_second(
    new_page, manager
):
    call = make_result(
        summary="A support call",
        transcript="Hello. I would like a refund for the blender.",
        segments=[
            {"start": 0, "end": 3, "text": "Hello."},
            {"start": 42.5, "end": 48, "text": "I would like a refund for the blender."},
        ],
    )
    make_result(summary="A refund for the toaster", transcript="The toaster is broken.")
    make_result(summary="A delivery question", transcript="Where is my parcel?")
    page = new_page()
    login(page, manager)
    page.goto("/jobs/")

    page.get_by_role("searchbox", name="Search results").fill("refund")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/results/\?q=refund"))
    expect(page.locator("#table tr.hit")).to_have_count(2)
    expect(page.locator("#table mark").first).to_have_text(re.compile("refund", re.I))

    page.fill("#id_q", 'refund -toaster "the blender"')
    page.press("#id_q", "Enter")
    page.wait_for_url(re.compile(r"q=refund(\+|%20)-toaster"))
    expect(page.locator("#table tr.hit")).to_have_count(1)
    hit = page.locator("#table tr.hit")
    expect(hit).to_contain_text("segment")
    expect(hit.locator("mark").first).to_have_text("refund")

    hit.get_by_role("link", name="play at 0:42").click()
    page.wait_for_url(re.compile(rf"/results/{call.pk}/\?t=42\.5$"))
