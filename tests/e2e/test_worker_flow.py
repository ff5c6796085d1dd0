from io import StringIO

import pytest
import requests
from django.core.management import call_command
from playwright.sync_api import expect

from tests.e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class Worker:
    """A pipeline worker: plain HTTP with its bearer token, as a real one would send."""

    def __init__(self, base_url, token):
        self.base_url = base_url
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def send(self, method, path, payload=None, expect_status=200):
        response = self.http.request(method, self.base_url + path, json=payload, timeout=10)
        assert response.status_code == expect_status, response.text
        return response.json()


def test_a_worker_reports_through_the_api_and_people_see_it_live(
    new_page, live_server, manager, reviewer
):
    out = StringIO()
    call_command(
        "create_api_token", "transcoder-1", "--scope", "write", stdout=out, stderr=StringIO()
    )
    worker = Worker(live_server.url, out.getvalue().strip())

    session = worker.send("POST", "/api/sessions/", {"user_agent": "transcoder/1.0"}, 201)
    sid = session["session_id"]
    media = worker.send(
        "POST",
        "/api/files/",
        {"session_id": sid, "original_filename": "keynote.mp4", "media_type": "video"},
        201,
    )
    job = worker.send(
        "POST",
        "/api/jobs/",
        {"session_id": sid, "job_type": "transcription", "media_file_id": media["id"]},
        201,
    )
    worker.send("PATCH", f"/api/jobs/{job['id']}", {"status": "processing", "progress": 0.1})

    manager_page = new_page()
    login(manager_page, manager)
    manager_page.goto(f"/jobs/{job['id']}/")
    expect(manager_page.locator("#job-status")).to_have_text("Processing")
    expect(manager_page.locator("#job-progress-value")).to_have_text("10.0%")
    manager_page.evaluate("window.stillTheSamePage = true")

    worker.send("PATCH", f"/api/jobs/{job['id']}", {"progress": 0.55})
    expect(manager_page.locator("#job-progress-value")).to_have_text("55.0%")
    assert manager_page.evaluate("window.stillTheSamePage") is True  # no reload: htmx swapped it
    worker.send("PATCH", f"/api/jobs/{job['id']}", {"status": "completed"})
    expect(manager_page.locator("#job-status")).to_have_text("Completed")
    expect(manager_page.locator("#job-progress-value")).to_have_text("100.0%")
    # Finished: the whole page is reloaded, so the details beside the progress are current too.
    expect(manager_page.locator("aside tr", has_text="Processing time")).not_to_contain_text("—")

    result = worker.send(
        "POST",
        "/api/results/",
        {
            "job_id": job["id"],
            "media_file_id": media["id"],
            "analysis_type": "audio",
            "model_used": "whisper-large-v3",
            "confidence_score": 0.31,
            "transcript": "Welcome, everyone.",
        },
        201,
    )
    review = worker.send("GET", f"/api/reviews/?result_id={result['id']}")["items"][0]
    assert review["status"] == "pending"

    reviewer_page = new_page()
    login(reviewer_page, reviewer)
    reviewer_page.goto("/reviews/")
    row = reviewer_page.locator("#upcoming tbody tr", has_text=f"#{review['id']}")
    expect(row).to_contain_text("whisper-large-v3")
    expect(row).to_contain_text("0.31")
    row.get_by_role("link", name=f"#{review['id']}").click()
    reviewer_page.wait_for_url(f"**/reviews/{review['id']}/")
    expect(reviewer_page.get_by_text("Welcome, everyone.").first).to_be_visible()
