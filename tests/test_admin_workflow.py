"""The admin as an admin uses it: delete shows what goes with a row before it acts, restore says
what came back, lists are dense and agree with the app, and a review's workflow changes only
through the audited workflow. Error pages lead each role back to its work."""

import html
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from mediaanalysis.pipeline.models import AnalysisJob, MediaFile
from mediaanalysis.pipeline.softdelete import cascade_counts, describe_cascade
from reviews import services
from reviews.models import HITLReview, ReviewEvent
from tests.conftest import make_file, make_job, make_result

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_automatic_reviews(settings):
    settings.REVIEW_CONFIDENCE_THRESHOLD = 0


@pytest.fixture
def lecture():
    """A media file with three jobs, a result each (of the job and the file) and one review."""
    media = make_file(original_filename="lecture.mp4", file_size=1_572_864, duration_seconds=125)
    results = [
        make_result(job=make_job(media_file=media, status="completed"), media_file=media)
        for _ in range(3)
    ]
    HITLReview.objects.create(analysis_result=results[0])
    return media


FILES = "/admin/mediaanalysis/mediafile/"


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_cascade_counts_each_row_once_though_a_result_has_two_parents(lecture):
    counts = cascade_counts(MediaFile.objects.filter(pk=lecture.pk))
    assert describe_cascade(counts, MediaFile) == (
        "1 media file with 3 analysis jobs, 3 analysis results and 1 HITL review"
    )


def test_the_delete_page_previews_what_goes_with_the_file(admin_client, lecture):
    response = admin_client.get(reverse("admin:mediaanalysis_mediafile_delete", args=[lecture.pk]))
    text = response.text
    assert "Analysis jobs: 3" in text and "Analysis results: 3" in text
    assert "HITL reviews: 1" in text
    assert MediaFile.objects.filter(pk=lecture.pk).exists()  # nothing happened yet


def test_the_bulk_delete_asks_first_with_the_counts_then_soft_deletes(admin_client, lecture):
    data = {"action": "soft_delete_selected", "_selected_action": [lecture.pk]}
    preview = admin_client.post(FILES, data)
    assert preview.status_code == 200
    assert (
        "Delete <strong>1 media file with 3 analysis jobs, 3 analysis results and 1 HITL review"
        in preview.text
    )
    assert MediaFile.objects.filter(pk=lecture.pk).exists()
    done = admin_client.post(FILES, {**data, "post": "yes"}, follow=True)
    assert messages_of(done)[0].startswith(
        "Deleted 1 media file with 3 analysis jobs, 3 analysis results and 1 HITL review."
    )
    assert not AnalysisJob.objects.filter(media_file=lecture).exists()


def test_restore_says_what_came_back(admin_client, lecture):
    gone_earlier = AnalysisJob.objects.filter(media_file=lecture).order_by("pk").last()
    gone_earlier.soft_delete(now=timezone.now() - timedelta(days=1))  # deleted on its own
    lecture.soft_delete()
    response = admin_client.post(
        FILES + "?deleted=yes",
        {"action": "restore_selected", "_selected_action": [lecture.pk]},
        follow=True,
    )
    assert messages_of(response) == [
        "Restored 1 media file with 2 analysis jobs, 2 analysis results and 1 HITL review."
    ]
    assert AnalysisJob.all_objects.get(pk=gone_earlier.pk).is_deleted


def test_the_file_list_shows_sizes_durations_and_dates_as_people_read_them(admin_client, lecture):
    text = admin_client.get(FILES).text
    assert "1.5\xa0MB" in text and "2 min 05 s" in text
    stamp = timezone.localtime(lecture.created_at).strftime("%Y-%m-%d %H:%M")
    assert f'<td class="field-created_at nowrap">{stamp}</td>' in text
    assert '<span class="nowrap mono" title="sess-files">sess-files</span>' in text


@pytest.fixture
def expired_claim(reviewer):
    review = HITLReview.objects.create(
        analysis_result=make_result(),
        status="reviewing",
        claimed_by=reviewer,
        claimed_at=timezone.now() - timedelta(hours=1),
        claim_expires_at=timezone.now() - timedelta(minutes=45),
    )
    return review


