"""Reviewing the media itself in the browser: a video's segments, an audio waveform from stored
peaks, PDF pages, image regions, and corrections made on the media."""

import json
import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from mediaanalysis.pipeline.display import label_color
from mediaanalysis.pipeline.models import AnalysisJob, AnalysisResult, MediaFile
from reviews.models import HITLReview, ReviewStatus
from tests.conftest import make_result
from tests.e2e.conftest import ALL_IMPACTS, accessibility_problems, login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DEMO = Path(django_settings.BASE_DIR) / "mediaanalysis" / "demo_media"
FRAME = 1 / 25  # the demo video's frame length


def demo(filename) -> dict:
    manifest = json.loads((DEMO / "manifest.json").read_text())
    return next(entry for entry in manifest["files"] if entry["filename"] == filename)


@pytest.fixture
def media_root(settings, tmp_path):
    """The demo media under a MEDIA_ROOT of the test's own."""
    root = tmp_path / "media"
    shutil.copytree(DEMO, root)
    settings.MEDIA_ROOT = root
    return root


def media_review(filename, priority=0, **overrides) -> HITLReview:
    entry = demo(filename)
    media = MediaFile.objects.create(
        session_id="sess-media",
        original_filename=filename,
        media_type=entry["media_type"],
        mime_type=entry["mime_type"],
        file_size=entry["file_size"],
        duration_seconds=entry.get("duration_seconds"),
        frame_count=entry.get("frame_count"),
        extraction_method=entry.get("extraction_method"),
        contact_sheet_path=entry.get("contact_sheet"),
        storage_backend="local",
        storage_path=filename,
    )
    job = AnalysisJob.objects.create(
        session_id="sess-media", job_type=entry["job_type"], status="completed", media_file=media
    )
    fields = {
        "analysis_type": entry["analysis_type"],
        "model_used": entry["model_used"],
        "confidence_score": 0.95,  # above the threshold: no review is opened on its own
        "result_data": entry.get("result_data"),
        "transcript": entry.get("transcript"),
        "summary": entry.get("summary"),
        "extracted_text": entry.get("extracted_text"),
        "segments": entry.get("segments"),
        "frames_extracted": entry.get("frames_extracted"),
    }
    result = AnalysisResult.objects.create(job=job, media_file=media, **(fields | overrides))
    return HITLReview.objects.create(analysis_result=result, priority=priority)


def watch_csp(page) -> list[str]:
    """Content-Security-Policy violations the page reports (none are expected)."""
    violations = []
    page.on(
        "console",
        lambda message: (
            "Content Security Policy" in message.text and violations.append(message.text)
        ),
    )
    return violations


def current_time(page) -> float:
    return page.evaluate("document.getElementById('media-element').currentTime")


def test_a_reviewer_plays_a_segment_seeks_by_key_moves_its_end_and_approves(
    new_page, reviewer, media_root
):
    video = media_review("demo_video.webm", priority=2)
    following = make_result(transcript="The next item.")
    nxt = HITLReview.objects.create(analysis_result=following, priority=1)
    page = new_page()
    csp = watch_csp(page)
    login(page, reviewer)
    page.goto("/reviews/")
    page.keyboard.press("n")
    page.wait_for_url(re.compile(rf"/reviews/{video.pk}/$"))
    page.wait_for_function("document.getElementById('media-element').readyState >= 1")
    assert accessibility_problems(page, "#media", ALL_IMPACTS) == []
    page.evaluate(
        "window.seeks = []; const m = document.getElementById('media-element');"
        "m.addEventListener('seeking', () => window.seeks.push(m.currentTime));"
    )

    # The third segment (B-roll, 12 s to 17 s, low confidence) plays from its start.
    third = page.locator("#seg-row-2")
    expect(third).to_contain_text("B-roll")
    expect(page.locator("#seg-block-2")).to_have_class(re.compile(r"\blow\b"))
    third.locator(".seg-label").click()
    page.wait_for_function("window.seeks.length > 0")
    assert abs(page.evaluate("window.seeks.at(-1)") - 12.0) <= FRAME
    expect(third).to_have_class(re.compile(r"\bplaying\b"))
    expect(third).to_have_attribute("aria-current", "true")

    # o loops the chosen segment, > plays faster.
    page.keyboard.press("o")
    expect(page.locator("#loop-toggle")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#loop-toggle")).to_have_text("Looping 0:12.0 – 0:17.0")
    page.keyboard.press("o")
    expect(page.locator("#loop-toggle")).to_have_attribute("aria-pressed", "false")
    page.keyboard.press(">")
    expect(page.locator("#player-speed")).to_have_value("1.25")
    assert page.evaluate("document.getElementById('media-element').playbackRate") == 1.25

    # k pauses; the right arrow seeks five seconds on.
    page.keyboard.press("k")
    page.wait_for_function("document.getElementById('media-element').paused")
    before = current_time(page)
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"document.getElementById('media-element').currentTime > {before + 4}")
    assert abs(current_time(page) - (before + 5)) <= FRAME
    # Three frames on: the B-roll (to 17 s) has ended there.
    for _ in range(3):
        page.keyboard.press(".")
    page.wait_for_function(f"document.getElementById('media-element').currentTime > {before + 5.1}")
    playhead = current_time(page)
    assert abs(playhead - (before + 5 + 3 * FRAME)) <= FRAME / 2
    expect(third).not_to_have_class(re.compile(r"\bplaying\b"))

    # The B-roll goes on until the playhead: its end moves there, and the diff says so.
    page.get_by_role("button", name="End ← playhead").click()
    diff = page.locator("#diff")
    expect(diff).to_contain_text("segments[2].end")
    expect(diff.locator("tr", has_text="segments[2].end")).to_contain_text("17.0")
    corrections = json.loads(page.input_value("#id_corrections"))
    assert corrections["segments"][2]["end"] == pytest.approx(playhead, abs=0.001)

    page.keyboard.press("a")
    page.wait_for_url(re.compile(rf"/reviews/{nxt.pk}/$"))
    video.refresh_from_db()
    assert (video.status, video.approved) == (ReviewStatus.COMPLETED, "yes")
    assert video.corrections["segments"][2]["end"] == pytest.approx(playhead, abs=0.001)
    assert video.corrections["segments"][3] == demo("demo_video.webm")["segments"][3]
    assert csp == []


