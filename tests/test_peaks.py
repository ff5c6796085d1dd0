"""GET /files/<id>/peaks/: waveform peaks computed once with PyAV, stored, served small."""

import gzip
import json
import os
import threading
from fractions import Fraction
from io import StringIO

import av
import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection

from mediaanalysis.pipeline import peaks
from mediaanalysis.pipeline.models import MediaPeaks

from .conftest import client_for, count_calls, make_file

pytestmark = pytest.mark.django_db

RATE = 48000


def write_audio(path, samples, rate=RATE, layout="mono"):
    """A WAV file of float samples (channels x n)."""
    samples = np.asarray(samples, dtype=np.float32).reshape(2 if layout == "stereo" else 1, -1)
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=layout)
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)


@pytest.fixture
def media_root(settings, tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    t = np.arange(RATE * 3) / RATE
    # 3 s: a 440 Hz tone at 0.5 for a second, a second of silence, a second at 0.25.
    tone = np.sin(2 * np.pi * 440 * t) * np.where(t < 1, 0.5, np.where(t < 2, 0.0, 0.25))
    write_audio(root / "tone.wav", tone)
    write_audio(root / "silence.wav", np.zeros(RATE * 2))
    write_audio(root / "stereo.wav", np.stack([tone, -tone]), layout="stereo")
    (root / "corrupt.webm").write_bytes(b"\x1aE\xdf\xa3 not really a webm file" * 100)
    (root / "picture.png").write_bytes(
        (settings.BASE_DIR / "mediaanalysis" / "demo_media" / "street_scene.png").read_bytes()
    )
    return root


@pytest.fixture
def decodes(monkeypatch):
    """Counts the times any audio is decoded."""
    return count_calls(monkeypatch, peaks, "decode_peaks")


def audio(name, **fields):
    fields.setdefault("duration_seconds", 3.0)
    return make_file(media_type="audio", storage_path=name, mime_type="audio/wav", **fields)


def get(client, media, **headers):
    return client.get(f"/files/{media.pk}/peaks/", headers=headers)


def test_peaks_come_in_the_shape_wavesurfer_takes(reviewer_client, media_root):
    response = get(reviewer_client, audio("tone.wav"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert set(data) == {"duration", "peaks", "length", "sample_rate"}
    assert data["duration"] == 3.0
    assert len(data["peaks"]) == 1 and len(data["peaks"][0]) == data["length"] == 300
    assert data["sample_rate"] == 100.0  # peaks per second
    first, second, third = (data["peaks"][0][i * 100 : (i + 1) * 100] for i in range(3))
    assert all(0.49 < abs(p) <= 0.51 for p in first[1:-1])
    assert all(p == 0 for p in second[1:-1])
    assert all(0.24 < abs(p) <= 0.26 for p in third[1:-1])


def test_peaks_are_computed_once_and_then_served_from_the_table(
    reviewer_client, manager_client, media_root, decodes
):
    media = audio("tone.wav")

    first = get(reviewer_client, media)
    second = get(manager_client, media)

    assert len(decodes) == 1
    assert first.json() == second.json()
    assert first["ETag"] == second["ETag"] and first["ETag"].startswith('"peaks-')
    row = MediaPeaks.objects.get(media_file=media)
    assert row.state == "ready" and row.length == 300 and row.compute_seconds > 0
    assert json.loads(gzip.decompress(bytes(row.payload))) == first.json()
    assert get(reviewer_client, media, if_none_match=first["ETag"]).status_code == 304
    assert len(decodes) == 1


def test_peaks_go_out_gzipped_to_a_browser_that_takes_it(reviewer_client, media_root):
    media = audio("tone.wav")
    plain = get(reviewer_client, media)

    zipped = get(reviewer_client, media, accept_encoding="gzip, deflate, br")

    assert zipped["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped["Vary"]
    assert json.loads(gzip.decompress(zipped.content)) == plain.json()
    assert len(zipped.content) < len(plain.content) / 2


def test_a_changed_file_gets_its_peaks_computed_again(reviewer_client, media_root, decodes):
    media = audio("tone.wav")
    before = get(reviewer_client, media)
    write_audio(media_root / "tone.wav", np.full(RATE * 3, 0.125))
    os.utime(media_root / "tone.wav", (2_000_000_000, 2_000_000_000))

    after = get(reviewer_client, media)

    assert len(decodes) == 2 and before["ETag"] != after["ETag"]
    assert set(after.json()["peaks"][0][1:-1]) == {0.125}


def test_a_silent_file_gives_zeros(reviewer_client, media_root):
    data = get(reviewer_client, audio("silence.wav", duration_seconds=2.0)).json()
    assert data["length"] == 200 and data["peaks"] == [[0.0] * 200]


def test_stereo_is_mixed_down_to_one_channel(reviewer_client, media_root):
    data = get(reviewer_client, audio("stereo.wav")).json()
    assert len(data["peaks"]) == 1
    assert max(abs(p) for p in data["peaks"][0]) < 0.01  # the channels cancel out


def test_a_file_without_audio_says_so_in_json(reviewer_client, media_root, decodes):
    media = make_file(media_type="video", storage_path="picture.png", duration_seconds=1.0)

    response = get(reviewer_client, media)
    again = get(reviewer_client, media)

    assert response.status_code == 404
    assert response.json()["error"] == "This file has no audio track."
    assert again.status_code == 404 and len(decodes) == 1


def test_a_corrupt_file_is_a_clear_error_decoded_only_once(reviewer_client, media_root, decodes):
    media = audio("corrupt.webm")

    response = get(reviewer_client, media)
    again = get(reviewer_client, media)

    assert response.status_code == 422
    assert response.json()["error"].startswith("The media could not be decoded: ")
    assert "corrupt.webm" in response.json()["where"]
    assert again.status_code == 422 and len(decodes) == 1


def test_missing_media_and_other_kinds_of_file_have_no_peaks(reviewer_client, media_root, decodes):
    missing = get(reviewer_client, audio("gone.ogg"))
    image = get(reviewer_client, make_file(media_type="image", storage_path="picture.png"))

    assert missing.status_code == 404
    assert "not found in storage `local`: gone.ogg" in missing.json()["error"]
    assert image.status_code == 404 and "Only audio and video" in image.json()["error"]
    assert decodes == []


def test_a_long_file_is_computed_in_the_background_while_the_page_waits(
    reviewer_client, media_root, monkeypatch, settings
):
    settings.PEAKS_INLINE_MAX_SECONDS = 2.0
    started = []
    monkeypatch.setattr(peaks, "start_in_background", lambda *job: started.append(job))
    media = audio("tone.wav", duration_seconds=None)  # probed: 3 s

    waiting = get(reviewer_client, media)
    still = get(reviewer_client, media)

    assert waiting.status_code == 202 == still.status_code
    assert waiting.json()["status"] == "computing" and waiting["Retry-After"]
    assert len(started) == 1  # the second request did not start another
    peaks.compute(*started[0])
    assert get(reviewer_client, media).json()["length"] == 300


def test_a_long_files_peaks_are_computed_by_a_background_task_not_the_request(
    reviewer_client, media_root, settings, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    from mediaanalysis.pipeline.tasks import compute_peaks

    settings.PEAKS_INLINE_MAX_SECONDS = 2.0
    media = audio("tone.wav", duration_seconds=None)  # probed: 3 s

    with django_capture_on_commit_callbacks(execute=True):
        waiting = get(reviewer_client, media)

    assert waiting.status_code == 202
    queued = DBTaskResult.objects.get(task_path=compute_peaks.module_path)
    assert queued.args_kwargs["args"][0] == media.pk
    compute_peaks.call(*queued.args_kwargs["args"])  # what the worker does with it
    assert get(reviewer_client, media).json()["length"] == 300


def test_an_abandoned_computation_is_taken_over_after_its_lease(
    reviewer_client, media_root, decodes
):
    media = audio("tone.wav")
    stale = peaks.source_of(media.location)
    MediaPeaks.objects.create(
        media_file=media,
        source=stale,
        state="computing",
        started_at=peaks.timezone.now() - peaks.LEASE * 2,
    )
    assert get(reviewer_client, media).status_code == 200 and len(decodes) == 1


def test_only_readers_get_peaks(client, nobody, reviewer_client, media_root):
    media = audio("tone.wav")
    assert client.get(f"/files/{media.pk}/peaks/").status_code == 302
    assert client_for(nobody).get(f"/files/{media.pk}/peaks/").status_code == 403
    media.soft_delete()
    assert reviewer_client.get(f"/files/{media.pk}/peaks/").status_code == 404


def test_compute_peaks_computes_ahead_of_the_first_view(media_root, decodes):
    tone, silence = audio("tone.wav"), audio("silence.wav", duration_seconds=2.0)
    audio("gone.ogg")
    out = StringIO()

    call_command("compute_peaks", stdout=out)
    call_command("compute_peaks", stdout=StringIO())

    assert sorted(MediaPeaks.objects.values_list("media_file_id", flat=True)) == [
        tone.pk,
        silence.pk,
    ]
    assert len(decodes) == 2
    assert "2 files have their peaks; 1 have none" in out.getvalue()


def test_probe_reads_duration_frames_and_codecs(settings):
    from mediaanalysis.pipeline.decoding import probe

    facts = probe(str(settings.BASE_DIR / "mediaanalysis" / "demo_media" / "demo_video.webm"))
    assert facts["frame_count"] == 625 and round(facts["duration"]) == 25
    assert facts["video_codec"] == "vp9" and facts["audio_codec"] == "opus"
    assert (facts["width"], facts["height"]) == (640, 360) and facts["has_audio"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_requests_at_once_decode_the_file_once(media_root, monkeypatch, reviewer):
    calls, barrier = [], threading.Barrier(2)
    real = peaks.decode_peaks

    def slow(source):
        calls.append(source)
        threading.Event().wait(0.5)  # long enough for the other request to arrive meanwhile
        return real(source)

    monkeypatch.setattr(peaks, "decode_peaks", slow)
    media = audio("tone.wav")
    statuses = []

    def request():
        try:
            client = client_for(reviewer)
            barrier.wait()
            statuses.append(get(client, media).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(calls) == 1
    assert sorted(statuses) in ([200, 202], [200, 200])
