"""The media on the review, result and file pages: segments placed on the timeline, colours by
label, contact-sheet frames with their times, image regions, a timed transcript, the missing-media
placeholder, corrections of segments and regions as a diff, escaping, and the query budget."""

import json
import re
from pathlib import Path

import pytest
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaanalysis.pipeline.display import (
    FRAME_LIMIT,
    PALETTE_SIZE,
    contact_sheet_frames,
    frame_times,
    label_color,
    place_regions,
    place_segments,
    text_pages,
    transcript_lines,
)
from mediaanalysis.pipeline.models import AnalysisResult, MediaFile
from reviews import services
from reviews.diff import correctable, diff_corrections
from reviews.models import HITLReview
from tests.conftest import client_for, make_file, make_job, make_result, make_session

SCENES = [
    {"start": 0, "end": 4, "label": "Intro", "confidence": 0.97},
    {"start": 4, "end": 12, "label": "Interview", "text": "Two people talk.", "confidence": 0.91},
    {"start": 12, "end": 17, "label": "B-roll", "confidence": 0.42},
    {"start": 15, "end": 20, "label": "Music", "confidence": 0.8},
    {"start": 21, "end": 25, "label": "Intro", "confidence": 0.95},
]


@pytest.fixture
def media_root(settings, tmp_path):
    root = tmp_path / "media"
    (root / "clips").mkdir(parents=True)
    (root / "clips" / "talk.webm").write_bytes(b"\x1a\x45\xdf\xa3 not really a video")
    (root / "clips" / "talk-sheet.jpg").write_bytes(b"\xff\xd8\xff a contact sheet")
    settings.MEDIA_ROOT = root
    return root


def video_review(**result_fields) -> HITLReview:
    media = make_file(
        original_filename="talk.webm",
        media_type="video",
        mime_type="video/webm",
        duration_seconds=25,
        frame_count=625,
        extraction_method="uniform",
        storage_backend="local",
        storage_path="clips/talk.webm",
        contact_sheet_path="clips/talk-sheet.jpg",
    )
    job = make_job(media_file=media, status="completed", job_type="video_analysis")
    result_fields.setdefault("segments", SCENES)
    result_fields.setdefault("frames_extracted", 12)
    result = make_result(job=job, media_file=media, analysis_type="video", **result_fields)
    return HITLReview.objects.create(analysis_result=result)


def held_review_page(client, user, review):
    services.claim(review.pk, user)
    return client.get(review.get_absolute_url())


# Segments on the timeline


def test_segments_are_placed_in_percent_of_the_duration_in_lanes_that_do_not_overlap():
    placed = place_segments(SCENES, 25, low_below=0.7)
    rows = placed["rows"]
    assert [(r["left"], r["width"], r["lane"]) for r in rows] == [
        (0.0, 16.0, 0),
        (16.0, 32.0, 0),
        (48.0, 20.0, 0),
        (60.0, 20.0, 1),  # Music overlaps the B-roll: a second lane
        (84.0, 16.0, 0),
    ]
    assert placed["lanes"] == 2 and placed["timed"] and placed["total"] == 25
    assert [r["low"] for r in rows] == [False, False, True, False, False]
    assert (rows[1]["label"], rows[1]["text"], rows[1]["start_text"], rows[1]["end_text"]) == (
        "Interview",
        "Two people talk.",
        "0:04.0",
        "0:12.0",
    )


def test_segments_without_a_duration_are_placed_over_their_last_end_and_odd_ones_are_listed():
    placed = place_segments(
        [
            {"start": 0, "end": 50, "text": "only text"},
            {"start": 60, "end": 30, "label": "backwards"},
            {"start": "00:01:30", "end": None, "label": "odd"},
            {"start": 1e308, "end": float("nan")},
            {"page": 2, "label": "table"},
            7,
        ],
        None,
    )
    rows = placed["rows"]
    assert placed["total"] == 50
    assert [r["index"] for r in rows] == [0, 1, 2, 3, 4]
    assert (rows[0]["label"], rows[0]["text"], rows[0]["width"]) == ("only text", "", 100.0)
    assert [r["left"] for r in rows[1:]] == [None, None, None, None]
    assert rows[2]["start_text"] == "00:01:30" and rows[2]["seek"] is None
    assert rows[4]["page"] == 2 and placed["paged"]
    assert place_segments({"not": "a list"}, 10) is None


