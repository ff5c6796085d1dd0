from datetime import timedelta

import pytest
from django.utils import timezone

from mediaanalysis.pipeline.models import AnalysisJob, AnalysisResult, MediaFile
from reviews.models import HITLReview
from tests.conftest import make_file, make_job, make_result


@pytest.fixture
def family():
    """A media file with two jobs, each with a result under review, plus an unrelated file."""
    media = make_file()
    jobs = [make_job(media_file=media, status="completed", progress=1.0) for _ in range(2)]
    results = [make_result(job=job, media_file=media) for job in jobs]
    reviews = [HITLReview.objects.create(analysis_result=result) for result in results]
    bystander = make_result(job=make_job(media_file=make_file()))
    return media, jobs, results, reviews, bystander


@pytest.mark.django_db
def test_soft_deleting_a_file_takes_its_jobs_results_and_reviews_with_it(family):
    media, jobs, results, reviews, bystander = family
    media.soft_delete()
    assert not MediaFile.objects.filter(pk=media.pk).exists()
    assert not AnalysisJob.objects.filter(pk__in=[j.pk for j in jobs]).exists()
    assert not AnalysisResult.objects.filter(pk__in=[r.pk for r in results]).exists()
    assert not HITLReview.objects.filter(pk__in=[r.pk for r in reviews]).exists()
    # nothing is destroyed, and all carry the one timestamp
    stamps = {
        *MediaFile.all_objects.filter(pk=media.pk).values_list("deleted_at", flat=True),
        *AnalysisJob.all_objects.filter(pk__in=[j.pk for j in jobs]).values_list(
            "deleted_at", flat=True
        ),
        *HITLReview.all_objects.filter(pk__in=[r.pk for r in reviews]).values_list(
            "deleted_at", flat=True
        ),
    }
    assert len(stamps) == 1 and None not in stamps
    assert AnalysisResult.objects.filter(pk=bystander.pk).exists()


@pytest.mark.django_db
def test_restore_brings_back_exactly_what_was_deleted_together(family):
    media, jobs, results, reviews, _ = family
    earlier = timezone.now() - timedelta(days=2)
    AnalysisJob.objects.filter(pk=jobs[0].pk).soft_delete(now=earlier)  # deleted on its own, before
    media.soft_delete()
    media.restore()
    assert MediaFile.objects.filter(pk=media.pk).exists()
    assert list(AnalysisJob.objects.filter(media_file=media)) == [jobs[1]]
    assert set(AnalysisResult.objects.filter(media_file=media)) == {results[1]}
    assert set(HITLReview.objects.filter(analysis_result__media_file=media)) == {reviews[1]}
    assert AnalysisJob.all_objects.get(pk=jobs[0].pk).deleted_at == earlier


@pytest.mark.django_db
def test_default_managers_and_relations_hide_deleted_rows(family):
    media, jobs, results, _, _ = family
    jobs[0].soft_delete()
    assert AnalysisJob.objects.filter(pk=jobs[0].pk).count() == 0
    assert AnalysisJob.all_objects.filter(pk=jobs[0].pk).count() == 1
    assert list(media.jobs.all()) == [jobs[1]]
    assert AnalysisJob.all_objects.get(pk=jobs[0].pk).is_deleted
    # a deleted row's parent still resolves, for the admin's deleted view
    assert AnalysisResult.all_objects.get(pk=results[0].pk).job == jobs[0]


@pytest.mark.django_db
def test_a_row_knows_when_its_parent_is_deleted(family):
    media, _, results, _, _ = family
    media.soft_delete()
    result = AnalysisResult.all_objects.get(pk=results[0].pk)
    assert result.deleted_parent() is not None
