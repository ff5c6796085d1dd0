"""The admin's "probe media" action reads a file's duration, frames and size with PyAV."""

import shutil

import pytest

from mediaanalysis.pipeline.models import MediaFile

from .conftest import make_file

pytestmark = pytest.mark.django_db

URL = "/admin/mediaanalysis/mediafile/"


def test_probing_records_what_the_media_itself_says(admin_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    shutil.copy(settings.BASE_DIR / "mediaanalysis" / "demo_media" / "demo_video.webm", tmp_path)
    video = make_file(storage_path="demo_video.webm", duration_seconds=None, frame_count=None)
    gone = make_file(storage_path="gone.webm")

    response = admin_client.post(
        URL, {"action": "probe_selected", "_selected_action": [video.pk, gone.pk]}, follow=True
    )

    video = MediaFile.objects.get(pk=video.pk)
    assert video.frame_count == 625 and round(video.duration_seconds) == 25
    assert video.file_size == (tmp_path / "demo_video.webm").stat().st_size
    text = response.text
    assert "Probed 1 file(s)." in text
    assert f"#{gone.pk}: not found in storage `local`: gone.webm" in text


def test_a_manager_cannot_probe(manager_client):
    media = make_file(storage_path="x.webm")
    response = manager_client.post(
        URL, {"action": "probe_selected", "_selected_action": [media.pk]}
    )
    assert response.status_code in (302, 403)
    assert MediaFile.objects.get(pk=media.pk).duration_seconds is None