def test_the_review_page_draws_each_segment_where_it_belongs(reviewer_client, reviewer, media_root):
    review = video_review()
    text = held_review_page(reviewer_client, reviewer, review).text
    assert "#seg-block-2 { left: 48.0%; width: 20.0%; top: calc(0 * var(--lane)); }" in text
    assert "#seg-block-3 { left: 60.0%; width: 20.0%; top: calc(1 * var(--lane)); }" in text
    assert "#seg-timeline { height: calc(2 * var(--lane)); }" in text
    block = re.search(r'<button type="button" class="seg-block [^"]*" id="seg-block-2"[^>]*>', text)
    assert ' low"' in block[0] and 'data-seek="12.0"' in block[0]
    assert 'aria-label="B-roll, 0:12.0 to 0:17.0, low confidence"' in block[0]
    assert 'id="seg-row-2" data-index="2" data-start="12.0" data-end="17.0" class="low"' in text


# Colours by label


def test_a_label_has_the_same_colour_wherever_it_appears():
    assert label_color("Intro") == label_color(" intro ") == label_color("INTRO")
    assert all(0 <= label_color(f"label {n}") < PALETTE_SIZE for n in range(50))
    assert len({label_color(f"speaker {n}") for n in range(30)}) >= PALETTE_SIZE - 1
    rows = place_segments(SCENES, 25)["rows"]
    assert rows[0]["color"] == rows[4]["color"] == label_color("Intro")


def test_the_same_label_is_drawn_in_the_same_colour_on_the_review_and_result_pages(
    reviewer_client, reviewer, media_root
):
    review = video_review()
    other = make_result(segments=[{"start": 3, "end": 9, "label": "b-roll"}])
    colour = f"lc{label_color('B-roll')}"
    page = held_review_page(reviewer_client, reviewer, review).text
    result_page = reviewer_client.get(other.get_absolute_url()).text
    for text, index in ((page, 2), (result_page, 0)):
        block = re.search(rf'class="seg-block ([^"]*)" id="seg-block-{index}"', text)
        assert colour in block[1].split()
        assert f'<td><i class="swatch {colour}"></i></td>' in text


def test_every_label_colour_holds_white_text_at_a_contrast_of_at_least_4_5():
    css = (Path(__file__).parent.parent / "static" / "css" / "app.css").read_text()
    colours = dict(re.findall(r"\.lc(\d) \{ --c: (#[0-9a-f]{6}); \}", css))
    assert sorted(colours) == [str(n) for n in range(PALETTE_SIZE)]

    def luminance(hex_colour):
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    for colour in colours.values():
        assert 1.05 / (luminance(colour) + 0.05) >= 4.5, colour


# Contact-sheet frames


def test_frame_times_follow_the_extraction_method():
    assert frame_times("uniform", 4, 20) == [2.5, 7.5, 12.5, 17.5]
    assert frame_times("3fps", 5, 100) == pytest.approx([0, 1 / 3, 2 / 3, 1, 4 / 3])
    assert frame_times(" 2FPS ", 100, 3) == [0, 0.5, 1, 1.5, 2, 2.5, 3]  # not past the end
    assert frame_times("keyframes", 10, 20) is None
    assert frame_times("uniform", 10, None) is None
    assert frame_times("uniform", 0, 20) is None and frame_times(None, 5, 20) is None
    assert frame_times("0fps", 5, 20) is None


def test_a_long_extraction_offers_a_bounded_number_of_frames_from_start_to_end():
    lecture = MediaFile(extraction_method="3fps", frame_count=11175, duration_seconds=3725)
    frames = contact_sheet_frames(lecture)
    assert len(frames) == FRAME_LIMIT
    assert frames[0] == {"number": 1, "time": 0.0, "text": "0:00.0"}
    assert frames[-1]["number"] == 11175 and frames[-1]["text"] == "1:02:04.7"


