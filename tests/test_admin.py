import pytest
from django.urls import reverse

from mediaanalysis.pipeline.models import AnalysisJob, MediaFile
from reviews.models import HITLReview
from tests.conftest import make_file, make_job, make_result, make_session

CHANGELISTS = [
    "mediaanalysis_mediafile",
    "mediaanalysis_analysisjob",
    "mediaanalysis_analysisresult",
    "mediaanalysis_usersession",
    "mediaanalysis_apitoken",
    "reviews_hitlreview",
    "reviews_reviewevent",
]


@pytest.fixture
def some_data():
    media = make_file()
    job = make_job(media_file=media, status="failed", error_message="boom", retry_count=1)
    result = make_result(job=make_job(media_file=media, status="completed"), media_file=media)
    HITLReview.objects.create(analysis_result=result)
    make_session()
    return media, job, result


@pytest.mark.django_db
@pytest.mark.parametrize("name", CHANGELISTS)
@pytest.mark.parametrize("deleted", ["", "?deleted=yes", "?deleted=all"])
def test_every_changelist_renders_for_an_admin(
    admin_client, some_data, name, deleted, django_assert_max_num_queries
):
    if deleted and name in ("mediaanalysis_apitoken", "reviews_reviewevent"):
        deleted = ""  # these have no soft delete
    with django_assert_max_num_queries(16):
        response = admin_client.get(reverse(f"admin:{name}_changelist") + deleted)
    assert response.status_code == 200


@pytest.mark.django_db
def test_deleted_filter_shows_live_rows_by_default_and_deleted_on_request(admin_client, some_data):
    media, _, _ = some_data
    gone = make_file(original_filename="gone.mp4")
    gone.soft_delete()
    url = reverse("admin:mediaanalysis_mediafile_changelist")
    assert "gone.mp4" not in admin_client.get(url).text
    assert "gone.mp4" in admin_client.get(url + "?deleted=yes").text
    assert media.original_filename not in admin_client.get(url + "?deleted=yes").text


@pytest.mark.django_db
def test_admin_soft_deletes_and_restores_a_file_with_its_dependants(admin_client, some_data):
    media, _, result = some_data
    url = reverse("admin:mediaanalysis_mediafile_changelist")
    admin_client.post(
        url, {"action": "soft_delete_selected", "_selected_action": [media.pk], "post": "yes"}
    )
    assert not MediaFile.objects.filter(pk=media.pk).exists()
    assert not HITLReview.objects.filter(analysis_result=result).exists()
    response = admin_client.post(
        url + "?deleted=yes",
        {"action": "restore_selected", "_selected_action": [media.pk]},
        follow=True,
    )
    assert "Restored 1" in response.text
    assert MediaFile.objects.filter(pk=media.pk).exists()
    assert AnalysisJob.objects.filter(media_file=media).count() == 2
    assert HITLReview.objects.filter(analysis_result=result).exists()


@pytest.mark.django_db
def test_admin_delete_button_soft_deletes(admin_client, some_data):
    media, _, _ = some_data
    admin_client.post(
        reverse("admin:mediaanalysis_mediafile_delete", args=[media.pk]), {"post": "yes"}
    )
    assert MediaFile.all_objects.get(pk=media.pk).is_deleted


@pytest.mark.django_db
def test_restoring_a_child_of_a_deleted_parent_is_refused_with_a_reason(admin_client, some_data):
    media, job, _ = some_data
    media.soft_delete()
    response = admin_client.post(
        reverse("admin:mediaanalysis_analysisjob_changelist") + "?deleted=yes",
        {"action": "restore_selected", "_selected_action": [job.pk]},
        follow=True,
    )
    assert "restore the parent first" in response.text
    assert AnalysisJob.all_objects.get(pk=job.pk).is_deleted


@pytest.mark.django_db
def test_retry_sends_failed_jobs_back_to_pending_but_never_past_max_retries(admin_client):
    retryable = make_job(status="failed", retry_count=1, max_retries=3, progress=0.4)
    exhausted = make_job(status="failed", retry_count=3, max_retries=3)
    running = make_job(status="processing")
    response = admin_client.post(
        reverse("admin:mediaanalysis_analysisjob_changelist"),
        {"action": "retry_failed", "_selected_action": [retryable.pk, exhausted.pk, running.pk]},
        follow=True,
    )
    retryable.refresh_from_db()
    exhausted.refresh_from_db()
    assert (retryable.status, retryable.retry_count, retryable.progress) == ("pending", 2, 0.0)
    assert (exhausted.status, exhausted.retry_count) == ("failed", 3)
    assert f"#{exhausted.pk} (no retries left: 3/3)" in response.text
    assert f"#{running.pk} (not failed: processing)" in response.text


@pytest.mark.django_db
def test_admin_result_page_shows_its_reviews_inline_and_job_page_its_results(
    admin_client, some_data
):
    _, _, result = some_data
    response = admin_client.get(
        reverse("admin:mediaanalysis_analysisresult_change", args=[result.pk])
    )
    assert response.status_code == 200
    assert "HITL review" in response.text
    response = admin_client.get(
        reverse("admin:mediaanalysis_analysisjob_change", args=[result.job_id])
    )
    assert f"result #{result.pk}" in response.text


@pytest.mark.django_db
def test_a_reviewer_cannot_reach_the_admin(reviewer_client):
    response = reviewer_client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_a_user_in_no_group_sees_the_ask_an_admin_page(nobody):
    from tests.conftest import client_for

    response = client_for(nobody).get("/")
    assert response.status_code == 403
    assert "Ask an admin for access" in response.text


@pytest.mark.django_db
def test_groups_exist_with_their_permissions():
    from django.contrib.auth.models import Group

    perms = {
        group.name: set(group.permissions.values_list("codename", flat=True))
        for group in Group.objects.prefetch_related("permissions")
    }
    assert {"view_analysisjob", "claim_hitlreview"} <= perms["Reviewers"]
    assert "view_dashboard" not in perms["Reviewers"]
    assert {"view_dashboard", "enqueue_hitlreview"} <= perms["Managers"]
    assert "claim_hitlreview" not in perms["Managers"]
    assert {"delete_mediafile", "change_hitlreview", "claim_hitlreview"} <= perms["Admins"]
