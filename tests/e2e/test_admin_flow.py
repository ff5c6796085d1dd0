"""An admin deletes a media file after seeing what goes with it, then restores it and is told
exactly what came back."""

import pytest
from playwright.sync_api import expect

from mediaanalysis.pipeline.models import AnalysisJob, MediaFile
from reviews.models import HITLReview
from tests.conftest import make_file, make_job, make_result
from tests.e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def run_action(page, label):
    page.select_option("select[name=action]", label=label)
    page.get_by_role("button", name="Run").click()


def test_an_admin_deletes_a_file_seeing_the_counts_and_restores_it_with_them(new_page, admin_user):
    media = make_file(original_filename="lecture.mp4")
    results = [
        make_result(job=make_job(media_file=media, status="completed"), media_file=media)
        for _ in range(3)
    ]
    HITLReview.objects.filter(analysis_result__in=results).delete()
    HITLReview.objects.create(analysis_result=results[0])
    page = new_page()
    login(page, admin_user)

    page.goto("/admin/mediaanalysis/mediafile/")
    page.check(f"input[name=_selected_action][value='{media.pk}']")
    run_action(page, "Delete selected (soft: can be restored)")
    expect(page.locator("#content")).to_contain_text(
        "Delete 1 media file with 3 analysis jobs, 3 analysis results and 1 HITL review?"
    )
    assert MediaFile.objects.filter(pk=media.pk).exists()  # only asked so far
    page.get_by_role("button", name="Yes, delete them").click()
    expect(page.locator(".messagelist")).to_contain_text(
        "Deleted 1 media file with 3 analysis jobs, 3 analysis results and 1 HITL review."
    )
    assert not AnalysisJob.objects.filter(media_file=media).exists()

    page.get_by_role("link", name="Deleted", exact=True).click()
    page.check(f"input[name=_selected_action][value='{media.pk}']")
    run_action(page, "Restore selected, with what was deleted with them")
    expect(page.locator(".messagelist")).to_contain_text(
        "Restored 1 media file with 3 analysis jobs, 3 analysis results and 1 HITL review."
    )
    assert AnalysisJob.objects.filter(media_file=media).count() == 3
    assert HITLReview.objects.filter(analysis_result=results[0]).exists()