def test_the_contact_sheet_frames_seek_to_their_times(reviewer_client, reviewer, media_root):
    review = video_review()
    text = held_review_page(reviewer_client, reviewer, review).text
    assert f'src="/files/{review.analysis_result.media_file_id}/contact-sheet/"' in text
    assert '<button type="button" data-seek="1.042" aria-label="Frame 1 at 0:01.0">' in text
    assert 'data-seek="23.958" aria-label="Frame 12 at 0:24.0"' in text
    assert "12 frames, click one to play from there" in text


# Regions and the transcript


def test_regions_are_placed_in_percent_and_clamped_to_the_image():
    regions = place_regions(
        {
            "regions": [
                {"label": "car", "x": 0.375, "y": 0.6, "w": 0.33, "h": 0.29, "confidence": 0.4},
                {"label": "edge", "x": 0.9, "y": -0.2, "w": 0.5, "h": 0.5},
                {"label": "flat", "x": 0.1, "y": 0.1, "w": 0, "h": 0.2},
                {"label": "nan", "x": "left", "y": 0, "w": 1, "h": 1},
                "junk",
            ]
        },
        low_below=0.7,
    )
    assert [(r["index"], r["label"]) for r in regions] == [(0, "car"), (1, "edge")]
    car, edge = regions
    assert (car["left"], car["top"], car["width"], car["height"], car["low"]) == (
        37.5,
        60.0,
        33.0,
        29.0,
        True,
    )
    assert (edge["left"], edge["top"], edge["width"], edge["height"]) == (90.0, 0.0, 10.0, 50.0)
    assert place_regions(None) == [] and place_regions({"regions": "none"}) == []


def test_a_transcript_with_timestamps_becomes_lines_that_seek():
    lines = transcript_lines("[00:04.6] Host: Hi.\nno stamp here\n01:02:03 Guest: Bye.")
    assert [(line["time"], line["stamp"], line["text"]) for line in lines] == [
        (4.6, "00:04.6", "Host: Hi."),
        (None, "", "no stamp here"),
        (3723.0, "01:02:03", "Guest: Bye."),
    ]
    assert transcript_lines("Speaker 1: no times at all.") is None
    assert transcript_lines(None) is None


def test_the_result_page_seeks_from_transcript_lines_and_lists_regions(manager_client, media_root):
    media = make_file(
        media_type="image", mime_type="image/png", storage_path="clips/talk.webm"
    )  # any file will do for the page
    result = make_result(
        media_file=media,
        analysis_type="image",
        transcript="[00:07.4] Guest: It shows each result.",
        result_data={"regions": [{"label": "cup", "x": 0.5, "y": 0.5, "w": 0.1, "h": 0.2}]},
    )
    text = manager_client.get(result.get_absolute_url()).text
    assert 'data-seek="7.4" aria-label="Play from 00:07.4">00:07.4</button>' in text
    assert "#region-0 { left: 50.0%; top: 50.0%; width: 10.0%; height: 20.0%; }" in text
    assert 'aria-label="Region 1: cup"' in text
    assert 'class="region-label-input"' not in text  # corrections belong to the review page


def test_extracted_text_is_split_into_the_pages_its_form_feeds_separate():
    assert text_pages("one\ftwo\fthree\f") == ["one", "two", "three"]
    assert text_pages("no pages") == [] and text_pages(None) == []


# Missing media and the file page


def test_missing_media_is_a_placeholder_that_says_where_it_was_looked_for(
    reviewer_client, reviewer, media_root
):
    review = video_review(transcript="[00:01.0] Still reviewable from the text.")
    media = review.analysis_result.media_file
    media.storage_path = "clips/gone.webm"
    media.save()
    text = held_review_page(reviewer_client, reviewer, review).text
    placeholder = re.search(
        r'<div class="placeholder" role="note" id="media-missing">(.*?)</div>', text, re.S
    )[1]
    assert "The media file cannot be shown" in placeholder
    assert "not found in storage `local`: clips/gone.webm" in placeholder
    assert f"Looked for at <code>local: {media_root}/clips/gone.webm</code>" in placeholder
    assert "The review still works from the text below." in placeholder
    assert "<video" not in text
    assert "Still reviewable from the text." in text and "B-roll" in text


