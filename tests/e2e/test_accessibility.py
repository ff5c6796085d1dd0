"""Every page type, checked by axe-core in Chromium: no serious or critical WCAG 2 A/AA
violations, for the role that uses the page."""

import pytest

from reviews.models import HITLReview
from tests.conftest import make_file, make_job, make_result, make_session
from tests.e2e.conftest import accessibility_problems, login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def data():
    session = make_session(session_id="sess-axe-0001")
    media = make_file(session_id=session.session_id, original_filename="interview.mp4")
    job = make_job(session_id=session.session_id, media_file=media, status="completed")
    result = make_result(job=job, media_file=media, transcript="Hello there, axe.")
    review = HITLReview.objects.create(analysis_result=result, priority=2)
    return {"session": session, "media": media, "job": job, "result": result, "review": review}


# (who, how to build the URL from the data, the status the page answers)
PAGES = {
    "queue": ("reviewer", lambda d: "/reviews/", 200),
    "review page": ("reviewer", lambda d: f"/reviews/{d['review'].pk}/", 200),
    "results list": ("reviewer", lambda d: "/results/", 200),
    "result detail": ("reviewer", lambda d: f"/results/{d['result'].pk}/", 200),
    "jobs list": ("manager", lambda d: "/jobs/", 200),
    "job detail": ("manager", lambda d: f"/jobs/{d['job'].pk}/", 200),
    "files list": ("manager", lambda d: "/files/", 200),
    "file detail": ("manager", lambda d: f"/files/{d['media'].pk}/", 200),
    "sessions list": ("manager", lambda d: "/sessions/", 200),
    "session detail": ("manager", lambda d: f"/sessions/{d['session'].session_id}/", 200),
    "dashboard": ("manager", lambda d: "/dashboard/", 200),
    "search": ("reviewer", lambda d: "/results/?q=hello", 200),
    "admin index": ("admin_user", lambda d: "/admin/", 200),
    "admin changelist": ("admin_user", lambda d: "/admin/reviews/hitlreview/", 200),
    "admin change form": (
        "admin_user",
        lambda d: f"/admin/reviews/hitlreview/{d['review'].pk}/change/",
        200,
    ),
    "404": ("reviewer", lambda d: "/reviews/999999/", 404),
    "403": ("reviewer", lambda d: "/dashboard/", 403),
}


@pytest.mark.parametrize("name", PAGES)
def test_the_page_has_no_serious_or_critical_accessibility_violations(
    name, request, new_page, data
):
    who, url, status = PAGES[name]
    page = new_page()
    login(page, request.getfixturevalue(who))
    response = page.goto(url(data))
    assert response.status == status
    page.wait_for_load_state("networkidle")
    assert accessibility_problems(page) == []


def test_the_login_page_has_no_serious_or_critical_accessibility_violations(new_page):
    page = new_page()
    page.goto("/accounts/login/")
    assert accessibility_problems(page) == []


def test_the_review_page_on_a_phone_has_no_serious_or_critical_accessibility_violations(
    browser, live_server, reviewer, data
):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        login(page, reviewer)
        page.goto(f"/reviews/{data['review'].pk}/")
        assert accessibility_problems(page) == []
    finally:
        context.close()
