"""Signed media URLs: the player's media and peaks served before the session, by signature.

mediaanalysis/pipeline/signed_media.py: the pages sign `/files/<id>/media/` and `/peaks/` for
their reader; SignedMediaMiddleware serves a valid, unexpired signature of a live file without
the session or the user, refuses a tampered or expired one (403, never bytes) and a deleted
file (404).
"""

import gzip
import json
import re
import time

import numpy as np
import pytest
from django.test import Client

from mediaanalysis import db
from mediaanalysis.pipeline.peaks import peaks_for
from mediaanalysis.pipeline.signed_media import player_urls, signed_url
from reviews import services
from reviews.models import HITLReview

from .conftest import client_for, make_file, make_job, make_result
from .test_media_serving import DATA, SIZE
from .test_peaks import RATE, write_audio

pytestmark = pytest.mark.django_db


@pytest.fixture
def media_root(settings, tmp_path):
    root = tmp_path / "media"
    (root / "clips").mkdir(parents=True)
    (root / "clips" / "talk.webm").write_bytes(DATA)
    t = np.arange(RATE * 2) / RATE
    write_audio(root / "clips" / "tone.wav", np.sin(2 * np.pi * 440 * t) * 0.5)
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def clip(media_root):
    return make_file(
        original_filename="talk.webm",
        media_type="video",
        mime_type="video/webm",
        storage_backend="local",
        storage_path="clips/talk.webm",
    )


@pytest.fixture
def tone(media_root):
    return make_file(
        original_filename="tone.wav",
        media_type="audio",
        mime_type="audio/wav",
        duration_seconds=2,
        storage_backend="local",
        storage_path="clips/tone.wav",
    )


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_review_page_gives_its_player_a_signed_url_that_serves_ranges_without_a_session(
    reviewer_client, reviewer, clip, django_assert_num_queries
):
    job = make_job(media_file=clip, status="completed", job_type="video_analysis")
    result = make_result(job=job, media_file=clip, analysis_type="video")
    review = HITLReview.objects.create(analysis_result=result)
    services.claim(review.pk, reviewer)
    text = reviewer_client.get(review.get_absolute_url()).text
    src = re.search(r'<video id="media-element" class="player-video" src="([^"]+)"', text)[1]
    assert src.startswith(f"/files/{clip.pk}/media/?signature={reviewer.pk}.")

    # No cookie at all: the signature alone authorizes, and only the file's row is read...
    with django_assert_num_queries(1):
        response = Client().get(src, headers={"Range": "bytes=5000-5999"})
    assert response.status_code == 206
    assert body(response) == DATA[5000:6000]
    assert response["Content-Range"] == f"bytes 5000-5999/{SIZE}"
    assert response["Accept-Ranges"] == "bytes" and response["ETag"]
    # ...once: the player's next ranges of the file read nothing from the database.
    with django_assert_num_queries(0):
        response = Client().get(src, headers={"Range": "bytes=6000-6999"})
    assert response.status_code == 206 and body(response) == DATA[6000:7000]