def test_audio_draws_its_waveform_from_stored_peaks_and_never_fetches_the_file(
    new_page, reviewer, media_root
):
    audio = media_review("support_call.ogg")
    media_id = audio.analysis_result.media_file_id
    page = new_page()
    csp = watch_csp(page)
    requests = []
    page.on("request", lambda request: requests.append(request))
    login(page, reviewer)
    # A search hit's deep link opens the call where the customer reads the order number.
    page.goto(f"{audio.get_absolute_url()}?t=17.7")

    expect(page.locator("#media")).to_have_attribute("data-waveform", "ready")
    expect(page.locator("#seg-row-3")).to_have_class(re.compile(r"\bselected\b"))
    assert abs(current_time(page) - 17.7) < 0.01
    canvases = page.evaluate(
        "[...document.querySelectorAll('#waveform *')].filter(n => n.shadowRoot)"
        ".reduce((n, host) => n + host.shadowRoot.querySelectorAll('canvas').length, 0)"
    )
    assert canvases > 0
    # By the URL signed for the reader (tests/test_signed_media.py).
    assert any(f"/files/{media_id}/peaks/?signature=" in r.url for r in requests)
    # The bytes of the file go to the <audio> element only (it streams them for playback).
    media_requests = [r for r in requests if f"/files/{media_id}/media/" in r.url]
    assert all(r.resource_type == "media" for r in media_requests), [
        (r.resource_type, r.url) for r in media_requests
    ]

    # A segment on the timeline plays over the waveform.
    page.locator("#seg-block-1").click()
    page.wait_for_function("document.getElementById('media-element').currentTime >= 7.4")
    assert csp == []


def test_a_pdf_shows_page_by_page_and_a_segment_jumps_to_its_page(new_page, reviewer, media_root):
    pdf = media_review("invoice.pdf", extracted_text="ACME INVOICE\fLine items\fTotals")
    page = new_page()
    csp = watch_csp(page)
    login(page, reviewer)
    page.goto(pdf.get_absolute_url())

    expect(page.locator("#pdf-page")).to_have_text("Page 1 / 3")
    expect(page.locator("#pdf-canvas")).to_have_attribute("data-rendered", "1")
    page.get_by_role("button", name="Next page").click()
    expect(page.locator("#pdf-page")).to_have_text("Page 2 / 3")
    expect(page.locator("#pdf-canvas")).to_have_attribute("data-rendered", "2")
    inked = page.evaluate(
        "(() => { const c = document.getElementById('pdf-canvas');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 128) n++; return n; })()"
    )
    assert inked > 500  # dark pixels: page 2's text is drawn
    expect(page.locator("#text-page-2")).to_have_class(re.compile(r"\bplaying\b"))

    page.locator("#seg-rows button[data-page='3']").first.click()
    expect(page.locator("#pdf-page")).to_have_text("Page 3 / 3")
    expect(page.locator("#text-page-3")).to_have_text("Totals")

    # A search hit's deep link opens the document at its page.
    page.goto(f"{pdf.get_absolute_url()}?page=2")
    expect(page.locator("#pdf-page")).to_have_text("Page 2 / 3")
    expect(page.locator("#pdf-canvas")).to_have_attribute("data-rendered", "2")
    assert csp == []


