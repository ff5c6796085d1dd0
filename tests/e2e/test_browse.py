"""Browsing the pipeline's data in the browser: filter and page jobs with back and forward,
watch a job's progress live, read a result, and download exactly the filtered rows as CSV."""

import csv
import re
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from mediaanalysis.pipeline.models import AnalysisJob
from tests.conftest import make_file, make_job, make_result
from tests.e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MARCH_2 = datetime(2026, 3, 2, tzinfo=UTC)


def shown_ids(page) -> list[int]:
    """The job or result ids in the table, in order."""
    links = page.locator("#table tbody tr").evaluate_all(
        "rows => rows.map(row => [...row.querySelectorAll('a')]"
        ".find(a => a.textContent.startsWith('#')).textContent)"
    )
    return [int(text.lstrip("#")) for text in links]


def newest_first(jobs) -> list[int]:
    return [job.pk for job in sorted(jobs, key=lambda job: (job.created_at, job.pk), reverse=True)]


def test_a_manager_filters_jobs_pages_forward_and_going_back_restores_the_filter(new_page, manager):
    def jobs(status, first, count):
        return AnalysisJob.objects.bulk_create(
            AnalysisJob(
                session_id="sess-e2e",
                job_type="transcription",
                status=status(n) if callable(status) else status,
                created_at=first + timedelta(minutes=90 * n),
            )
            for n in range(count)
        )

    wanted = jobs(lambda n: "pending" if n % 2 else "failed", MARCH_2, 30)  # Mar 2 and 3
    jobs("processing", MARCH_2, 4)
    jobs("completed", MARCH_2, 4)
    jobs("pending", MARCH_2 - timedelta(days=1), 3)  # Mar 1: before the range
    later = jobs("failed", MARCH_2 + timedelta(days=4), 3)  # Mar 6: after the range
    page = new_page()
    login(page, manager)
    page.goto("/jobs/")

    page.get_by_role("checkbox", name="Pending").check()
    page.wait_for_url(re.compile(r"status=pending"))
    page.get_by_role("checkbox", name="Failed").check()
    page.wait_for_url(re.compile(r"status=pending&status=failed"))
    # ISO date boxes: the list follows when the box is left (or Enter is pressed).
    page.fill("#id_created_after", "2026-03-02")
    page.press("#id_created_after", "Tab")
    page.wait_for_url(re.compile(r"created_after=2026-03-02"))
    page.fill("#id_created_before", "2026-03-04")
    page.press("#id_created_before", "Enter")
    page.wait_for_url(re.compile(r"created_before=2026-03-04"))
    assert "=&" not in page.url and not page.url.endswith("=")  # no empty parameters
    expect(page.locator("#total")).to_contain_text("Rows 1–25 of 30 jobs")
    first_page = newest_first(wanted)[:25]
    assert shown_ids(page) == first_page
    badges = page.locator("#table tbody .badge").all_inner_texts()
    assert set(badges) == {"Pending", "Failed"}

    page.get_by_role("link", name="Next ›").click()
    page.wait_for_url(re.compile(r"[?&]page=2"))
    expect(page.locator("#total")).to_contain_text("Rows 26–30 of 30 jobs")
    assert shown_ids(page) == newest_first(wanted)[25:]

    page.go_back()
    expect(page).to_have_url(re.compile(r"created_before=2026-03-04"))
    expect(page).not_to_have_url(re.compile(r"[?&]page=2"))
    expect(page.locator("#total")).to_contain_text("Rows 1–25 of 30 jobs")
    assert shown_ids(page) == first_page
    expect(page.get_by_role("checkbox", name="Pending")).to_be_checked()
    expect(page.get_by_role("checkbox", name="Failed")).to_be_checked()
    expect(page.get_by_role("checkbox", name="Processing")).not_to_be_checked()
    expect(page.get_by_role("checkbox", name="Completed")).not_to_be_checked()
    expect(page.locator("#id_created_after")).to_have_value("2026-03-02")
    expect(page.locator("#id_created_before")).to_have_value("2026-03-04")

    # One step further back: the range had no end yet, so March 6's failed jobs were in.
    page.go_back()
    expect(page).to_have_url(re.compile(r"created_after=2026-03-02"))
    expect(page).not_to_have_url(re.compile(r"created_before"))
    expect(page.locator("#total")).to_contain_text("of 33 jobs")
    expect(page.locator("#id_created_before")).to_have_value("")
    expect(page.get_by_role("checkbox", name="Failed")).to_be_checked()
    assert shown_ids(page)[:3] == newest_first(later)


def test_a_processing_jobs_progress_moves_without_a_reload_and_polling_stops_when_it_completes(
    new_page, manager
):
    job = make_job(status="processing", progress=0.25, started_at=datetime.now(UTC))
    page = new_page()
    login(page, manager)
    polls = []
    page.on("request", lambda request: "/progress/" in request.url and polls.append(request))
    # The page's timers run only when the test moves its clock: each poll is one step.
    page.clock.install()
    page.clock.pause_at(datetime(2030, 1, 1))
    page.goto(f"/jobs/{job.pk}/")
    expect(page.locator("#job-progress-value")).to_have_text("25.0%")
    expect(page.locator("#progress")).to_contain_text("updates live")
    page.evaluate("window.notReloaded = true")

    AnalysisJob.objects.filter(pk=job.pk).update(progress=0.55)
    with page.expect_response(re.compile(r"/progress/$")) as poll:
        page.clock.run_for(2_000)
    assert poll.value.status == 200
    expect(page.locator("#job-progress-value")).to_have_text("55.0%")
    expect(page.locator("progress.big")).to_have_attribute("value", "0.55")
    assert page.evaluate("window.notReloaded") is True

    AnalysisJob.objects.filter(pk=job.pk).update(
        status="completed", progress=1.0, completed_at=datetime.now(UTC)
    )
    # Finished: the whole page reloads, so the details beside the progress are current too.
    with page.expect_navigation(), page.expect_response(re.compile(r"/progress/$")) as poll:
        page.clock.run_for(4_000)  # the swap settles, then the swapped-in section polls
    assert poll.value.status == 286
    expect(page.locator("#job-status")).to_have_text("Completed")
    expect(page.locator("#job-progress-value")).to_have_text("100.0%")
    expect(page.locator("#progress")).not_to_contain_text("updates live")
    expect(page.locator("aside tr", has_text="Processing time")).not_to_contain_text("—")
    assert page.evaluate("window.notReloaded") is None

    polls_when_completed = len(polls)
    page.clock.run_for(60_000)  # a minute of the page's time: thirty polls if it still polled
    page.evaluate("document.readyState")  # a round trip: requests made by now were reported
    assert len(polls) == polls_when_completed
    assert page.locator("#progress").get_attribute("hx-get") is None


