"""The pages that browse jobs, results, media files and sessions (issue 3).

Filters, sorting and pagination with good input; garbage in every parameter; query counts
pinned at 10 and 100 rows; htmx fragments and expired sessions; CSV exports; live progress;
contact sheets; roles; soft-deleted rows.
"""

import csv
import io
import re
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest
import time_machine
from django.db import connection
from django.http import FileResponse, StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mediaanalysis.pipeline import pagination
from mediaanalysis.pipeline.models import AnalysisJob, AnalysisResult, MediaFile, UserSession
from reviews.models import HITLReview, ReviewEvent
from tests.conftest import client_for, make_file, make_job, make_result, make_session

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The test users need no strong hash; PBKDF2 would take most of this file's run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


LISTS = ["job-list", "result-list", "file-list", "session-list"]
EXPORTS = ["job-export", "result-export", "file-export", "session-export"]

# Measured on SQLite and PostgreSQL. A list: the user with their roles (one query), one query
# per list of filter choices (cached after the first request; every test starts with an empty
# cache), the bounded count, the page's ids and then its rows (a deferred join). A detail page:
# the user with their roles, the row, and one query per related list (prefetched, so their
# length does not matter).
# The results list reads, for a manager, their last send to review that can still be undone.
LIST_QUERIES = {"job-list": 5, "result-list": 7, "file-list": 6, "session-list": 4}
DETAIL_QUERIES = {
    "job-detail": 4,
    "job-progress": 2,
    "result-detail": 5,
    "file-detail": 5,
    "session-detail": 5,
}


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A moment in March 2026 (UTC, the project's TIME_ZONE)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def shown(response) -> list[int]:
    """The ids of the rows a list page shows, in order."""
    assert response.status_code == 200
    return [row.pk for row in response.context["rows"]]


def alert(response) -> str:
    """The text of the "filters not understood" notice ('' when there is none)."""
    text = response.text
    start = text.find('role="alert"')
    if start == -1:
        return ""
    return text[start : text.find("</div>", start)]


def csv_rows(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def review(result, decision=None, created_at=None, reviewer=None):
    """An open review of `result`, or a completed one with `decision` (yes, no, needs_changes)."""
    fields = {"analysis_result": result}
    if decision:
        fields |= {
            "status": "completed",
            "approved": decision,
            "reviewed_by": reviewer,
            "reviewed_at": created_at or at(20),
        }
    if created_at:
        fields["created_at"] = created_at
    return HITLReview.objects.create(**fields)


# Jobs


@pytest.fixture
def jobs():
    video = make_file(media_type="video", original_filename="lecture.mp4")
    audio = make_file(media_type="audio", original_filename="call.wav")
    return {
        "pending": make_job(
            status="pending", session_id="sess-a", media_file=video, created_at=at(1)
        ),
        "processing": make_job(
            status="processing",
            job_type="video_analysis",
            session_id="sess-b",
            media_file=audio,
            progress=0.4,
            created_at=at(2, 9),
        ),
        "completed": make_job(
            status="completed",
            job_type="video_analysis",
            session_id="sess-b",
            progress=1.0,
            created_at=at(3, 23, 59),
        ),
        "failed": make_job(
            status="failed",
            session_id="sess-a",
            media_file=video,
            error_message="Timeout while decoding frame 12",
            created_at=at(4),
        ),
        "failed_blank": make_job(status="failed", error_message="", created_at=at(5)),
    }


JOB_FILTERS = [
    ("status=pending&status=failed", {"pending", "failed", "failed_blank"}),
    ("status=processing", {"processing"}),
    ("job_type=video_analysis", {"processing", "completed"}),
    ("session_id=sess-b", {"processing", "completed"}),
    ("session_id=%20sess-b%20", {"processing", "completed"}),
    ("media_type=video", {"pending", "failed"}),
    ("media_type=audio", {"processing"}),
    ("created_after=2026-03-02", {"processing", "completed", "failed", "failed_blank"}),
    ("created_before=2026-03-03", {"pending", "processing", "completed"}),
    ("created_after=2026-03-02&created_before=2026-03-03", {"processing", "completed"}),
    ("created_after=2026-03-02T10:00", {"completed", "failed", "failed_blank"}),
    ("created_before=2026-03-02T10:00", {"pending", "processing"}),
    ("has_error=true", {"failed"}),
    ("has_error=false", {"pending", "processing", "completed", "failed_blank"}),
    ("error=DECODING", {"failed"}),
    ("status=failed&has_error=false", {"failed_blank"}),
    ("status=pending&status=completed&session_id=sess-b", {"completed"}),
]


@pytest.mark.parametrize(("query", "expected"), JOB_FILTERS)
def test_job_filters_keep_exactly_the_matching_jobs(manager_client, jobs, query, expected):
    response = manager_client.get("/jobs/?" + query)
    assert set(shown(response)) == {jobs[name].pk for name in expected}
    assert alert(response) == ""


def test_job_list_shows_each_jobs_columns(manager_client, jobs):
    failed = jobs["failed"]
    failed.retry_count = 2
    failed.started_at = at(4, 12, 1)
    failed.completed_at = at(4, 12, 4)
    failed.save()
    text = manager_client.get("/jobs/?status=failed&has_error=true").text
    assert f'href="/jobs/{failed.pk}/"' in text
    assert 'class="badge failed"' in text
    assert "Timeout while decoding frame 12" in text  # the error, as the warning sign's title
    assert "lecture.mp4" in text and f'href="/files/{failed.media_file_id}/"' in text
    assert 'href="/sessions/sess-a/"' in text
    assert "2/3" in text  # retries of max retries
    assert "2026-03-04 12:00" in text and "2026-03-04 12:04" in text
    assert "3 min 00 s" in text  # duration
    assert "<strong>1</strong> jobs" in text


def test_job_list_shows_newest_first_with_the_id_as_tiebreaker(manager_client):
    older = make_job(created_at=at(1))
    same_a = make_job(created_at=at(2))
    same_b = make_job(created_at=at(2))
    assert shown(manager_client.get("/jobs/")) == [same_b.pk, same_a.pk, older.pk]


SORTS = {
    "job-list": ["created", "-created", "id", "-id"],
    "result-list": ["created", "-created", "confidence", "-confidence"],
    "file-list": ["created", "-created", "id", "-id"],
    "session-list": ["activity", "-activity", "started", "-started"],
}


@pytest.fixture
def tied_rows():
    """Seven rows per list whose sort keys tie in pairs, so only the id can order them."""
    for n in range(7):
        moment = at(1 + n // 2)
        media = make_file(created_at=moment)
        job = make_job(media_file=media, created_at=moment)
        make_result(job=job, confidence_score=0.7 + 0.1 * (n // 2), created_at=moment)
        make_session(started_at=moment, last_activity=at(10 - n // 2))


SORT_KEYS = {
    "created": lambda row: row.created_at,
    "id": lambda row: row.pk,
    "confidence": lambda row: row.confidence_score,
    "activity": lambda row: row.last_activity,
    "started": lambda row: row.started_at,
}
MODELS = {
    "job-list": AnalysisJob,
    "result-list": AnalysisResult,
    "file-list": MediaFile,
    "session-list": UserSession,
}


@pytest.mark.parametrize(
    ("name", "sort"), [(name, sort) for name, sorts in SORTS.items() for sort in sorts]
)
def test_every_sort_is_a_total_order_so_pages_never_overlap(manager_client, tied_rows, name, sort):
    rows = list(MODELS[name].objects.all())
    key = SORT_KEYS[sort.lstrip("-")]
    expected = [
        row.pk
        for row in sorted(rows, key=lambda row: (key(row), row.pk), reverse=sort.startswith("-"))
    ]
    url = reverse(name)
    paged = []
    for page in (1, 2, 3, 4):
        paged += shown(manager_client.get(url, {"sort": sort, "per_page": 2, "page": page}))
    assert paged == expected


def test_sorting_keeps_the_filters_and_the_header_link_toggles_direction(manager_client, jobs):
    response = manager_client.get("/jobs/?status=failed&sort=created")
    assert shown(response) == [jobs["failed"].pk, jobs["failed_blank"].pk]
    assert 'href="?status=failed&amp;sort=-created"' in response.text
    assert 'aria-sort="ascending"' in response.text


def test_pages_split_the_filtered_jobs_and_the_pager_keeps_the_filter(manager_client):
    failed = [make_job(status="failed", created_at=at(1, minute=n)) for n in range(5)]
    make_job(status="completed")
    newest_first = [job.pk for job in reversed(failed)]
    pages = [
        shown(manager_client.get("/jobs/", {"status": "failed", "per_page": 2, "page": n}))
        for n in (1, 2, 3)
    ]
    assert pages == [newest_first[:2], newest_first[2:4], newest_first[4:]]
    text = manager_client.get("/jobs/?status=failed&per_page=2&page=2").text
    assert 'href="?status=failed&amp;per_page=2&amp;page=3" rel="next"' in text
    assert 'href="?status=failed&amp;per_page=2&amp;page=1" rel="prev"' in text
    assert "Rows 3–4 of" in text and "<strong>5</strong> jobs" in text
    assert "Page 2 of 3" in text


@pytest.mark.parametrize("per_page", [1, 100])
def test_per_page_takes_any_size_from_1_to_100(manager_client, per_page):
    for n in range(101):
        make_job(created_at=at(1, minute=n % 60))
    assert len(shown(manager_client.get("/jobs/", {"per_page": per_page}))) == per_page


def test_a_page_past_the_end_shows_the_last_page_and_says_so(manager_client):
    jobs = [make_job(created_at=at(1, minute=n)) for n in range(5)]
    response = manager_client.get("/jobs/", {"per_page": 2, "page": 99})
    assert shown(response) == [jobs[0].pk]
    assert "There are only 3 pages; this is the last one." in response.text


def test_a_page_past_the_end_says_so_inside_the_htmx_fragment_too(manager_client):
    for n in range(3):
        make_job(created_at=at(1, minute=n))
    response = manager_client.get("/jobs/?per_page=2&page=50", headers={"HX-Request": "true"})
    assert "There are only 2 pages; this is the last one." in response.text
    later = manager_client.get("/jobs/").text
    assert "There are only 2 pages" not in later  # no stale notice on the next page


# Results


@pytest.fixture
def results(reviewer, settings):
    # Every review here is made by the test, none by the automatic low-confidence rule.
    settings.REVIEW_CONFIDENCE_THRESHOLD = 0.5

    def result(session_id, created_at, **fields):
        job = make_job(session_id=session_id, status="completed", progress=1.0)
        return make_result(job=job, created_at=created_at, **fields)

    rows = {
        "never": result(
            "sess-a", at(1), analysis_type="audio", confidence_score=0.95, transcript="hello"
        ),
        "pending": result(
            "sess-b",
            at(2),
            analysis_type="video",
            model_used="clip-vit-l",
            confidence_score=0.55,
            transcript=None,
        ),
        "approved": result(
            "sess-b",
            at(3),
            analysis_type="document",
            model_used="layoutlm-v3",
            confidence_score=0.7,
            transcript="",
        ),
        "rejected": result(
            "sess-c", at(4), analysis_type="video", model_used="clip-vit-l", confidence_score=0.8
        ),
        "needs_changes": result(
            "sess-c", at(5), analysis_type="audio", confidence_score=None, transcript="hi"
        ),
    }
    review(rows["pending"])
    review(rows["approved"], "yes", reviewer=reviewer)
    review(rows["rejected"], "no", reviewer=reviewer)
    review(rows["needs_changes"], "needs_changes", reviewer=reviewer)
    return rows


RESULT_FILTERS = [
    ("analysis_type=video", {"pending", "rejected"}),
    ("model=clip-vit-l", {"pending", "rejected"}),
    ("model=whisper-large-v3&analysis_type=audio", {"never", "needs_changes"}),
    ("confidence_min=0.7", {"never", "approved", "rejected"}),
    ("confidence_max=0.7", {"pending", "approved"}),
    ("confidence_min=0.6&confidence_max=0.9", {"approved", "rejected"}),
    ("confidence_min=0&confidence_max=1", {"never", "pending", "approved", "rejected"}),
    ("session_id=sess-b", {"pending", "approved"}),
    ("has_transcript=true", {"never", "needs_changes"}),
    ("has_transcript=false", {"pending", "approved", "rejected"}),
    ("review_state=never", {"never"}),
    ("review_state=pending", {"pending"}),
    ("review_state=approved", {"approved"}),
    ("review_state=rejected", {"rejected"}),
    ("review_state=needs_changes", {"needs_changes"}),
    ("created_after=2026-03-02&created_before=2026-03-04", {"pending", "approved", "rejected"}),
    ("analysis_type=video&review_state=rejected", {"rejected"}),
]


@pytest.mark.parametrize(("query", "expected"), RESULT_FILTERS)
def test_result_filters_keep_exactly_the_matching_results(manager_client, results, query, expected):
    response = manager_client.get("/results/?" + query)
    assert set(shown(response)) == {results[name].pk for name in expected}
    assert alert(response) == ""


def test_result_list_filters_by_job(manager_client, results):
    job = results["rejected"].job
    response = manager_client.get("/results/", {"job": job.pk})
    assert shown(response) == [results["rejected"].pk]
    assert f'name="job" value="{job.pk}"' in response.text  # kept when other filters change


def test_result_list_shows_the_review_state_of_each_result(manager_client, results):
    text = manager_client.get("/results/").text
    assert 'class="badge yes">approved' in text
    assert 'class="badge no">rejected' in text
    assert 'class="badge needs_changes">needs changes' in text
    assert 'class="badge pending">pending' in text
    assert '<span class="muted small">never</span>' in text


def test_result_rows_are_drawn_by_jinja2_escaped_and_in_local_time(
    manager_client, reviewer_client, monkeypatch, settings
):
    """The results list's rows are its hot loop, drawn by Jinja2 (mediaanalysis.jinja) with
    the same helpers as the template language: escaped, in the site's time zone, figures as
    floatformat gives them, a tick box only for those who may send to review."""
    from django.template import engines

    drawn = []
    real = engines["jinja2"].get_template
    monkeypatch.setattr(
        engines["jinja2"], "get_template", lambda name: drawn.append(name) or real(name)
    )
    settings.TIME_ZONE = "Asia/Tokyo"
    job = make_job(session_id="sess-<b>", status="completed", job_type="full")
    result = make_result(
        job=job,
        model_used="<script>alert(1)</script>",
        confidence_score=0.125,
        frames_extracted=0,
        created_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC),
    )
    text = manager_client.get("/results/").text
    assert drawn == ["pages/_result_rows.html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>alert" not in text
    assert f'<a href="/results/{result.pk}/">#{result.pk}</a>' in text
    assert f'<a href="/jobs/{job.pk}/">#{job.pk}</a> <span class="muted small">full</span>' in text
    assert 'title="sess-&lt;b&gt;">sess-&lt;b&gt;</a>' in text
    assert '<span class="bar-label">0.13</span>' in text  # floatformat rounds half up
    assert '<td class="num">—</td>' in text  # no frames
    assert ">2026-03-02 08:30</td>" in text  # Tokyo
    assert f'value="{result.pk}" form="enqueue"' in text
    assert f'value="{result.pk}" form="enqueue"' not in reviewer_client.get("/results/").text


def test_review_state_is_the_latest_reviews_as_the_review_column_shows_it(manager_client, reviewer):
    result = make_result(confidence_score=0.9)
    review(result, "yes", created_at=at(1), reviewer=reviewer)
    review(result, "no", created_at=at(2), reviewer=reviewer)
    assert shown(manager_client.get("/results/?review_state=rejected")) == [result.pk]
    assert shown(manager_client.get("/results/?review_state=approved")) == []
    assert 'class="badge no">rejected' in manager_client.get("/results/").text
    review(result, created_at=at(3))  # sent to review again
    assert shown(manager_client.get("/results/?review_state=pending")) == [result.pk]
    assert shown(manager_client.get("/results/?review_state=rejected")) == []


def test_a_soft_deleted_review_leaves_the_result_never_reviewed(manager_client, reviewer):
    result = make_result(confidence_score=0.9)
    review(result, "yes", reviewer=reviewer).soft_delete()
    assert shown(manager_client.get("/results/?review_state=never")) == [result.pk]
    assert shown(manager_client.get("/results/?review_state=approved")) == []


# Files


@pytest.fixture
def files():
    return {
        "video": make_file(
            media_type="video",
            mime_type="video/mp4",
            session_id="sess-a",
            original_filename="Lecture-01.mp4",
            created_at=at(1),
        ),
        "audio": make_file(
            media_type="audio",
            mime_type="audio/wav",
            session_id="sess-b",
            storage_backend="s3",
            original_filename="call.wav",
            created_at=at(2),
        ),
        "document": make_file(
            media_type="document",
            mime_type="application/pdf",
            session_id="sess-b",
            storage_backend="r2",
            original_filename="lecture-notes.pdf",
            created_at=at(3),
        ),
        "image": make_file(
            media_type="image",
            mime_type="image/png",
            session_id="sess-c",
            original_filename="slide.png",
            created_at=at(4),
        ),
    }


FILE_FILTERS = [
    ("media_type=audio", {"audio"}),
    ("mime_type=application/pdf", {"document"}),
    ("session_id=sess-b", {"audio", "document"}),
    ("storage_backend=local", {"video", "image"}),
    ("filename=LECTURE", {"video", "document"}),
    ("created_after=2026-03-02&created_before=2026-03-03", {"audio", "document"}),
    ("session_id=sess-b&storage_backend=r2", {"document"}),
]


@pytest.mark.parametrize(("query", "expected"), FILE_FILTERS)
def test_file_filters_keep_exactly_the_matching_files(manager_client, files, query, expected):
    response = manager_client.get("/files/?" + query)
    assert set(shown(response)) == {files[name].pk for name in expected}
    assert alert(response) == ""


def test_file_list_shows_sizes_in_human_units_and_durations(manager_client):
    make_file(
        file_size=1_572_864,
        duration_seconds=125,
        frame_count=375,
        extraction_method="3fps",
        mime_type="video/mp4",
    )
    text = manager_client.get("/files/").text
    assert "1.5\xa0MB" in text
    assert "2 min 05 s" in text
    assert "375" in text and "3fps" in text and "video/mp4" in text


# Sessions


@pytest.fixture
def sessions():
    return {
        "active": make_session(
            session_id="sess-active",
            ip_address="10.0.0.1",
            started_at=at(1),
            last_activity=at(9),
        ),
        "ended": make_session(
            session_id="sess-ended",
            ip_address="10.0.0.2",
            started_at=at(2),
            last_activity=at(3),
            ended_at=at(3),
        ),
        "other": make_session(
            session_id="sess-other",
            ip_address="192.168.1.9",
            started_at=at(5),
            last_activity=at(6),
        ),
    }


SESSION_FILTERS = [
    ("session_id=sess-ended", {"ended"}),
    ("ip_address=10.0.0.1", {"active"}),
    # At 12:10 on the 9th: sess-active was seen 10 minutes ago, sess-other three days ago.
    ("state=active", {"active"}),
    ("state=idle", {"other"}),
    ("state=ended", {"ended"}),
    ("started_after=2026-03-02", {"ended", "other"}),
    ("started_before=2026-03-02", {"active", "ended"}),
    ("started_after=2026-03-02&state=idle", {"other"}),
]


@pytest.mark.parametrize(("query", "expected"), SESSION_FILTERS)
def test_session_filters_keep_exactly_the_matching_sessions(
    manager_client, sessions, query, expected
):
    with time_machine.travel(at(9, 12, 10), tick=False):
        response = manager_client.get("/sessions/?" + query)
    assert set(shown(response)) == {sessions[name].pk for name in expected}
    assert alert(response) == ""


def test_sessions_show_by_last_activity(manager_client, sessions):
    expected = [sessions[name].pk for name in ("active", "other", "ended")]
    assert shown(manager_client.get("/sessions/")) == expected


def test_session_list_counts_each_sessions_live_files_and_jobs(manager_client, sessions):
    for _ in range(3):
        make_file(session_id="sess-other")
    make_file(session_id="sess-other").soft_delete()
    make_job(session_id="sess-other")
    make_job(session_id="sess-other").soft_delete()
    make_job(session_id="sess-active")
    response = manager_client.get("/sessions/?session_id=sess-other")
    [row] = response.context["rows"]
    assert (row.file_count, row.job_count) == (3, 1)
    assert '<td class="num">3</td>\n          <td class="num">1</td>' in response.text


# Bad input: a clear message on a 200 page with the other filters applied


@pytest.fixture
def two_of_each():
    """For each list: two queries that each keep one row of two, and that row's id."""
    ocr = make_job(job_type="ocr", status="failed")
    make_job(job_type="transcription", status="pending")
    document = make_result(analysis_type="document", model_used="layoutlm-v3")
    make_result(analysis_type="audio")
    image = make_file(media_type="image", original_filename="slide.png")
    make_file(media_type="video")
    session = make_session(ip_address="10.0.0.1", ended_at=at(1))
    make_session(ip_address="10.0.0.2")
    return {
        "job-list": (["job_type=ocr", "status=failed"], ocr.pk),
        "result-list": (["analysis_type=document", "model=layoutlm-v3"], document.pk),
        "file-list": (["media_type=image", "filename=slide"], image.pk),
        "session-list": (["ip_address=10.0.0.1", "state=ended"], session.pk),
    }


def good_filter_beside(two_of_each, name, bad_query=""):
    """The list's good filter on another parameter than any in `bad_query`."""
    queries, kept = two_of_each[name]
    bad_keys = {part.split("=")[0] for part in bad_query.split("&")}
    return next(q for q in queries if q.split("=")[0] not in bad_keys), kept


LONG = "x" * 10_000
COMMON_BAD = [
    ("page=abc", "Paging"),
    ("page=-1", "Paging"),
    (f"page={10**9}", "Paging"),
    ("page=1.5", "Paging"),
    ("page=%00", "Paging"),
    (f"page={'9' * 10_000}", "Paging"),
    ("per_page=0", "Paging"),
    ("per_page=100000", "Paging"),
    ("per_page=ten", "Paging"),
    ("sort=bogus", "Sort"),
    ("sort=%00", "Sort"),
    (f"session_id={LONG}", "Session id"),
    ("session_id=%00", "Session id"),
    ("session_id=abc%00def", "Session id"),
]
SPECIFIC_BAD = {
    "job-list": [
        ("status=bogus", "Status"),
        ("status=pending&status=bogus", "Status"),
        ("status=%00", "Status"),
        ("created_after=notadate", "Created from"),
        ("created_before=2026-02-30", "Created to"),
        ("created_after=%00", "Created from"),
        (f"created_after={LONG}", "Created from"),
        ("has_error=maybe", "Has error"),
        ("media_type=%ff%fe", "Media type"),
        (f"error={LONG}", "Error contains"),
        ("error=%00", "Error contains"),
    ],
    "result-list": [
        ("confidence_min=nan", "Confidence ≥"),
        ("confidence_max=inf", "Confidence ≤"),
        ("confidence_min=-inf", "Confidence ≥"),
        ("confidence_min=1.5", "Confidence ≥"),
        ("confidence_max=-0.1", "Confidence ≤"),
        (f"confidence_min={'9' * 10_000}", "Confidence ≥"),
        ("confidence_min=1e999999", "Confidence ≥"),
        ("created_after=notadate", "Created from"),
        ("review_state=bogus", "Review"),
        ("has_transcript=perhaps", "Transcript"),
        ("job=abc", "Job id"),
        (f"job={10**20}", "Job id"),
        (f"model={LONG}", "Model"),
    ],
    "file-list": [
        ("media_type=bogus", "Media type"),
        ("created_after=notadate", "Created from"),
        ("created_before=%ff%fe", "Created to"),
        ("filename=%00", "File name contains"),
        (f"mime_type={LONG}", "MIME type"),
    ],
    "session-list": [
        ("started_after=notadate", "Started from"),
        ("started_before=2026-13-01", "Started to"),
        ("state=bogus", "State"),
        (f"ip_address={LONG}", "IP address"),
        ("ip_address=%00", "IP address"),
    ],
}
BAD_INPUT = [
    pytest.param(name, query, label, id=f"{name}-{unquote(query)[:30]!r}")
    for name in LISTS
    for query, label in COMMON_BAD + SPECIFIC_BAD[name]
]


@pytest.mark.parametrize(("name", "query", "label"), BAD_INPUT)
def test_a_bad_value_is_named_on_a_200_page_and_the_other_filters_still_apply(
    manager_client, two_of_each, name, query, label
):
    good_query, kept = good_filter_beside(two_of_each, name, query)
    for full in (f"{good_query}&{query}", f"{query}&{good_query}"):
        response = manager_client.get(f"{reverse(name)}?{full}")
        assert response.status_code == 200
        notice = alert(response)
        assert "Some filters were not understood and are not applied" in notice
        assert f"<li>{label}: " in notice
        assert shown(response) == [kept]


@pytest.mark.parametrize("name", LISTS)
def test_every_bad_value_at_once_still_gives_a_page_with_the_good_filter(
    manager_client, two_of_each, name
):
    _, kept = two_of_each[name]
    bad = "&".join(query for query, _ in COMMON_BAD + SPECIFIC_BAD[name])
    for good_query in two_of_each[name][0]:
        key = good_query.split("=")[0]
        others = "&".join(q for q in bad.split("&") if not q.startswith(key + "="))
        response = manager_client.get(f"{reverse(name)}?{others}&{good_query}")
        assert response.status_code == 200
        assert shown(response) == [kept]


@pytest.mark.parametrize("name", LISTS)
def test_a_bad_value_in_an_htmx_request_is_named_inside_the_fragment(
    manager_client, two_of_each, name
):
    good_query, kept = good_filter_beside(two_of_each, name)
    response = manager_client.get(
        f"{reverse(name)}?page=abc&{good_query}", headers={"HX-Request": "true"}
    )
    assert "<html" not in response.text
    assert "Paging: Enter a whole number." in alert(response)
    assert shown(response) == [kept]


HOSTILE_BUT_VALID = [
    "session_id=%27%20OR%201%3D1%20--",
    "session_id=%ff%fe",
    "session_id=%E2%80%AE%F0%9F%98%80",
    "session_id=%3Cscript%3Ealert(1)%3C/script%3E",
]


@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize("query", HOSTILE_BUT_VALID)
def test_hostile_text_is_only_a_search_that_matches_nothing(
    manager_client, two_of_each, name, query
):
    before = MODELS[name].objects.count()
    response = manager_client.get(f"{reverse(name)}?{query}")
    assert shown(response) == []
    assert alert(response) == ""
    assert "<script>alert(1)" not in response.text
    assert MODELS[name].objects.count() == before


def test_what_the_user_typed_survives_a_bad_value(manager_client, two_of_each):
    typed = "s" * 37
    text = manager_client.get(
        f"/jobs/?session_id={typed}&created_after=notadate&status=failed"
    ).text
    assert f'value="{typed}"' in text
    assert 'value="notadate"' in text
    assert 'value="failed" id="id_status_3" checked' in text


def test_dates_at_the_edge_of_the_calendar_bound_nothing_and_do_not_fail(
    manager_client, two_of_each
):
    for query in (
        "created_after=0001-01-01",
        "created_before=9999-12-31",
        "created_after=0001-01-01T00:00",
        "created_before=9999-12-31T23:59",
    ):
        response = manager_client.get(f"/jobs/?{query}")
        assert len(shown(response)) == AnalysisJob.objects.count()
    assert shown(manager_client.get("/jobs/?created_after=9999-12-31")) == []


# Query counts: bounded, and the same for 10 and 100 rows


@pytest.fixture
def a_hundred_and_twenty_of_everything(reviewer):
    """120 rows in every table, each with its related rows, so that 100 rows fill a page."""
    sids = [f"sess-{n:03d}" for n in range(120)]
    files = MediaFile.objects.bulk_create(
        MediaFile(session_id=sid, original_filename=f"clip-{sid}.mp4", media_type="video")
        for sid in sids
    )
    jobs = AnalysisJob.objects.bulk_create(
        AnalysisJob(
            session_id=sid,
            job_type="transcription",
            media_file=media,
            error_message="boom" if n % 10 == 0 else None,
        )
        for n, (sid, media) in enumerate(zip(sids, files, strict=True))
    )
    results = AnalysisResult.objects.bulk_create(
        AnalysisResult(
            job=job, media_file=job.media_file, analysis_type="audio", confidence_score=n / 120
        )
        for n, job in enumerate(jobs)
    )
    HITLReview.objects.bulk_create(
        HITLReview(
            analysis_result=result,
            status="completed",
            approved=["yes", "no", "needs_changes"][n % 3],
            reviewed_by=reviewer,
        )
        if n % 2
        else HITLReview(analysis_result=result)
        for n, result in enumerate(results)
    )
    UserSession.objects.bulk_create(
        UserSession(session_id=sid, ip_address=f"10.0.0.{n}") for n, sid in enumerate(sids)
    )


@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize("per_page", [10, 100])
def test_a_list_page_runs_a_fixed_number_of_queries_whatever_its_size(
    manager_client,
    a_hundred_and_twenty_of_everything,
    django_assert_max_num_queries,
    name,
    per_page,
):
    assert LIST_QUERIES[name] <= 8
    with django_assert_max_num_queries(LIST_QUERIES[name]):
        response = manager_client.get(reverse(name), {"per_page": per_page})
    assert len(shown(response)) == per_page


@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize("per_page", [10, 100])
def test_a_filtered_sorted_htmx_list_runs_the_same_number_of_queries(
    manager_client,
    a_hundred_and_twenty_of_everything,
    django_assert_max_num_queries,
    name,
    per_page,
):
    # Filters that match more than 100 rows, so that both page sizes are full pages.
    query = {
        "job-list": "status=pending&has_error=false&media_type=video&sort=id",
        "result-list": "confidence_min=0.05&has_transcript=false&sort=-confidence",
        "file-list": "media_type=video&filename=clip&sort=-created",
        "session-list": "state=active&session_id=&sort=started",
    }[name]
    with django_assert_max_num_queries(LIST_QUERIES[name]):
        response = manager_client.get(
            f"{reverse(name)}?{query}&per_page={per_page}", headers={"HX-Request": "true"}
        )
    assert len(shown(response)) == per_page


@pytest.mark.parametrize("name", EXPORTS)
def test_an_export_runs_a_fixed_number_of_queries_however_many_rows_it_streams(
    manager_client, a_hundred_and_twenty_of_everything, django_assert_max_num_queries, name
):
    with django_assert_max_num_queries(3):
        rows = csv_rows(manager_client.get(reverse(name)))
    assert len(rows) == 120


@pytest.fixture
def pages_with(reviewer):
    """A job, a result, a file and a session, each with `size` related rows."""

    def make(size):
        media = make_file(session_id="sess-big", contact_sheet_path="missing.jpg")
        make_session(session_id="sess-big")
        job = make_job(session_id="sess-big", media_file=media, parameters={"fps": 3})
        AnalysisJob.objects.bulk_create(
            AnalysisJob(session_id="sess-big", job_type="ocr", media_file=media)
            for _ in range(size)
        )
        MediaFile.objects.bulk_create(
            MediaFile(session_id="sess-big", original_filename="more.mp4", media_type="audio")
            for _ in range(size)
        )
        result, *_ = AnalysisResult.objects.bulk_create(
            AnalysisResult(job=job, media_file=media, analysis_type="audio") for _ in range(size)
        )
        reviews = HITLReview.objects.bulk_create(
            HITLReview(
                analysis_result=result, status="completed", approved="no", reviewed_by=reviewer
            )
            for _ in range(size)
        )
        ReviewEvent.objects.bulk_create(
            ReviewEvent(review=done, kind=kind, actor=reviewer)
            for done in reviews
            for kind in ("claimed", "decided")
        )
        return {
            "job-detail": f"/jobs/{job.pk}/",
            "job-progress": f"/jobs/{job.pk}/progress/",
            "result-detail": f"/results/{result.pk}/",
            "file-detail": f"/files/{media.pk}/",
            "session-detail": "/sessions/sess-big/",
        }

    return make


@pytest.mark.parametrize("name", list(DETAIL_QUERIES))
@pytest.mark.parametrize("size", [10, 100])
def test_a_detail_page_runs_a_fixed_number_of_queries_however_many_rows_it_lists(
    manager_client, pages_with, django_assert_max_num_queries, name, size
):
    url = pages_with(size)[name]
    with django_assert_max_num_queries(DETAIL_QUERIES[name]):
        response = manager_client.get(url)
    assert response.status_code == 200


# htmx: the fragment, and an expired session


@pytest.mark.parametrize("name", LISTS)
def test_an_htmx_request_gets_only_the_table_fragment(manager_client, two_of_each, name):
    response = manager_client.get(reverse(name), headers={"HX-Request": "true"})
    text = response.text
    assert response.status_code == 200
    assert "<html" not in text and 'aria-label="Main"' not in text
    assert text.lstrip().startswith('<div id="table"')
    assert 'id="filters"' not in text  # the form stays as it is in the browser
    assert "HX-Request" in response["Vary"]
    full = manager_client.get(reverse(name)).text
    assert "<html" in full and 'id="table"' in full and 'id="filters"' in full


@pytest.mark.parametrize("name", LISTS)
def test_an_htmx_history_restore_gets_the_whole_page(manager_client, name):
    response = manager_client.get(
        reverse(name), headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in response.text and 'id="filters"' in response.text


def test_the_table_fragment_keeps_the_forms_sort_in_step(manager_client, two_of_each):
    response = manager_client.get("/jobs/?sort=-id", headers={"HX-Request": "true"})
    assert 'id="sort-input" name="sort" value="-id" form="filters" hx-swap-oob="true"' in (
        response.text
    )


@pytest.mark.parametrize(
    "path", ["/jobs/?status=failed", "/results/?model=x", "/files/", "/sessions/", "/jobs/1/"]
)
def test_an_expired_session_during_htmx_sends_the_browser_to_the_login_page(client, path):
    response = client.get(
        path,
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{path}"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/accounts/login/?next=")
    assert unquote(response["HX-Redirect"]).endswith(path)
    assert "id_username" not in response.text  # no login form swapped into the table


def test_an_expired_session_while_polling_progress_sends_the_browser_to_the_login_page(client):
    job = make_job(status="processing")
    response = client.get(
        f"/jobs/{job.pk}/progress/",
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver/jobs/{job.pk}/"},
    )
    assert (
        unquote(response["HX-Redirect"])
        == f"/accounts/login/?next=http://testserver/jobs/{job.pk}/"
    )


# CSV exports


@pytest.mark.parametrize("name", EXPORTS)
def test_an_export_streams_csv_as_an_attachment(manager_client, two_of_each, name):
    response = manager_client.get(reverse(name))
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="')
    assert response["Content-Disposition"].endswith('.csv"')
    assert not response.has_header("Content-Length")
    assert len(csv_rows(response)) == MODELS[name.replace("-export", "-list")].objects.count()


def test_the_job_export_holds_exactly_the_filtered_jobs_on_every_page(manager_client, jobs):
    for n in range(30):
        make_job(status="failed", error_message="disk full", created_at=at(6, minute=n))
    response = manager_client.get("/jobs/export/?status=failed&has_error=true&per_page=10&page=2")
    rows = csv_rows(response)
    expected = AnalysisJob.objects.filter(status="failed").exclude(error_message="")
    assert {int(row["id"]) for row in rows} == set(expected.values_list("pk", flat=True))
    assert len(rows) == 31
    first = next(row for row in rows if int(row["id"]) == jobs["failed"].pk)
    assert first["status"] == "failed"
    assert first["media_type"] == "video"
    assert first["error_message"] == "Timeout while decoding frame 12"
    assert first["created_at"] == "2026-03-04T12:00:00+00:00"


@pytest.mark.parametrize(("query", "expected"), RESULT_FILTERS[:12])
def test_the_result_export_holds_exactly_the_filtered_results(
    manager_client, results, query, expected
):
    rows = csv_rows(manager_client.get("/results/export/?" + query))
    assert {int(row["id"]) for row in rows} == {results[name].pk for name in expected}


def test_the_file_and_session_exports_hold_exactly_the_filtered_rows(
    manager_client, files, sessions
):
    rows = csv_rows(manager_client.get("/files/export/?session_id=sess-b&storage_backend=r2"))
    assert [int(row["id"]) for row in rows] == [files["document"].pk]
    assert rows[0]["original_filename"] == "lecture-notes.pdf"
    rows = csv_rows(manager_client.get("/sessions/export/?state=ended"))
    assert [row["session_id"] for row in rows] == ["sess-ended"]


def test_an_export_in_the_list_order_matches_the_sort(manager_client, tied_rows):
    ids = [int(row["id"]) for row in csv_rows(manager_client.get("/jobs/export/?sort=created"))]
    assert ids == sorted(ids, key=lambda pk: (AnalysisJob.objects.get(pk=pk).created_at, pk))


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\t=1"])
def test_an_export_keeps_spreadsheets_from_running_cells_as_formulas(manager_client, cell):
    make_file(original_filename=cell)
    rows = csv_rows(manager_client.get("/files/export/"))
    assert rows[0]["original_filename"] == "'" + cell


@pytest.mark.parametrize("name", LISTS)
def test_the_export_link_carries_the_current_filter_but_not_the_page(
    manager_client, two_of_each, name
):
    good_query, _ = good_filter_beside(two_of_each, name)
    text = manager_client.get(f"{reverse(name)}?{good_query}&page=1&per_page=10").text
    export = reverse(name.replace("-list", "-export"))
    assert f'href="{export}?{good_query}">Export CSV' in text


# Job detail and live progress


def test_a_job_page_shows_parameters_timeline_error_retries_and_links(manager_client):
    media = make_file(original_filename="lecture.mp4", session_id="sess-a")
    make_session(session_id="sess-a")
    job = make_job(
        session_id="sess-a",
        media_file=media,
        status="failed",
        parameters={"fps": 3, "language": "en"},
        error_message="CUDA out of memory",
        retry_count=1,
        created_at=at(1, 12),
        started_at=at(1, 12, 5),
        completed_at=at(1, 12, 47),
    )
    result = make_result(job=job)
    text = manager_client.get(f"/jobs/{job.pk}/").text
    assert "&quot;fps&quot;: 3,\n  &quot;language&quot;: &quot;en&quot;" in text
    assert "2026-03-01 12:00:00" in text and "2026-03-01 12:05:00" in text
    assert "2026-03-01 12:47:00" in text
    assert "42 min 00 s" in text and "5 min 00 s" in text  # ran, waited
    assert "CUDA out of memory" in text
    assert "1 of 3" in text and "(can retry)" in text
    assert f'href="/files/{media.pk}/"' in text
    assert 'href="/sessions/sess-a/"' in text
    assert f'href="/results/{result.pk}/"' in text


def test_a_job_page_names_a_session_id_with_no_session_row(manager_client):
    job = make_job(session_id="sess-orphan")
    text = manager_client.get(f"/jobs/{job.pk}/").text
    assert 'href="/sessions/sess-orphan/"' in text and "no session row" in text


@pytest.mark.parametrize("status", ["pending", "processing"])
def test_a_running_jobs_page_polls_its_progress(manager_client, status):
    job = make_job(status=status, progress=0.25)
    text = manager_client.get(f"/jobs/{job.pk}/").text
    assert f'hx-get="/jobs/{job.pk}/progress/" hx-trigger="every 2s"' in text
    assert "updates live" in text


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_a_finished_jobs_page_does_not_poll(manager_client, status):
    job = make_job(status=status, progress=1.0)
    text = manager_client.get(f"/jobs/{job.pk}/").text
    assert "hx-trigger" not in text.split('id="progress"')[1].split(">")[0]
    assert "/progress/" not in text


@pytest.mark.parametrize("status", ["pending", "processing"])
def test_progress_of_a_running_job_answers_200_with_its_latest_value(manager_client, status):
    job = make_job(status=status, progress=0.25)
    AnalysisJob.objects.filter(pk=job.pk).update(progress=0.55)
    response = manager_client.get(f"/jobs/{job.pk}/progress/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert '<strong id="job-progress-value">55.0%</strong>' in response.text
    assert 'hx-trigger="every 2s"' in response.text
    assert "<html" not in response.text


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_progress_of_a_finished_job_stops_polling_and_reloads_the_whole_page(
    manager_client, status
):
    job = make_job(status=status, progress=1.0, completed_at=at(2))
    response = manager_client.get(f"/jobs/{job.pk}/progress/", headers={"HX-Request": "true"})
    assert response.status_code == 286
    # The results, retries and details beside the progress changed too: all of it is reloaded.
    assert response["HX-Refresh"] == "true"


def test_progress_opened_without_htmx_shows_the_finished_card(manager_client):
    job = make_job(status="completed", progress=1.0, completed_at=at(2))
    response = manager_client.get(f"/jobs/{job.pk}/progress/")
    assert 'id="job-status">' in response.text and "hx-trigger" not in response.text
    assert "100.0%" in response.text


# Result detail


def test_a_result_page_shows_transcript_summary_text_segments_json_and_reviews(
    manager_client, reviewer
):
    media = make_file(duration_seconds=120)
    job = make_job(job_type="transcription", session_id="sess-r", media_file=media)
    result = make_result(
        job=job,
        media_file=media,
        model_used="whisper-large-v3",
        confidence_score=0.873,
        transcript="Good morning, everyone.",
        summary="A greeting.",
        extracted_text="SLIDE 1",
        segments=[
            {"start": 0, "end": 30, "label": "intro", "speaker": "A"},
            {"start": 30, "end": 90, "text": "main part"},
        ],
        result_data={"language": "en", "words": 3},
    )
    done = review(result, "needs_changes", reviewer=reviewer)
    done.reviewer_notes = "Speaker labels are swapped."
    done.save()
    ReviewEvent.objects.create(review=done, kind="decided", actor=reviewer)
    text = manager_client.get(f"/results/{result.pk}/").text
    assert "Good morning, everyone." in text
    assert "A greeting." in text and "SLIDE 1" in text
    assert "intro" in text and "main part" in text
    assert '<span class="muted">speaker:</span> A' in text
    assert "#seg-block-0 { left: 0.0%; width: 25.0%;" in text  # 0..30 s of 120 s
    assert ">0:00.0 – 0:30.0</button>" in text and ">0:30.0 – 1:30.0</button>" in text
    assert "&quot;language&quot;: &quot;en&quot;,\n  &quot;words&quot;: 3" in text
    assert "0.873" in text and "whisper-large-v3" in text
    assert f'href="/jobs/{job.pk}/"' in text and 'href="/sessions/sess-r/"' in text
    assert "Needs changes" in text and "by rita" in text
    assert "Speaker labels are swapped." in text


def test_a_result_page_shows_segments_in_whatever_shape_the_pipeline_wrote_them(manager_client):
    result = make_result(
        segments=[
            {"start": "00:01:30", "end": "00:02:00", "label": "odd times"},
            {"start": 5, "end": 2, "label": "backwards"},
            {"start": 1e308, "end": None},
            7,
            None,
            "loose text",
        ]
    )
    response = manager_client.get(f"/results/{result.pk}/")
    assert response.status_code == 200
    assert "odd times" in response.text and "00:01:30" in response.text
    assert "backwards" in response.text


def test_a_result_page_without_optional_outputs_says_so(manager_client):
    result = make_result(confidence_score=0.9, segments={"not": "a list"})
    text = manager_client.get(f"/results/{result.pk}/").text
    assert "No transcript." in text and "No summary." in text
    assert "No segments." in text and "No result data." in text and "Never reviewed." in text


# File detail and contact sheets


@pytest.fixture
def media_root(settings, tmp_path):
    root = tmp_path / "media"
    (root / "sheets").mkdir(parents=True)
    (root / "sheets" / "clip.jpg").write_bytes(b"\xff\xd8\xff contact sheet")
    (tmp_path / "secret.txt").write_text("not for the web")
    settings.MEDIA_ROOT = root
    return root


def test_a_file_page_shows_its_details_jobs_and_results(manager_client, media_root, settings):
    settings.AWS_STORAGE_BUCKET_NAME = "media"  # the contact sheet is in the file's storage
    media = make_file(
        original_filename="lecture.mp4",
        mime_type="video/mp4",
        file_size=1_572_864,
        duration_seconds=3725,
        frame_count=11175,
        extraction_method="3fps",
        storage_backend="s3",
        storage_path="bucket/lecture.mp4",
        contact_sheet_path="sheets/clip.jpg",
        session_id="sess-f",
    )
    job = make_job(media_file=media, session_id="sess-f")
    result = make_result(job=job, media_file=media)
    gone = make_job(media_file=media)
    gone.soft_delete()
    text = manager_client.get(f"/files/{media.pk}/").text
    assert "video/mp4" in text and "1.5\xa0MB" in text and "1,572,864 bytes" in text
    assert "1 h 02 min" in text
    assert "11175" in text and "3fps" in text and "bucket/lecture.mp4" in text
    assert f'href="/jobs/{job.pk}/"' in text and f'href="/results/{result.pk}/"' in text
    assert f'href="/jobs/{gone.pk}/"' not in text
    assert f'<img class="contact-sheet" src="/files/{media.pk}/contact-sheet/"' in text
    assert 'href="/sessions/sess-f/"' in text


def test_a_contact_sheet_inside_media_root_is_served(manager_client, media_root):
    media = make_file(contact_sheet_path="sheets/clip.jpg")
    response = manager_client.get(f"/files/{media.pk}/contact-sheet/")
    assert isinstance(response, FileResponse)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\xff\xd8\xff contact sheet"
    assert response["Content-Type"] == "image/jpeg"


@pytest.mark.parametrize(
    "path",
    ["../secret.txt", "sheets/../../secret.txt", "{root}/../secret.txt", "/etc/passwd", "sheets"],
)
def test_a_contact_sheet_path_outside_media_root_is_refused(manager_client, media_root, path):
    media = make_file(contact_sheet_path=path.format(root=media_root))
    response = manager_client.get(f"/files/{media.pk}/contact-sheet/")
    assert response.status_code == 404
    assert b"not for the web" not in response.content
    text = manager_client.get(f"/files/{media.pk}/").text
    assert "contact-sheet/" not in text and "not on this server's storage" in text


def test_only_images_are_served_as_contact_sheets(manager_client, media_root):
    (media_root / "sheets" / "page.html").write_text("<script>alert(1)</script>")
    (media_root / "sheets" / "demo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    page = make_file(contact_sheet_path="sheets/page.html")
    assert manager_client.get(f"/files/{page.pk}/contact-sheet/").status_code == 404
    svg = make_file(contact_sheet_path="sheets/demo.svg")
    response = manager_client.get(f"/files/{svg.pk}/contact-sheet/")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"


def test_a_symlink_out_of_media_root_is_refused(manager_client, media_root):
    (media_root / "sheets" / "link.jpg").symlink_to(media_root.parent / "secret.txt")
    media = make_file(contact_sheet_path="sheets/link.jpg")
    assert manager_client.get(f"/files/{media.pk}/contact-sheet/").status_code == 404


def test_a_missing_or_absent_contact_sheet_is_a_404(manager_client, media_root):
    for path in ("sheets/none.jpg", None, ""):
        media = make_file(contact_sheet_path=path)
        assert manager_client.get(f"/files/{media.pk}/contact-sheet/").status_code == 404


def test_a_soft_deleted_files_contact_sheet_is_a_404(manager_client, media_root):
    media = make_file(contact_sheet_path="sheets/clip.jpg")
    media.soft_delete()
    assert manager_client.get(f"/files/{media.pk}/contact-sheet/").status_code == 404


# Session detail


def test_a_session_page_correlates_its_files_jobs_and_results(manager_client):
    make_session(session_id="sess-s", ip_address="10.1.2.3", request_count=1234)
    media = make_file(session_id="sess-s", original_filename="mine.mp4")
    job = make_job(session_id="sess-s", media_file=media)
    result = make_result(job=job)
    other = make_job(session_id="sess-t")
    gone = make_file(session_id="sess-s", original_filename="gone.mp4")
    gone.soft_delete()
    text = manager_client.get("/sessions/sess-s/").text
    assert "10.1.2.3" in text and "1,234" in text
    assert "mine.mp4" in text and f'href="/jobs/{job.pk}/"' in text
    assert f'href="/results/{result.pk}/"' in text
    assert f'href="/jobs/{other.pk}/"' not in text and "gone.mp4" not in text
    assert 'href="/jobs/?session_id=sess-s"' in text
    assert 'href="/results/?session_id=sess-s"' in text
    assert 'href="/files/?session_id=sess-s"' in text


def test_a_session_page_works_for_an_id_with_files_and_jobs_but_no_session_row(manager_client):
    media = make_file(session_id="sess-orphan", original_filename="orphan.mp4")
    job = make_job(session_id="sess-orphan")
    response = manager_client.get("/sessions/sess-orphan/")
    assert response.status_code == 200
    assert "No session row exists for this id" in response.text
    assert "orphan.mp4" in response.text and f'href="/files/{media.pk}/"' in response.text
    assert f'href="/jobs/{job.pk}/"' in response.text


def test_a_soft_deleted_session_with_live_jobs_shows_only_the_jobs(manager_client):
    session = make_session(session_id="sess-gone", ip_address="10.9.9.9")
    session.soft_delete()
    job = make_job(session_id="sess-gone")
    text = manager_client.get("/sessions/sess-gone/").text
    assert "10.9.9.9" not in text and "No session row exists" in text
    assert f'href="/jobs/{job.pk}/"' in text


# Missing and soft-deleted rows: 404 with a plain page, never a 500


@pytest.fixture
def deleted_rows():
    media = make_file(session_id="sess-deleted", contact_sheet_path="x.jpg")
    job = make_job(session_id="sess-deleted", media_file=media)
    result = make_result(job=job, media_file=media)
    make_session(session_id="sess-deleted")
    media.soft_delete()
    UserSession.objects.filter(session_id="sess-deleted").get().soft_delete()
    return media, job, result


def test_soft_deleted_rows_answer_404_everywhere(manager_client, deleted_rows):
    media, job, result = deleted_rows
    for url in (
        f"/jobs/{job.pk}/",
        f"/jobs/{job.pk}/progress/",
        f"/results/{result.pk}/",
        f"/files/{media.pk}/",
        f"/files/{media.pk}/contact-sheet/",
        "/sessions/sess-deleted/",
    ):
        response = manager_client.get(url)
        assert response.status_code == 404, url
        assert "Not found" in response.text and "admins find deleted rows" in response.text


@pytest.mark.parametrize(
    "url",
    [
        "/jobs/999999/",
        "/jobs/0/",
        f"/jobs/{10**20}/",
        "/jobs/999999/progress/",
        f"/jobs/{10**20}/progress/",
        "/results/999999/",
        f"/results/{10**20}/",
        "/files/999999/",
        f"/files/{10**20}/",
        f"/files/{10**20}/contact-sheet/",
        "/jobs/abc/",
        "/sessions/no-such-session/",
        "/sessions/%27%20OR%201%3D1%20--/",
        "/sessions/%00/",
        "/sessions/a%00b/",
        "/sessions/%ff%fe/",
        f"/sessions/{'s' * 10_000}/",
    ],
)
def test_missing_rows_answer_404_never_500(manager_client, url):
    response = manager_client.get(url)
    assert response.status_code == 404
    assert "Not found" in response.text


def test_soft_deleted_rows_never_show_in_lists_counts_or_exports(manager_client, deleted_rows):
    live_media = make_file(session_id="sess-live")
    live_job = make_job(session_id="sess-live", media_file=live_media)
    live_result = make_result(job=live_job)
    make_session(session_id="sess-live")
    media, job, result = deleted_rows
    checks = {
        "job-list": (live_job.pk, job.pk),
        "result-list": (live_result.pk, result.pk),
        "file-list": (live_media.pk, media.pk),
    }
    for name, (live, deleted) in checks.items():
        response = manager_client.get(reverse(name))
        assert live in shown(response) and deleted not in shown(response)
        assert response.context["page"].total == len(shown(response))
        export = reverse(name.replace("-list", "-export"))
        ids = {int(row["id"]) for row in csv_rows(manager_client.get(export))}
        assert live in ids and deleted not in ids
    response = manager_client.get("/sessions/")
    assert [row.session_id for row in response.context["rows"]] == ["sess-live"]
    rows = csv_rows(manager_client.get("/sessions/export/"))
    assert [row["session_id"] for row in rows] == ["sess-live"]


def test_a_job_page_does_not_list_its_soft_deleted_results(manager_client):
    job = make_job()
    kept = make_result(job=job)
    gone = make_result(job=job)
    gone.soft_delete()
    text = manager_client.get(f"/jobs/{job.pk}/").text
    assert f'href="/results/{kept.pk}/"' in text and f'href="/results/{gone.pk}/"' not in text


# Roles


@pytest.fixture
def every_page(media_root):
    media = make_file(session_id="sess-roles", contact_sheet_path="sheets/clip.jpg")
    job = make_job(session_id="sess-roles", media_file=media)
    result = make_result(job=job, media_file=media)
    return [
        *(reverse(name) for name in LISTS + EXPORTS),
        f"/jobs/{job.pk}/",
        f"/jobs/{job.pk}/progress/",
        f"/results/{result.pk}/",
        f"/files/{media.pk}/",
        f"/files/{media.pk}/contact-sheet/",
        "/sessions/sess-roles/",
    ]


def test_anonymous_visitors_are_sent_to_the_login_page_from_every_page(client, every_page):
    for url in every_page:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"/accounts/login/?next={url}"


def test_a_user_in_no_group_is_told_to_ask_an_admin_on_every_page(nobody, every_page):
    client = client_for(nobody)
    for url in every_page:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Ask an admin for access" in response.text


@pytest.mark.parametrize("who", ["reviewer_client", "manager_client", "admin_client"])
def test_reviewers_managers_and_admins_read_every_page(request, who, every_page):
    client = request.getfixturevalue(who)
    for url in every_page:
        assert client.get(url).status_code == 200, url


def test_the_pages_refuse_anything_but_get(manager_client, every_page):
    for url in every_page:
        assert manager_client.post(url).status_code == 405, url


def test_admin_links_show_only_to_admins(manager_client, admin_client):
    job = make_job()
    assert "Edit in admin" not in manager_client.get(f"/jobs/{job.pk}/").text
    assert "Edit in admin" in admin_client.get(f"/jobs/{job.pk}/").text


@pytest.mark.django_db
def test_progress_of_a_job_deleted_while_watched_is_a_404_that_reloads_the_page(manager_client):
    job = make_job(status="processing", progress=0.3)
    job.soft_delete()
    response = manager_client.get(
        reverse("job-progress", args=[job.pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 404
    assert response["HX-Refresh"] == "true"  # htmx reloads to the 404 page instead of polling on


@pytest.mark.django_db
def test_each_role_starts_where_its_work_is(reviewer_client, manager_client, admin_client):
    assert reviewer_client.get("/")["Location"] == reverse("review-queue")
    assert manager_client.get("/")["Location"] == reverse("dashboard")
    assert admin_client.get("/")["Location"] == reverse("dashboard")


@pytest.mark.django_db
def test_a_page_reads_the_signed_in_user_with_their_roles_in_one_query(manager_client):
    with CaptureQueriesContext(connection) as queries:
        assert manager_client.get("/jobs/").status_code == 200
    about_the_user = [q["sql"] for q in queries if "auth_" in q["sql"]]
    assert len(about_the_user) == 1
    assert "auth_group" in about_the_user[0] and "auth_user" in about_the_user[0]


@pytest.mark.django_db
def test_a_user_taken_out_of_their_group_loses_access_at_their_next_request(manager):
    client = client_for(manager)
    assert client.get("/jobs/").status_code == 200
    manager.groups.clear()
    response = client.get("/jobs/")
    assert response.status_code == 403
    assert "Ask an admin for access" in response.text


@pytest.mark.django_db
def test_a_deactivated_user_is_signed_out_at_their_next_request(manager):
    client = client_for(manager)
    manager.is_active = False
    manager.save()
    assert client.get("/jobs/")["Location"] == "/accounts/login/?next=/jobs/"


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_big_lists_estimated_total_is_reused_by_the_next_pages(manager_client, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_CAP", 5)
    for _ in range(12):
        make_job()
    with CaptureQueriesContext(connection) as first:
        first_page = manager_client.get("/jobs/")
    with CaptureQueriesContext(connection) as second:
        second_page = manager_client.get("/jobs/?page=2&per_page=10")

    def total(response):
        return re.search(r"about <strong>([\d,]+)</strong> jobs", response.text)[1]

    assert any(q["sql"].startswith("EXPLAIN") for q in first)
    assert not any(q["sql"].startswith(("EXPLAIN", "SELECT COUNT")) for q in second)
    assert len(second) == 3  # the user, the page's ids, its rows
    assert total(second_page) == total(first_page)
    # A filtered list is never estimated, so it counts afresh.
    assert "more than <strong>5</strong> jobs" in manager_client.get("/jobs/?has_error=false").text