def test_a_signed_url_answers_as_the_signed_in_view_does_for_validators_and_bad_ranges(
    reviewer, clip
):
    src = signed_url("media", clip.pk, reviewer.pk)
    whole = Client().get(src)
    assert whole.status_code == 200 and body(whole) == DATA
    unsatisfiable = Client().get(src, headers={"Range": f"bytes={SIZE}-"})
    assert unsatisfiable.status_code == 416
    assert unsatisfiable["Content-Range"] == f"bytes */{SIZE}"
    stale = Client().get(src, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale.status_code == 200 and body(stale) == DATA
    revalidated = Client().get(src, headers={"If-None-Match": whole["ETag"]})
    assert revalidated.status_code == 304 and not revalidated.content


def test_signed_peaks_are_the_stored_peaks_sent_gzipped(reviewer, reviewer_client, tone):
    assert peaks_for(tone).status == 200  # computed and stored
    src = signed_url("peaks", tone.pk, reviewer.pk)
    response = Client().get(src, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    signed_in = reviewer_client.get(f"/files/{tone.pk}/peaks/")
    assert json.loads(gzip.decompress(response.content)) == json.loads(signed_in.content)


def test_an_expired_signature_is_refused_without_a_byte(reviewer, clip):
    src = signed_url("media", clip.pk, reviewer.pk, now=time.time() - 7200)
    response = Client().get(src, headers={"Range": "bytes=0-99"})
    assert response.status_code == 403
    assert "expired" in response.text and DATA[:100] not in response.content


def tampered_urls(clip, other, user):
    good = signed_url("media", clip.pk, user.pk)
    path, _, token = good.partition("?signature=")
    user_id, expires, mac = token.split(".")
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    return {
        "a changed signature": f"{path}?signature={user_id}.{expires}.{flipped}",
        "a later expiry": f"{path}?signature={user_id}.{int(expires) + 3600}.{mac}",
        "another user": f"{path}?signature={int(user_id) + 1}.{expires}.{mac}",
        "another file": f"/files/{other.pk}/media/?signature={token}",
        "the peaks' signature": f"{path}?signature="
        + signed_url("peaks", clip.pk, user.pk).partition("?signature=")[2],
        "no signature at all": f"{path}?signature=",
        "garbage": f"{path}?signature=..%00/../x",
        "a huge number": f"{path}?signature={'9' * 40}.{expires}.{mac}",
    }


@pytest.mark.parametrize(
    "case",
    [
        "a changed signature",
        "a later expiry",
        "another user",
        "another file",
        "the peaks' signature",
        "no signature at all",
        "garbage",
        "a huge number",
    ],
)
def test_a_tampered_signature_is_refused_without_a_byte(reviewer, clip, media_root, case):
    (media_root / "clips" / "other.webm").write_bytes(DATA)
    other = make_file(media_type="video", storage_backend="local", storage_path="clips/other.webm")
    response = Client().get(
        tampered_urls(clip, other, reviewer)[case], headers={"Range": "bytes=0-99"}
    )
    assert response.status_code == 403
    assert "tampered" in response.text and DATA[:100] not in response.content


def test_a_file_deleted_after_its_url_was_signed_is_not_found(reviewer, clip, tone):
    media_src = signed_url("media", clip.pk, reviewer.pk)
    assert peaks_for(tone).status == 200
    peaks_src = signed_url("peaks", tone.pk, reviewer.pk)
    clip.__class__.objects.filter(pk__in=[clip.pk, tone.pk]).soft_delete()
    for src in (media_src, peaks_src):
        response = Client().get(src)
        assert response.status_code == 404
        assert DATA[:100] not in response.content and "no longer exists" in response.text


def test_a_file_deleted_while_its_player_streams_is_refused_within_seconds(
    reviewer, clip, monkeypatch, settings
):
    clock = [1000.0]
    monkeypatch.setattr(db, "monotonic", lambda: clock[0])  # the rows' clock (db.Kept)
    src = signed_url("media", clip.pk, reviewer.pk)
    assert Client().get(src, headers={"Range": "bytes=0-99"}).status_code == 206
    clip.__class__.objects.filter(pk=clip.pk).soft_delete()

    clock[0] += settings.MEDIA_SIGNED_ROW_SECONDS + 0.1
    response = Client().get(src, headers={"Range": "bytes=0-99"})
    assert response.status_code == 404 and DATA[:100] not in response.content


def test_without_a_signature_the_media_url_still_needs_a_signed_in_reader(clip, nobody):
    response = Client().get(f"/files/{clip.pk}/media/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client_for(nobody).get(f"/files/{clip.pk}/media/").status_code == 403


def test_a_signature_opens_only_the_media_and_peaks_urls_and_only_for_reading(reviewer, clip):
    token = signed_url("media", clip.pk, reviewer.pk).partition("?")[2]
    for path in (f"/files/{clip.pk}/", f"/files/{clip.pk}/contact-sheet/"):
        response = Client().get(f"{path}?{token}")
        assert response.status_code == 302 and "/login/" in response["Location"]
    posted = Client().post(f"/files/{clip.pk}/media/?{token}")
    assert posted.status_code in (302, 403) and DATA[:100] not in posted.content


def test_only_a_reader_who_may_see_files_gets_signed_urls(reviewer, nobody, clip):
    signed = player_urls(clip, reviewer)
    assert "signature=" in signed["src"]
    assert signed["fallback_src"] == f"/files/{clip.pk}/media/"  # once the signature expires
    assert player_urls(clip, nobody) == {
        "src": f"/files/{clip.pk}/media/",
        "peaks_src": f"/files/{clip.pk}/peaks/",
        "fallback_src": "",
    }


def test_a_page_rendered_again_soon_gives_the_same_url_so_the_browser_cache_holds(reviewer, clip):
    now = 1_800_000_000  # a multiple of the rounding
    assert signed_url("media", clip.pk, reviewer.pk, now=now + 1) == signed_url(
        "media", clip.pk, reviewer.pk, now=now + 200
    )