def test_the_file_page_previews_the_media_with_an_authorized_download(manager_client, media_root):
    review = video_review()
    media = review.analysis_result.media_file
    text = manager_client.get(media.get_absolute_url()).text
    media_url = reverse("file-media", args=[media.pk])
    # The player's URL is signed for the manager (tests/test_signed_media.py); the download not.
    assert f'<video id="media-element" class="player-video" src="{media_url}?signature=' in text
    assert f'href="{media_url}?download=1" download>Download</a>' in text
    assert 'data-seek="1.042"' in text  # the latest result's 12 frames
    assert "js/player.js" in text and "media-edit.js" not in text


# Corrections of segments and regions


def test_corrections_of_segments_are_diffed_item_by_item_against_the_segments_column():
    result = AnalysisResult(
        result_data={"regions": [{"label": "cup", "x": 0, "y": 0, "w": 1, "h": 1}], "n": 1},
        segments=SCENES,
    )
    corrected = [dict(s) for s in SCENES]
    corrected[2]["end"] = 13.1
    corrected[1]["label"] = "Talk"
    del corrected[3]
    corrected.append({"start": 25, "end": 26, "label": "new"})
    regions = [{"label": "mug", "x": 0, "y": 0, "w": 1, "h": 1}]
    rows = diff_corrections(correctable(result), {"segments": corrected, "regions": regions})
    assert [(r.path, r.kind, r.before_text, r.after_text) for r in rows] == [
        ("segments[1].label", "changed", '"Interview"', '"Talk"'),
        ("segments[2].end", "changed", "17", "13.1"),
        (
            "segments[3]",
            "removed",
            '{"confidence": 0.8, "end": 20, "label": "Music", "start": 15}',
            "",
        ),
        ("segments[4]", "added", "", '{"end": 26, "label": "new", "start": 25}'),
        ("regions[0].label", "changed", '"cup"', '"mug"'),
    ]
    unchanged = diff_corrections(correctable(result), {"segments": SCENES})
    assert [(r.path, r.kind) for r in unchanged] == [("segments", "same")]


def test_a_segment_list_edited_in_the_browser_aligns_with_the_stored_one():
    stored = [
        {"start": 0.0, "end": 4.0, "label": "Intro"},
        {"start": 4.0, "end": 12.0, "label": "Interview"},
        {"start": 12.0, "end": 17.0, "label": "B-roll"},
        {"start": 21.0, "end": 25.0, "label": "Outro"},
    ]
    # As JSON.stringify writes it back: whole numbers without ".0".
    edited = [
        {"start": 4, "end": 12, "label": "Interview (two guests)"},
        {"start": 12, "end": 17, "label": "B-roll"},
        {"start": 18.5, "end": 20.5, "label": "Chart"},
        {"start": 21, "end": 25, "label": "Outro"},
    ]
    rows = diff_corrections({"segments": stored}, {"segments": edited})
    assert [(r.path, r.kind) for r in rows] == [
        ("segments[0]", "removed"),
        ("segments[1].label", "changed"),
        ("segments[2]", "added"),
    ]


def test_a_long_value_is_cut_short_in_its_diff_cell():
    (row,) = diff_corrections({}, {"transcript": "word " * 500})
    assert len(row.after_text) == 400 and row.after_text.endswith("…")


def test_the_live_diff_of_a_segment_correction_shows_the_field_that_changed(
    reviewer_client, reviewer, media_root
):
    review = video_review()
    services.claim(review.pk, reviewer)
    corrected = [dict(s) for s in SCENES]
    corrected[2]["end"] = 13.1
    response = reviewer_client.post(
        reverse("review-diff", args=[review.pk]),
        {"corrections": json.dumps({"segments": corrected})},
    )
    assert "<td>segments[2].end</td>" in response.text
    assert '<span class="removed">17</span>' in response.text
    assert '<span class="added">13.1</span>' in response.text
    assert "segments[0]" not in response.text


