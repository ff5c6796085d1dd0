"""A decision made in the browser reaches the pipeline's receiver, sent by a separate worker
process: the site, a `manage.py run_worker` and a receiver, all against one PostgreSQL."""

import os
import re
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection
from playwright.sync_api import expect
from standardwebhooks.webhooks import Webhook

from mediaanalysis.webhooks.models import Endpoint
from reviews.models import HITLReview
from tests.conftest import make_result
from tests.e2e.conftest import login
from tests.webhook_receiver import Receiver

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def worker_process():
    """`manage.py run_worker` in its own process, on the test's database."""
    db = connection.settings_dict
    env = os.environ | {
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--interval", "0.2"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    yield process
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


def test_a_decision_in_the_browser_reaches_the_receiver_within_seconds(
    new_page, reviewer, receiver, worker_process
):
    endpoint = Endpoint.objects.create(url=receiver.url, events=["review.decided"])
    review = HITLReview.objects.create(analysis_result=make_result(transcript="Hello there."))

    page = new_page()
    login(page, reviewer)
    page.goto("/reviews/")
    page.get_by_role("button", name="Claim next").click()
    page.wait_for_url(re.compile(rf"/reviews/{review.pk}/$"))
    page.fill("#id_reviewer_notes", "Sounds right.")
    page.get_by_role("button", name=re.compile("Reject")).click()
    expect(page.locator(".messages")).to_contain_text(f"Review #{review.pk} saved")
    decided = time.monotonic()

    # Seconds on a quiet machine (the bench measures the delay); the margin is for a worker
    # process still importing Django on a busy one.
    while not receiver.received and time.monotonic() - decided < 60:
        assert worker_process.poll() is None, worker_process.stderr.read().decode()
        time.sleep(0.05)

    assert len(receiver.received) == 1, "the worker sent nothing within 60 s"
    request = receiver.received[0]
    payload = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert payload["data"]["review_id"] == review.pk
    assert (payload["data"]["decision"], payload["data"]["notes"]) == ("no", "Sounds right.")
    assert payload["data"]["reviewer"] == reviewer.username
