from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.conftest import make_job
from tests.e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_manager_switches_the_window_and_follows_a_figure_to_its_jobs(new_page, manager):
    now = timezone.now()
    for hours, status, error in [
        (2, "failed", "disk full"),
        (72, "failed", "codec"),
        (1, "completed", None),
    ]:
        moment = now - timedelta(hours=hours)
        make_job(status=status, error_message=error, created_at=moment, completed_at=moment)
    page = new_page()
    login(page, manager)
    page.goto("/dashboard/")
    expect(page.locator("h1")).to_have_text("Dashboard")
    failed = page.locator("dt:text-is('Failed') + dd a")
    expect(failed).to_have_text("1")

    page.locator(".segmented label", has_text="7 days").click()
    expect(failed).to_have_text("2")
    assert "window=7d" in page.url  # the window is in the address, for bookmarks
    expect(page.locator("svg title").first).to_be_attached()

    failed.click()
    page.wait_for_url("**/jobs/?*")
    assert "status=failed" in page.url and "finished_after=" in page.url
    rows = page.locator("#table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#id_status input[value=failed]")).to_be_checked()
