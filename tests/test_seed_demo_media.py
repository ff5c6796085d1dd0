"""`seed_demo` loads playable media from mediaanalysis/demo_media/ (its manifest.json)."""

import json
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from mediaanalysis.pipeline.models import AnalysisResult, MediaFile, MediaPeaks
from reviews.models import HITLReview, Reason

pytestmark = pytest.mark.django_db

DEMO = settings.BASE_DIR / "mediaanalysis" / "demo_media"
MANIFEST = json.loads((DEMO / "manifest.json").read_text())


def seed():
    call_command("seed_demo", "--sessions", "2", stdout=StringIO())


def test_every_demo_file_is_playable_from_media_root(settings, tmp_path, reviewer_client):
    settings.MEDIA_ROOT = tmp_path
    seed()

    files = MediaFile.objects.filter(
        original_filename__in=[f["filename"] for f in MANIFEST["files"]]
    )
    assert files.count() == len(MANIFEST["files"])
    for media in files:
        assert media.storage_backend == "local" and media.storage_path.startswith("demo/")
        assert media.location.available
        response = reviewer_client.get(f"/files/{media.pk}/media/")
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == (DEMO / media.original_filename).read_bytes()
    video = files.get(media_type="video")
    assert (video.duration_seconds, video.frame_count) == (25.0, 625)
    assert reviewer_client.get(f"/files/{video.pk}/contact-sheet/").status_code == 200


def test_demo_results_carry_the_manifests_output_and_audio_has_stored_peaks(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    seed()

    for entry in MANIFEST["files"]:
        result = AnalysisResult.objects.get(media_file__original_filename=entry["filename"])
        assert result.segments == entry.get("segments")
        assert result.result_data == entry["result_data"]
        assert result.transcript == entry.get("transcript")
    assert MediaPeaks.objects.filter(state="ready").count() == 2  # the video and the call


def test_a_demo_reviewers_first_claim_is_the_video(settings, tmp_path, reviewer_client):
    settings.MEDIA_ROOT = tmp_path
    seed()

    response = reviewer_client.post("/reviews/claim-next/")

    review_id = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
    result = AnalysisResult.objects.get(reviews__pk=review_id)
    assert result.media_file.original_filename == "demo_video.webm"


def test_seeding_twice_adds_no_second_copy(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    seed()
    counts = MediaFile.objects.count(), MediaPeaks.objects.count()
    (tmp_path / "demo" / "invoice.pdf").unlink()  # restored by the second run

    seed()

    assert (MediaFile.objects.count(), MediaPeaks.objects.count()) == counts
    assert (tmp_path / "demo" / "invoice.pdf").read_bytes() == (DEMO / "invoice.pdf").read_bytes()


def test_each_demo_media_review_says_why_it_is_in_the_queue(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    seed()

    reviews = HITLReview.objects.filter(
        analysis_result__media_file__original_filename__in=[
            f["filename"] for f in MANIFEST["files"]
        ]
    )
    assert reviews.count() == len(MANIFEST["files"])
    assert {review.why_short() for review in reviews} == {"Sent by manager"}
    assert not HITLReview.objects.filter(reason=Reason.UNRECORDED).exists()