def test_an_image_shows_its_regions_and_a_reviewer_corrects_a_label(new_page, reviewer, media_root):
    image = media_review("office_desk.jpg")
    regions = demo("office_desk.jpg")["result_data"]["regions"]
    page = new_page()
    csp = watch_csp(page)
    login(page, reviewer)
    page.goto("/reviews/")
    page.keyboard.press("n")
    page.wait_for_url(re.compile(rf"/reviews/{image.pk}/$"))

    picture = page.locator("#image-view img")
    expect(picture).to_be_visible()
    page.wait_for_function("document.querySelector('#image-view img').complete")
    frame = picture.bounding_box()
    cup = page.locator("#region-1")
    expect(cup).to_contain_text(regions[1]["label"])
    box = cup.bounding_box()
    assert abs(box["x"] - (frame["x"] + regions[1]["x"] * frame["width"])) < 3
    assert abs(box["width"] - regions[1]["w"] * frame["width"]) < 3

    # Hovering the box lights up its row, and the other way round.
    cup.hover()
    expect(page.locator("#region-row-1")).to_have_class(re.compile(r"\bhot\b"))
    page.locator("#region-row-0").hover()
    expect(page.locator("#region-0")).to_have_class(re.compile(r"\bhot\b"))
    expect(cup).not_to_have_class(re.compile(r"\bhot\b"))

    assert accessibility_problems(page, "#media", ALL_IMPACTS) == []
    page.get_by_label("Label of region 2").fill("mug")
    expect(cup).to_contain_text("mug")
    expect(cup).to_have_class(
        re.compile(rf"\blc{label_color('mug')}\b")
    )  # as the server colours it
    row = page.locator("#diff tr", has_text="regions[1].label")
    expect(row).to_contain_text('"cup"')
    expect(row).to_contain_text('"mug"')
    assert json.loads(page.input_value("#id_corrections"))["regions"][1]["label"] == "mug"
    assert csp == []


def test_a_text_document_shows_as_text_and_a_segment_jumps_to_its_paragraph(
    new_page, reviewer, media_root
):
    notes = media_review("meeting_notes.txt")
    page = new_page()
    csp = watch_csp(page)
    login(page, reviewer)
    page.goto(notes.get_absolute_url())

    expect(page.locator("#text-view #para-1")).to_have_text(
        "Support team weekly review - 29 April 2024"
    )
    page.locator("#seg-rows button[data-para='3']").click()
    expect(page.locator("#para-3")).to_have_class(re.compile(r"\bplaying\b"))
    expect(page.locator("#para-3")).to_contain_text("Refunds rose by twelve percent")
    page.keyboard.press("]")
    expect(page.locator("#para-4")).to_have_class(re.compile(r"\bplaying\b"))
    assert csp == []


def test_a_page_left_open_past_its_signed_urls_expiry_goes_on_from_the_signed_in_url(
    new_page, reviewer, media_root, settings
):
    """The signed URLs are already expired when the page opens, as after an hour left open:
    the video and the image go on from the signed-in URL, with no error shown."""
    settings.MEDIA_SIGNED_URL_EXPIRY = -3600
    video = media_review("demo_video.webm")
    image = media_review("office_desk.jpg")
    page = new_page()
    login(page, reviewer)
    refused = []
    page.on("response", lambda r: "/media/?" in r.url and r.status == 403 and refused.append(r.url))

    page.goto(f"/reviews/{video.pk}/")
    player = page.locator("#media-element")
    expect(player).to_have_attribute("src", f"/files/{video.analysis_result.media_file_id}/media/")
    page.wait_for_function("document.getElementById('media-element').readyState >= 1")
    expect(page.locator("#media-error")).to_be_hidden()

    page.goto(f"/reviews/{image.pk}/")
    picture = page.locator("#image-element")
    expect(picture).to_have_attribute("src", f"/files/{image.analysis_result.media_file_id}/media/")
    page.wait_for_function("document.getElementById('image-element').naturalWidth > 0")
    assert len(refused) >= 2  # the expired signed URLs were refused, then replaced
