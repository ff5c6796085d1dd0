"""A reviewer's typing survives a database outage: the story in a browser, against gunicorn and a
PostgreSQL the test stops and starts (tests/served.py).

The page keeps what is typed in localStorage (static/js/drafts.js). The decision sent during
the outage gets the plain 503 page; when the database is back, the review page offers the
unsaved draft back, restoring it fills the form, and once the server has accepted the decision
the browser's copy is gone.
"""

import pytest

from tests.served import PASSWORD, served_site

pytestmark = pytest.mark.e2e


def test_notes_typed_during_an_outage_are_offered_back_when_the_database_returns(browser):
    with served_site() as site:
        context = browser.new_context(base_url=site["base"])
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.goto("/accounts/login/")
        page.fill("#id_username", "rita")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.goto("/reviews/")
        page.click("button:has-text('Claim next')")
        page.wait_for_url(f"**/reviews/{site['review']}/")

        # The first words reach the server (the first edit's heartbeat keeps them as a draft).
        with page.expect_response("**/heartbeat/"):
            page.fill("#id_reviewer_notes", "Speaker 2 is mislabelled")
        site["cluster"].stop()
        # More words while the database is down: only the browser has them.
        page.fill("#id_reviewer_notes", "Speaker 2 is mislabelled; the intro is cut at 0:04")
        page.fill("#id_corrections", '{"speakers": 3}')
        page.click("button[data-shortcut=a]")
        assert "The database is unavailable" in page.content()

        site["cluster"].start()
        page.goto(f"/reviews/{site['review']}/")
        offer = page.locator("#draft-offer")
        offer.wait_for()
        assert "the intro is cut at 0:04" in offer.text_content()
        page.click("#draft-restore")
        assert page.input_value("#id_reviewer_notes").endswith("the intro is cut at 0:04")
        assert page.input_value("#id_corrections") == '{"speakers": 3}'

        page.click("button[data-shortcut=a]")
        page.wait_for_url("**/reviews/?decided=*")  # accepted; the queue is empty now
        page.goto(f"/reviews/{site['review']}/")
        assert "the intro is cut at 0:04" in page.content()  # the decision's notes
        assert page.locator("#draft-offer").count() == 0
        kept = page.evaluate(f"localStorage.getItem('review-draft:{site['review']}')")
        assert kept is None  # decided by this reviewer: the browser's copy is gone
        context.close()
