"""What is stored can always be shown (docs/design.md, Bad input and faults).

Rows are written through the ORM without validation, as old data or SQL would have them: every
text column holds a hostile value (a "/" in an id, "?", "#", "%", "..", right-to-left and
combining characters, markup, a spreadsheet formula, a value as long as the column allows), and
the JSON columns hold what Python cannot parse back (nesting beyond its recursion limit, a
5,000-digit number). Every page, export, admin list and change form, and API read that shows
such a row must answer.
"""

import pytest
from django.contrib import admin
from django.db import connection, models
from django.urls import reverse

from mediaanalysis.pipeline.models import (
    AnalysisJob,
    AnalysisResult,
    ApiToken,
    MediaFile,
    UserSession,
)
from reviews import services
from reviews.models import HITLReview, ReviewDraft
from tests.conftest import client_for

TOKEN = "mad_stored-data-reader-token"
HOSTILE = [
    "a/b",
    "50% off?#x",
    "..",
    "export",
    "\u202eevil\u202c",
    "e\u0301\u0301",
    "<script>alert(1)</script>",
    "=cmd|' /C calc'!A0",
    "line\nbreak",
    "x" * 600,  # cut to each column's length
]


def hostile_row(model, value, **fields):
    """A row whose every free-text column holds `value` (cut to the column's length)."""
    for field in model._meta.concrete_fields:
        free_text = isinstance(field, models.CharField | models.TextField) and not field.choices
        if free_text and field.name not in fields:
            fields[field.name] = value[: field.max_length] if field.max_length else value
    obj = model(**fields)
    obj.save()  # no full_clean(): old data never met today's rules
    return obj


@pytest.fixture(params=HOSTILE, ids=lambda v: repr(v[:12]))
def stored(request, db, admin_user):
    value = request.param
    ApiToken.objects.create(
        name="r", scope="read", prefix=TOKEN[:12], token_hash=ApiToken.hash(TOKEN)
    )
    session = hostile_row(UserSession, value)
    media = hostile_row(
        MediaFile, value, session_id=session.session_id, media_type="video", storage_backend="local"
    )
    media.contact_sheet_path = value[:200]  # the 300-character case has a test of its own below
    media.save()
    job = hostile_row(
        AnalysisJob, value, session_id=session.session_id, media_file=media, status="failed"
    )
    result = hostile_row(
        AnalysisResult,
        value,
        job=job,
        media_file=media,
        result_data={value: value, "nested": [{value: [value]}]},
        segments=[{"start": 0, "end": 1, "label": value}],
        confidence_score=0.9,
    )
    review = HITLReview.objects.create(analysis_result=result, reviewer_notes=value)
    services.claim_next(admin_user)
    ReviewDraft.objects.create(review=review, user=admin_user, notes=value, corrections=value)
    return {"session": session, "media": media, "job": job, "result": result, "review": review}


def urls_showing(rows) -> list[str]:
    session, media, job, result, review = (
        rows[k] for k in ("session", "media", "job", "result", "review")
    )
    pages = [
        "/jobs/",
        "/results/",
        "/files/",
        "/sessions/",
        "/reviews/",
        "/dashboard/",
        job.get_absolute_url(),
        result.get_absolute_url(),
        media.get_absolute_url(),
        session.get_absolute_url(),
        review.get_absolute_url(),
        f"/jobs/?session_id={session.session_id}",
        "/jobs/export/",
        "/results/export/",
        "/files/export/",
        "/sessions/export/",
    ]
    for obj in (session, media, job, result, review):
        meta = obj._meta
        pages.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        pages.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk]))
    return pages


def body(response) -> str:
    if hasattr(response, "streaming_content"):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def test_every_page_export_and_admin_view_shows_rows_holding_hostile_text(stored, admin_user):
    client = client_for(admin_user)
    for url in urls_showing(stored):
        response = client.get(url)
        assert response.status_code == 200, f"{url}: {response.status_code}"
        body(response)


def test_every_row_links_to_its_session_whatever_its_id_holds(stored, admin_user):
    session = stored["session"]
    page = client_for(admin_user).get("/jobs/").content.decode()
    link = session.get_absolute_url()
    assert f'href="{link}"' in page
    assert client_for(admin_user).get(link).context["session_id"] == session.session_id


