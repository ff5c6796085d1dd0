"""The lists' filters as a manager meets them: an export never drops a filter it did not
understand, addresses carry no empty parameters, dates are ISO, shared id prefixes do not hide
the ids, and a session is active only while it is being used."""

from datetime import timedelta

import pytest
from django.forms.renderers import Jinja2
from django.utils import timezone

from mediaanalysis.templatetags.listing import middle
from tests.conftest import make_job, make_session

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("/jobs/export/?status=failed&created_after=yesterday", "Created from: Enter a valid"),
        ("/jobs/export/?status=failed&stauts=pending", "“stauts” is not a filter of this list."),
        ("/results/export/?confidence_min=2", "Confidence ≥: Ensure this value is less than"),
        ("/files/export/?media_type=film", "Media type: Select a valid choice."),
        ("/sessions/export/?state=asleep", "State: Select a valid choice."),
    ],
)
def test_an_export_with_a_filter_it_did_not_understand_refuses_and_says_which(
    manager_client, url, named
):
    make_job(status="failed")
    response = manager_client.get(url)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "The export was not made" in response.text and named in response.text
    list_url = url.replace("export/", "")
    assert f'href="{list_url.replace("&", "&amp;")}"' in response.text


def test_a_list_with_a_filter_it_did_not_understand_says_so_and_offers_no_export(manager_client):
    make_job()
    text = manager_client.get("/jobs/?stauts=failed").text
    assert "“stauts” is not a filter of this list." in text
    assert 'href="/jobs/export/' not in text and 'aria-disabled="true"' in text
    assert 'href="/jobs/export/?status=failed"' in manager_client.get("/jobs/?status=failed").text


def test_a_plain_submission_with_empty_fields_goes_to_the_clean_address(manager_client):
    response = manager_client.get("/jobs/?job_type=&session_id=&status=failed&sort=&per_page=25")
    assert response.status_code == 302
    assert response["Location"] == "/jobs/?status=failed&per_page=25"
    assert manager_client.get("/sessions/?state=&ip_address=")["Location"] == "/sessions/"


def test_an_htmx_request_is_answered_as_it_is(manager_client):
    response = manager_client.get("/jobs/?job_type=&status=failed", headers={"HX-Request": "true"})
    assert response.status_code == 200


def test_date_filters_are_iso_text_boxes(manager_client):
    text = manager_client.get("/jobs/?created_after=2026-11-01T09:30").text
    box = (
        text.split('name="created_after"')[0].rsplit("<input", 1)[1]
        + text.split('name="created_after"')[1].split(">")[0]
    )
    assert 'type="text"' in box and 'placeholder="YYYY-MM-DD"' in box
    assert r'pattern="\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?"' in box
    assert 'value="2026-11-01T09:30"' in box  # a dashboard link's time is kept
    assert 'type="date"' not in text


def test_session_ids_that_share_a_prefix_are_cut_in_the_middle(manager_client):
    assert middle("demo-c6b28800-f435-008d-d8a1-06828ea") == "demo-c6…6828ea"
    assert middle("sess-media") == "sess-media"
    make_job(session_id="demo-c6b28800-f435-008d-d8a1-06828ea")
    make_job(session_id="demo-c6b28800-f435-008d-d8a1-99999aa")
    text = manager_client.get("/jobs/").text
    assert ">demo-c6…6828ea</a>" in text and ">demo-c6…9999aa</a>" in text


def test_a_session_is_active_while_seen_lately_and_idle_after(manager_client, settings):
    settings.SESSION_ACTIVE_WITHIN = 1800
    now = timezone.now()
    make_session(session_id="sess-now", last_activity=now - timedelta(minutes=5))
    make_session(session_id="sess-fortnight", last_activity=now - timedelta(days=14))
    make_session(session_id="sess-over", last_activity=now, ended_at=now)
    text = manager_client.get("/sessions/").text
    assert "seen in the last 30 min 00 s" in text  # the page says what active means

    def state_of(session_id):
        row = text.split(f">{session_id}</a>")[1].split("</tr>")[0]
        return next(word for word in ("active", "idle", "ended") if f">{word}<" in row)

    assert [state_of(s) for s in ("sess-now", "sess-fortnight", "sess-over")] == [
        "active",
        "idle",
        "ended",
    ]
    active = manager_client.get("/sessions/?state=active").context["rows"]
    assert [s.session_id for s in active] == ["sess-now"]
    idle = manager_client.get("/sessions/?state=idle").context["rows"]
    assert [s.session_id for s in idle] == ["sess-fortnight"]


@pytest.mark.parametrize("url", ["/jobs/", "/results/", "/files/", "/sessions/", "/reviews/"])
def test_every_filter_bar_is_drawn_by_jinja2_with_the_same_widgets(manager_client, url):
    """Jinja2 draws a list's dozen widgets several times faster (docs/performance.md); the
    widgets, our suggestion box among them, stay the same."""
    make_job(job_type="transcription")
    response = manager_client.get(url)
    form = response.context["form"]
    assert isinstance(form.renderer, Jinja2)
    for field in form.visible_fields():
        assert f'name="{field.html_name}"' in response.text
    if url == "/jobs/":
        assert '<datalist id="id_job_type-suggestions"><option value="transcription">' in (
            response.text
        )
