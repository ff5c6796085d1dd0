"""A manager sends a whole filter of results to review: the count comes first, then the send,
then, having thought better of it, the undo, which keeps what a reviewer already took."""

import re

import pytest
from playwright.sync_api import expect

from reviews import services
from reviews.models import HITLReview
from tests.conftest import make_result
from tests.e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_automatic_reviews(settings):
    settings.REVIEW_CONFIDENCE_THRESHOLD = 0


def test_a_manager_confirms_a_bulk_send_by_its_count_then_undoes_it(new_page, manager, reviewer):
    for _ in range(3):
        make_result(model_used="tesseract-5", analysis_type="document")
    make_result(model_used="whisper-large-v3")
    page = new_page()
    login(page, manager)
    page.goto("/results/?model=tesseract-5")
    expect(page.locator("#table tbody tr")).to_have_count(3)

    page.fill("input[name=priority]", "4")
    page.get_by_role("button", name="every result of this filter…").click()
    confirm = page.get_by_role("alertdialog")
    expect(confirm).to_contain_text("Send 3 results to review with priority 4?")
    expect(confirm).to_contain_text("Model: tesseract-5")
    assert not HITLReview.objects.exists()  # nothing sent before the confirmation

    confirm.get_by_role("button", name="Send 3 results").click()
    page.wait_for_url(re.compile(r"/results/\?model=tesseract-5$"))
    expect(page.locator(".messages")).to_contain_text("Sent 3 results to review with priority 4.")
    expect(page.locator("#table tbody .badge", has_text="pending")).to_have_count(3)
    assert HITLReview.objects.filter(priority=4).count() == 3

    services.claim_next(reviewer)  # meanwhile a reviewer takes one of them
    page.locator(".messages").get_by_role("button", name="Undo").click()
    expect(page.locator(".messages")).to_contain_text(
        "Undone: 2 reviews withdrawn from the queue. 1 was kept"
    )
    assert list(HITLReview.objects.values_list("status", flat=True)) == ["claimed"]
    expect(page.locator("#table tbody .badge", has_text="claimed")).to_have_count(1)
    expect(page.locator(".undo-note")).to_have_count(0)  # nothing left to undo


def test_a_manager_ticks_a_whole_page_at_once_and_an_empty_list_offers_no_send(new_page, manager):
    results = [make_result(model_used="tesseract-5") for _ in range(3)]
    page = new_page()
    login(page, manager)
    page.goto("/results/?model=tesseract-5")
    header = page.get_by_role("checkbox", name="Tick every result on this page")
    header.check()
    expect(page.locator("tbody input[name=result]:checked")).to_have_count(3)
    page.get_by_role("checkbox", name=f"tick result {results[0].pk}").uncheck()
    assert page.evaluate("document.querySelector('[data-select-all]').indeterminate") is True

    page.get_by_role("button", name="the ticked rows").click()
    expect(page.locator(".messages")).to_contain_text("Sent 2 results to review with priority 0.")
    assert HITLReview.objects.count() == 2

    page.goto("/results/?model=nobody")
    expect(page.locator("#table tbody")).to_contain_text("No results match these filters")
    expect(page.locator("#enqueue")).to_have_count(0)
    expect(page.locator("[data-select-all]")).to_have_count(0)