def test_the_api_reads_back_every_stored_row(stored):
    client = client_for_token()
    session_path = stored["session"].session_id.replace("%", "%25").replace("/", "%2F")
    session_path = session_path.replace("?", "%3F").replace("#", "%23").replace("\n", "%0A")
    urls = [
        "/api/sessions/",
        "/api/files/",
        "/api/jobs/",
        "/api/results/",
        "/api/reviews/",
        f"/api/files/{stored['media'].pk}",
        f"/api/jobs/{stored['job'].pk}",
        f"/api/results/{stored['result'].pk}",
        f"/api/reviews/{stored['review'].pk}",
    ]
    for url in urls:
        assert client.get(url).status_code == 200, url
    # Every session it holds can be read back by its id, "/" and all.
    response = client.get(f"/api/sessions/{session_path}")
    assert response.status_code == 200, response.content
    assert response.json()["session_id"] == stored["session"].session_id


def client_for_token():
    from django.test import Client

    return Client(headers={"Authorization": f"Bearer {TOKEN}"})


@pytest.mark.django_db
def test_json_that_python_cannot_parse_back_still_shows(admin_user):
    """An old row written by SQL: nested deeper than Python's parser goes, and 5,000 digits."""
    from tests.conftest import make_result

    result = make_result()
    # Deeper than Python parses (SQLite itself stores at most 1,000 levels).
    levels = 5000 if connection.vendor == "postgresql" else 999
    deep = "[" * levels + "]" * levels
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE analysis_results SET result_data = %s{'::jsonb' if connection.vendor == 'postgresql' else ''}, "
            f"segments = %s{'::jsonb' if connection.vendor == 'postgresql' else ''} WHERE id = %s",
            ['{"n": ' + "9" * 5000 + "}", deep, result.pk],
        )
    client = client_for(admin_user)
    meta = AnalysisResult._meta
    for url in (
        result.get_absolute_url(),
        "/results/",
        reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[result.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    assert "cannot be read here" in client.get(result.get_absolute_url()).content.decode()


@pytest.mark.django_db
def test_a_300_character_contact_sheet_path_does_not_break_the_file_page(admin_user):
    media = MediaFile.objects.create(
        session_id="s-long",
        original_filename="a.mp4",
        media_type="video",
        contact_sheet_path="c" * 300,
    )
    assert client_for(admin_user).get(media.get_absolute_url()).status_code == 200


def test_the_stored_data_covers_every_text_column_of_the_registered_models():
    covered = {UserSession, MediaFile, AnalysisJob, AnalysisResult}
    assert covered <= set(admin.site._registry)


@pytest.mark.django_db
def test_moments_stored_at_the_calendars_ends_are_moved_a_day_inside_where_pages_show_them(
    admin_user, settings
):
    """The API clamped moments to the calendar's very ends until 2026-12-02; a page of a site
    east (or west) of UTC could not show them. Migration 0010 moves them a day inside, and the
    admin refuses new ones."""
    from datetime import UTC, datetime
    from importlib import import_module

    from django.apps import apps

    from tests.conftest import make_job, make_session

    session = make_session(session_id="s-edge")
    job = make_job(session_id="s-edge", status="completed")
    AnalysisJob.objects.filter(pk=job.pk).update(
        started_at=datetime.min.replace(tzinfo=UTC), completed_at=datetime.max.replace(tzinfo=UTC)
    )
    UserSession.objects.filter(pk=session.pk).update(
        last_activity=datetime.max.replace(tzinfo=UTC), ended_at=datetime.max.replace(tzinfo=UTC)
    )

    import_module("mediaanalysis.pipeline.migrations.0010_moments_a_day_inside_the_calendar").clamp(
        apps, None
    )

    job.refresh_from_db()
    session.refresh_from_db()
    assert (job.started_at.date(), job.completed_at.date()) == (
        datetime(1, 1, 2).date(),
        datetime(9999, 12, 30).date(),
    )
    assert (
        session.last_activity
        == session.ended_at
        == datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)
    )
    client = client_for(admin_user)
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        settings.TIME_ZONE = zone
        for url in ("/jobs/", job.get_absolute_url(), "/sessions/", session.get_absolute_url()):
            assert client.get(url).status_code == 200, (zone, url)
    # The admin refuses a new one (in a zone west of UTC, 9999-12-31 23:59 is past the end).
    change = reverse("admin:mediaanalysis_usersession_change", args=[session.pk])
    form = client.get(change).context["adminform"].form
    data = {
        name: field.widget.format_value(form.initial.get(name)) or ""
        for name, field in form.fields.items()
        if not isinstance(form.initial.get(name), datetime)
    }
    data |= {"last_activity_0": "9999-12-31", "last_activity_1": "23:59:59"}
    data |= {"started_at_0": "2026-01-01", "started_at_1": "00:00:00"}
    response = client.post(change, data)
    assert "Must be between 0001-01-02 and 9999-12-30" in response.content.decode()