def test_the_review_list_shows_an_expired_claim_as_the_app_does(
    admin_client, expired_claim, reviewer
):
    live = HITLReview.objects.create(
        analysis_result=make_result(),
        status="claimed",
        claimed_by=reviewer,
        claimed_at=timezone.now(),
        claim_expires_at=timezone.now() + timedelta(minutes=10),
    )
    text = admin_client.get("/admin/reviews/hitlreview/").text
    assert "Claim expired (was rita)" in text
    assert "Claimed by rita until" in text
    change = admin_client.get(reverse("admin:reviews_hitlreview_change", args=[live.pk])).text
    assert "Claimed by rita until" in change
    assert (
        "Claim expired (was rita)"
        in admin_client.get(
            reverse("admin:reviews_hitlreview_change", args=[expired_claim.pk])
        ).text
    )


def test_the_review_form_edits_no_workflow_field_and_audits_a_new_priority(
    admin_client, admin_user, expired_claim
):
    url = reverse("admin:reviews_hitlreview_change", args=[expired_claim.pk])
    form = admin_client.get(url).text
    for field in ("reviewer_notes", "corrections", "status", "approved", "claimed_by"):
        assert f'name="{field}"' not in form
    assert 'name="priority"' in form
    admin_client.post(
        url,
        {
            "priority": "7",
            "reviewer_notes": "typed in the admin",
            "corrections": '{"a": 1}',
            "status": "completed",
            **{
                f"{inline}-{field}": "0"
                for inline in ("events", "drafts")
                for field in ("TOTAL_FORMS", "INITIAL_FORMS")
            },
        },
    )
    review = HITLReview.objects.get(pk=expired_claim.pk)
    assert (review.priority, review.status, review.reviewer_notes, review.corrections) == (
        7,
        "reviewing",
        None,
        None,
    )
    event = ReviewEvent.objects.get(review=review, kind="priority_changed")
    assert (event.actor, event.details) == (admin_user, {"before": 0, "after": 7})


def test_a_reviewer_is_led_back_to_the_queue_and_a_manager_to_the_dashboard(
    reviewer_client, manager_client
):
    assert "Back to the review queue" in reviewer_client.get("/jobs/999999/").text
    assert (
        'href="/dashboard/"' not in reviewer_client.get("/jobs/999999/").text.split("way-back")[1]
    )
    assert "Back to the dashboard" in manager_client.get("/jobs/999999/").text
    forbidden = reviewer_client.get("/dashboard/")
    assert forbidden.status_code == 403 and "Back to the review queue" in forbidden.text
    assert "Back to the dashboard" in manager_client.post("/reviews/claim-next/").text


def test_a_reviewer_opening_a_review_of_a_deleted_file_is_told_so(reviewer_client, lecture):
    review = HITLReview.objects.get()
    lecture.soft_delete()
    response = reviewer_client.get(review.get_absolute_url())
    assert response.status_code == 404
    when = timezone.localtime(HITLReview.all_objects.get(pk=review.pk).deleted_at)
    assert (
        f"This review's media file “lecture.mp4” was deleted on {when:%Y-%m-%d %H:%M}."
        in html.unescape(response.text)
    )
    assert "Back to the review queue" in response.text


def test_a_review_whose_result_alone_was_deleted_says_so(reviewer_client):
    result = make_result()
    review = HITLReview.objects.create(analysis_result=result)
    result.soft_delete()
    text = html.unescape(reviewer_client.get(review.get_absolute_url()).text)
    assert f"This review's result #{result.pk} was deleted on" in text


def test_a_review_that_never_was_is_a_plain_not_found(reviewer_client):
    response = reviewer_client.get("/reviews/999999/")
    assert response.status_code == 404 and "There is nothing at this address" in response.text


def test_the_admin_send_to_review_is_an_undoable_batch_too(admin_client, admin_user):
    result = make_result()
    admin_client.post(
        "/admin/mediaanalysis/analysisresult/",
        {"action": "send_to_review", "_selected_action": [result.pk], "priority": "2"},
    )
    batch = services.EnqueueBatch.objects.get()
    assert (batch.actor, batch.opened) == (admin_user, 1)