def test_only_the_claimant_gets_the_corrections_editor(
    reviewer_client, reviewer, other_reviewer, media_root
):
    review = video_review()
    other = client_for(other_reviewer).get(review.get_absolute_url()).text
    assert 'id="seg-editor"' not in other and "media-edit.js" not in other
    mine = held_review_page(reviewer_client, reviewer, review).text
    assert 'id="seg-editor"' in mine and "js/media-edit.js" in mine
    assert '<script id="segments-data" type="application/json">' in mine


# Escaping, and the query budget


def test_hostile_labels_and_transcripts_are_shown_as_text(reviewer_client, reviewer, media_root):
    hostile = "<script>alert(1)</script>"
    review = video_review(
        segments=[{"start": 0, "end": 5, "label": hostile, "text": "<img src=x onerror=alert(2)>"}],
        transcript="[00:01.0] <b onmouseover=alert(3)>hi</b>",
        result_data={"regions": [{"label": hostile, "x": 0, "y": 0, "w": 0.5, "h": 0.5}]},
    )
    text = held_review_page(reviewer_client, reviewer, review).text
    assert hostile not in text
    assert "<img src=x" not in text and "<b onmouseover" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(2)&gt;" in text
    assert "&lt;b onmouseover=alert(3)&gt;hi&lt;/b&gt;" in text
    assert "\\u003Cscript\\u003Ealert(1)\\u003C/script\\u003E" in text  # the editor's JSON copy


def test_the_review_page_with_media_runs_at_most_8_queries(
    reviewer_client, reviewer, other_reviewer, django_assert_max_num_queries, media_root
):
    session = make_session()
    review = video_review(
        result_data={"regions": [{"label": "cup", "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}]},
        transcript="[00:01.0] Hello.\n[00:02.0] Bye.",
    )
    job = review.analysis_result.job
    job.session_id = session.session_id
    job.save()
    services.claim(review.pk, other_reviewer)
    services.heartbeat(review.pk, other_reviewer, "notes", '{"n": 1}')
    services.release(review.pk, other_reviewer)
    services.claim(review.pk, reviewer)
    services.heartbeat(review.pk, reviewer, "mine", '{"segments": []}')
    reviewer_client.get(review.get_absolute_url())  # the session is loaded and cached
    with django_assert_max_num_queries(8):
        response = reviewer_client.get(review.get_absolute_url())
    assert response.status_code == 200
    assert response.context["segments"]["rows"] and response.context["regions"]
    assert response.context["preview"]["frames"]
    assert "Drafts by others" in response.text


# Whatever the pipeline stored, the media's context is computed without an error.

ODD_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    st.sampled_from(["00:01:30", "<script>", "\x00", "12.5", "", " "]),
)
ODD_JSON = st.recursive(
    ODD_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(
            st.sampled_from(
                [
                    "start",
                    "end",
                    "label",
                    "text",
                    "confidence",
                    "page",
                    "paragraph",
                    "x",
                    "y",
                    "w",
                    "h",
                    "regions",
                    "segments",
                    "type",
                ]
            ),
            inner,
            max_size=6,
        ),
    ),
    max_leaves=25,
)


@given(segments=ODD_JSON, duration=ODD_SCALARS, data=ODD_JSON, corrections=ODD_JSON)
@settings(max_examples=150, deadline=None)
def test_any_stored_segments_regions_and_corrections_can_be_shown(
    segments, duration, data, corrections
):
    placed = place_segments(segments, duration if isinstance(duration, float | int) else None)
    for row in (placed or {"rows": []})["rows"]:
        assert row["left"] is None or 0 <= row["left"] <= 100
        assert row["left"] is None or 0 < row["width"] <= 100
    for region in place_regions(data):
        assert 0 <= region["left"] <= 100 and 0 <= region["top"] <= 100
    result = AnalysisResult(result_data=data, segments=segments)
    for row in diff_corrections(correctable(result), corrections):
        assert isinstance(row.before_text, str) and isinstance(row.after_text, str)
    transcript_lines(segments if isinstance(segments, str) else json.dumps(segments, default=str))
