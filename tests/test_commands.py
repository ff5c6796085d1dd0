from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command, get_commands
from django.utils import timezone

from mediaanalysis.pipeline.models import AnalysisJob, AnalysisResult, MediaFile, ProcessingStatus
from reviews.models import Decision, HITLReview, ReviewStatus
from tests.conftest import make_file, make_job, make_result


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_seed_demo_loads_every_state_and_can_run_twice(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    output = run("seed_demo", "--sessions", "30")
    counts = (MediaFile.objects.count(), AnalysisJob.objects.count(), HITLReview.objects.count())
    assert "reviewer-demo-pass" in output
    assert set(AnalysisJob.objects.values_list("status", flat=True)) == set(ProcessingStatus.values)
    assert AnalysisJob.objects.filter(status="processing", progress__gt=0, progress__lt=1).exists()
    assert set(HITLReview.objects.values_list("status", flat=True)) >= {
        "pending",
        "claimed",
        "reviewing",
        "completed",
    }
    assert set(HITLReview.objects.exclude(approved=None).values_list("approved", flat=True)) == set(
        Decision.values
    )
    assert AnalysisResult.objects.filter(transcript__isnull=False, segments__isnull=False).exists()
    assert {u.username for u in get_user_model().objects.all()} >= {"admin", "manager", "reviewer"}
    assert "already loaded" in run("seed_demo")
    assert (
        MediaFile.objects.count(),
        AnalysisJob.objects.count(),
        HITLReview.objects.count(),
    ) == counts


@pytest.mark.django_db
def test_purge_deleted_destroys_only_rows_deleted_long_enough_ago():
    old = make_file()
    make_result(job=make_job(media_file=old), media_file=old)
    recent = make_file()
    alive = make_file()
    old.soft_delete(now=timezone.now() - timedelta(days=40))
    recent.soft_delete()
    dry = run("purge_deleted", "--older-than", "30", "--dry-run")
    assert "media_files: would purge 1" in dry and "analysis_jobs: would purge 1" in dry
    assert MediaFile.all_objects.filter(pk=old.pk).exists()
    run("purge_deleted", "--older-than", "30")
    assert set(MediaFile.all_objects.values_list("pk", flat=True)) == {recent.pk, alive.pk}
    assert not AnalysisJob.all_objects.filter(media_file_id=old.pk).exists()


@pytest.mark.django_db
def test_release_expired_claims_tidies_only_expired_claims(reviewer):
    now = timezone.now()
    expired = HITLReview.objects.create(
        analysis_result=make_result(),
        status=ReviewStatus.CLAIMED,
        claimed_by=reviewer,
        claimed_at=now - timedelta(hours=1),
        claim_expires_at=now - timedelta(minutes=1),
    )
    live = HITLReview.objects.create(
        analysis_result=make_result(),
        status=ReviewStatus.REVIEWING,
        claimed_by=reviewer,
        claimed_at=now,
        claim_expires_at=now + timedelta(minutes=10),
    )
    assert "Released 1" in run("release_expired_claims")
    expired.refresh_from_db()
    live.refresh_from_db()
    assert (expired.status, expired.claimed_by) == ("pending", None)
    assert expired.events.filter(kind="expired", details__previous_holder=reviewer.pk).exists()
    assert live.status == "reviewing"


def test_runserver_serves_static_files_through_whitenoise_as_production_does():
    """Django's own static handler under runserver answered 500 to a path out of the static
    folder (/static/..%2F..%2Fetc%2Fpasswd; found by a fuzz run outside the suite)."""
    assert get_commands()["runserver"] == "whitenoise.runserver_nostatic"