def test_a_manager_opens_a_result_and_reads_its_transcript_and_segments(new_page, manager):
    media = make_file(duration_seconds=120, original_filename="board-meeting.mp4")
    job = make_job(media_file=media, status="completed", progress=1.0)
    result = make_result(
        job=job,
        media_file=media,
        transcript="Speaker 1: the budget passed on Tuesday.\nSpeaker 2: thank you.",
        summary="The budget passed.",
        segments=[
            {"start": 0, "end": 30, "label": "Opening"},
            {"start": 30, "end": 90, "label": "Budget vote"},
            {"start": 90, "end": 120, "label": "Closing"},
        ],
        result_data={"speakers": 2},
    )
    make_result(transcript="Another meeting.")
    page = new_page()
    login(page, manager)
    page.goto("/results/?has_transcript=true")
    page.locator(f"#table a[href='/results/{result.pk}/']").click()
    page.wait_for_url(re.compile(rf"/results/{result.pk}/$"))

    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Result #{result.pk}")
    expect(page.locator("#transcript")).to_have_text(
        "Speaker 1: the budget passed on Tuesday.\nSpeaker 2: thank you."
    )
    segments = page.locator("#segments")
    expect(segments.locator("tbody tr")).to_have_count(3)
    expect(segments.locator("tbody tr").nth(1)).to_contain_text("Budget vote")
    expect(segments.locator("tbody tr").nth(1)).to_contain_text("0:30.0 – 1:30.0")
    expect(page.locator("#seg-timeline .seg-block")).to_have_count(3)
    expect(segments).to_contain_text("over 2 min 00 s")
    expect(page.locator("#result-json")).to_contain_text('"speakers": 2')
    expect(page.locator("aside").get_by_role("link", name="board-meeting.mp4")).to_be_visible()


def test_a_manager_downloads_exactly_the_filtered_jobs_as_csv(new_page, manager, tmp_path):
    for n in range(40):
        make_job(
            status=["failed", "completed", "pending", "failed"][n % 4],
            job_type="ocr" if n % 3 else "transcription",
            error_message="Timeout" if n % 4 == 0 else None,
        )
    page = new_page()
    login(page, manager)
    page.goto("/jobs/")
    page.get_by_role("checkbox", name="Failed").check()
    page.wait_for_url(re.compile(r"status=failed"))
    page.select_option("#id_has_error", "true")
    page.wait_for_url(re.compile(r"has_error=true"))
    page.fill("#id_job_type", "ocr")
    page.press("#id_job_type", "Enter")
    page.wait_for_url(re.compile(r"job_type=ocr"))
    expected = AnalysisJob.objects.filter(status="failed", job_type="ocr", error_message="Timeout")
    expect(page.locator("#total")).to_contain_text(f"of {expected.count()} jobs")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert re.fullmatch(r"jobs-\d{8}-\d{6}\.csv", download.suggested_filename)
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    with Path(path).open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))

    assert [int(row["id"]) for row in rows] == newest_first(expected)
    assert {(row["status"], row["job_type"], row["error_message"]) for row in rows} == {
        ("failed", "ocr", "Timeout")
    }
    assert len(rows) < AnalysisJob.objects.filter(status="failed").count()


def test_a_filter_answer_in_flight_never_hides_the_page_asked_for_after_it(new_page, manager):
    """The date box's change is in flight when the user clicks "Next", and its answer comes
    first: the page asked for last is the one shown, and the address says so."""
    AnalysisJob.objects.bulk_create(
        AnalysisJob(session_id="sess-e2e", job_type="transcription", created_at=MARCH_2)
        for _ in range(30)
    )
    page = new_page()
    login(page, manager)
    page.goto("/jobs/")
    held = {}
    page.route(re.compile(r"/jobs/\?"), lambda route: held.update({route.request.url: route}))

    page.fill("#id_created_after", "2026-03-01")
    page.press("#id_created_after", "Tab")  # change: the filter's request goes out, held
    expect(page.locator("#filters")).to_have_class(re.compile(r"\bhtmx-request\b"))
    page.get_by_role("link", name="Next ›").click()
    expect(page.locator(".table-foot a[rel=next]")).to_have_class(re.compile(r"\bhtmx-request\b"))
    page.unroute(re.compile(r"/jobs/\?"))
    by_page = sorted(held, key=lambda url: "page=2" in url)  # the filter's answer first
    for url in by_page:
        with suppress(PlaywrightError):  # "already handled": the browser gave this one up
            held[url].continue_()
        page.wait_for_timeout(200)
    expect(page).to_have_url(re.compile(r"[?&]page=2"))
    expect(page.locator("#total")).to_contain_text("Rows 26–30 of 30 jobs")
