"""Every rule is one permission, checked on the server: without it a request is refused, with
it (and nothing else the rule could lean on) it goes through. Groups only grant permissions."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

from mediaanalysis.roles import MANAGERS, RoleBackend
from reviews.models import HITLReview
from tests.conftest import client_for, make_file, make_job, make_result, make_session, make_user

pytestmark = pytest.mark.django_db

# (method, url name pattern, the permission it needs)
RULES = [
    ("get", "/jobs/", "mediaanalysis.view_analysisjob"),
    ("get", "/jobs/export/", "mediaanalysis.view_analysisjob"),
    ("get", "/jobs/{job}/", "mediaanalysis.view_analysisjob"),
    ("get", "/jobs/{job}/progress/", "mediaanalysis.view_analysisjob"),
    ("get", "/results/", "mediaanalysis.view_analysisresult"),
    ("get", "/results/export/", "mediaanalysis.view_analysisresult"),
    ("get", "/results/{result}/", "mediaanalysis.view_analysisresult"),
    ("get", "/files/", "mediaanalysis.view_mediafile"),
    ("get", "/files/export/", "mediaanalysis.view_mediafile"),
    ("get", "/files/{file}/", "mediaanalysis.view_mediafile"),
    ("get", "/sessions/", "mediaanalysis.view_usersession"),
    ("get", "/sessions/export/", "mediaanalysis.view_usersession"),
    ("get", "/sessions/{session}/", "mediaanalysis.view_usersession"),
    ("get", "/reviews/", "reviews.view_hitlreview"),
    ("get", "/reviews/{review}/", "reviews.view_hitlreview"),
    ("post", "/reviews/{review}/diff/", "reviews.view_hitlreview"),
    ("post", "/reviews/claim-next/", "reviews.claim_hitlreview"),
    ("post", "/reviews/{review}/claim/", "reviews.claim_hitlreview"),
    ("post", "/reviews/{review}/release/", "reviews.claim_hitlreview"),
    ("post", "/reviews/{review}/heartbeat/", "reviews.claim_hitlreview"),
    ("post", "/reviews/{review}/decide/", "reviews.claim_hitlreview"),
    ("post", "/reviews/enqueue/", "reviews.enqueue_hitlreview"),
    ("post", "/reviews/enqueue/1/undo/", "reviews.enqueue_hitlreview"),
    ("post", "/jobs/retry/", "mediaanalysis.retry_analysisjob"),
    ("get", "/dashboard/", "mediaanalysis.view_dashboard"),
]
EVERY_PERMISSION = sorted({perm for _, _, perm in RULES})


def _grant(user, perms):
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )


@pytest.fixture
def rows():
    media = make_file(session_id="sess-perm")
    job = make_job(session_id="sess-perm", media_file=media)
    result = make_result(job=job, media_file=media, confidence_score=0.2)
    make_session(session_id="sess-perm")
    review = HITLReview.objects.get(analysis_result=result)
    return {"job": job.pk, "result": result.pk, "file": media.pk, "session": "sess-perm"} | {
        "review": review.pk
    }


@pytest.mark.parametrize(("method", "url", "perm"), RULES, ids=[f"{m} {u}" for m, u, _ in RULES])
def test_each_rule_needs_its_permission_and_no_group(django_user_model, rows, method, url, perm):
    url = url.format(**rows)
    without = make_user(django_user_model, "without")
    _grant(without, [p for p in EVERY_PERMISSION if p != perm])
    refused = getattr(client_for(without), method)(url)
    assert refused.status_code == 403, url

    holder = make_user(django_user_model, "holder")
    _grant(holder, [perm])
    allowed = getattr(client_for(holder), method)(url)
    assert allowed.status_code != 403, url


def test_groups_grant_the_rules_by_permission_only(reviewer, manager, admin_user):
    """The groups are bundles of the permissions above, nothing more."""
    assert reviewer.has_perm("reviews.claim_hitlreview")
    assert not reviewer.has_perm("reviews.enqueue_hitlreview")
    assert not reviewer.has_perm("mediaanalysis.view_dashboard")
    assert manager.has_perm("reviews.enqueue_hitlreview")
    assert manager.has_perm("mediaanalysis.view_dashboard")
    assert manager.has_perm("mediaanalysis.retry_analysisjob")
    assert not reviewer.has_perm("mediaanalysis.retry_analysisjob")
    assert not manager.has_perm("reviews.claim_hitlreview")
    assert all(admin_user.has_perm(perm) for perm in EVERY_PERMISSION)


def test_a_signed_in_user_reads_their_permissions_with_the_user_in_one_query(
    manager_client, django_assert_num_queries
):
    # The session, then the user with their groups and permissions; the 404 page needs nothing else.
    with django_assert_num_queries(2):
        response = manager_client.get("/jobs/999999/")
    assert response.status_code == 404


def test_a_groups_grants_apply_from_the_next_request(manager, manager_client):
    """The user's permissions are read with them on every request, as ids: only their names
    are kept by the process (roles.permission_names), so a grant taken away counts at once."""
    view_dashboard = Permission.objects.get(codename="view_dashboard")
    assert manager_client.get("/dashboard/").status_code == 200
    Group.objects.get(name=MANAGERS).permissions.remove(view_dashboard)
    assert manager_client.get("/dashboard/").status_code == 403
    Group.objects.get(name=MANAGERS).permissions.add(view_dashboard)
    assert manager_client.get("/dashboard/").status_code == 200


def test_a_permission_created_after_the_names_were_read_is_found(django_user_model):
    """A permission id the process has not seen reads the names again."""
    user = make_user(django_user_model, "newcomer")
    created = Permission.objects.create(
        codename="view_newcomer",
        name="Can view newcomers",
        content_type=ContentType.objects.get_for_model(HITLReview),
    )
    user.user_permissions.add(created)
    assert "reviews.view_newcomer" in RoleBackend().get_user(user.pk).get_all_permissions()


def test_the_users_statement_names_no_permission_in_sql(manager_client, django_assert_num_queries):
    """Naming the permissions in SQL joined five tables more, and planning them cost
    PostgreSQL 0.6 ms on every signed-in request (docs/performance.md)."""
    manager_client.get("/jobs/0/")
    with django_assert_num_queries(2) as captured:
        manager_client.get("/jobs/0/")
    [user] = [q["sql"] for q in captured.captured_queries if '"auth_user"' in q["sql"]]
    assert "auth_permission" not in user and "django_content_type" not in user
