"""A database outage while gunicorn serves (docs/design.md, Bad input and faults).

A real PostgreSQL is stopped under a running site: a signed-in page, an API call and a decision
each answer 503 with the plain message within 5 seconds (the pool's bounded wait), /health/ says
unhealthy, and nothing waits for the database twice. When PostgreSQL is back, the first request
succeeds, without a restart; the notes the reviewer had typed (kept as a draft by the page's
first heartbeat) are offered back. tests/e2e/test_outage_drafts.py tells the same story in a
browser, where the page's localStorage keeps what was typed during the outage too.
"""

import time

import pytest
import requests

from tests.served import served_site, signed_in, timed

pytestmark = pytest.mark.postgres
LIMIT = 5.0  # seconds: "within a few seconds"


def test_an_outage_answers_503_within_seconds_and_the_first_request_after_it_succeeds():
    with served_site() as site:
        base, review = site["base"], site["review"]
        api = {"Authorization": f"Bearer {site['token']}"}
        browser = signed_in(base)
        assert browser.post(f"{base}/reviews/claim-next/", headers=_csrf(browser), timeout=10).ok
        page = browser.get(f"{base}/reviews/{review}/", timeout=10)
        assert page.status_code == 200
        # The page's first edit sends a heartbeat, which keeps the notes as a draft on the server.
        beat = browser.post(
            f"{base}/reviews/{review}/heartbeat/",
            data={"reviewer_notes": "Speaker 2 is mislabelled", "corrections": ""},
            headers=_csrf(browser),
            timeout=10,
        )
        assert beat.json()["ok"]

        site["cluster"].stop()
        timings = {}
        for what, call in {
            "page": lambda: browser.get(f"{base}/jobs/", timeout=30),
            "api": lambda: requests.get(f"{base}/api/jobs/", headers=api, timeout=30),
            # The schema's token check meets the database outside the API's own handler.
            "api schema": lambda: requests.get(f"{base}/api/openapi.json", headers=api, timeout=30),
            "decision": lambda: browser.post(
                f"{base}/reviews/{review}/decide/",
                data={"approved": "yes", "reviewer_notes": "Speaker 2 is mislabelled, and more"},
                headers=_csrf(browser),
                timeout=30,
            ),
            "health": lambda: requests.get(f"{base}/health/", timeout=30),
        }.items():
            response, timings[what] = timed(call)
            assert response.status_code == 503, (what, response.status_code, response.text[:300])
            assert timings[what] < LIMIT, (what, timings[what])
            if what == "health":
                assert response.json()["status"] == "unhealthy"
            elif what.startswith("api"):
                assert "database is unavailable" in response.json()["detail"]
            else:
                assert "The database is unavailable" in response.text
                assert response.headers["Retry-After"] == "5"
        print(f"503 timings during the outage: {timings}")

        site["cluster"].start()
        first, took = timed(lambda: browser.get(f"{base}/reviews/{review}/", timeout=30))
        print(f"first request after PostgreSQL came back: {first.status_code} in {took:.2f} s")
        assert first.status_code == 200
        assert "Speaker 2 is mislabelled" in first.text  # the server's draft, offered back
        assert requests.get(f"{base}/health/", timeout=10).json()["status"] == "healthy"
        assert requests.get(f"{base}/api/jobs/", headers=api, timeout=10).status_code == 200


def test_an_outage_of_a_minute_still_recovers_on_the_first_request():
    """The pool's retries back off; they must not back off past the first request after."""
    with served_site() as site:
        base = site["base"]
        site["cluster"].stop()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # requests keep coming during the outage
            assert requests.get(f"{base}/health/", timeout=30).status_code == 503
            time.sleep(2)
        site["cluster"].start()
        response, took = timed(lambda: requests.get(f"{base}/health/", timeout=30))
        print(f"first /health/ after a 60 s outage: {response.status_code} in {took:.2f} s")
        assert response.status_code == 200


def _csrf(session) -> dict:
    return {"X-CSRFToken": session.cookies["csrftoken"], "Referer": "http://127.0.0.1/"}
