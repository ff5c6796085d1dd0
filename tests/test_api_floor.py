"""The fixed cost of a request (docs/performance.md, "The API's request"): what each API call
and the signed-in page floor ask the database, pinned statement by statement.

A token-authenticated API call asks for its token once (one indexed query), and passes the
session, CSRF, messages and the signed-in user by; an update writes the columns that changed;
a new result's review rule asks nothing unless the result is doubtful. A signed-in page reads
its user with their roles and permissions in one query.
"""

import json
import re
import select
import time

import psycopg
import pytest
from django.db import connection
from django.db.models import Q
from django.db.models.query import RawQuerySet
from django.db.models.sql.compiler import SQLCompiler
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from psycopg_pool import ConnectionPool

from mediaanalysis.db import Compiled
from mediaanalysis.pipeline.api import JOB, JOB_PROGRESS
from mediaanalysis.pipeline.models import AnalysisJob, ApiToken
from mediaanalysis.pool import check_connection
from mediaanalysis.roles import RoleBackend
from pages.views import JOB_PAGE, RESULT_PAGE
from reviews import quality
from reviews.filters import QueueFilter
from reviews.models import HITLReview
from reviews.views import REVIEW_PAGE
from tests.conftest import make_file, make_job, make_result
from tests.test_review_concurrency import run_together

pytestmark = pytest.mark.django_db

JSON = "application/json"


def token_client(scope="write", **headers) -> Client:
    """A worker's client, its token used a moment ago (so no last-used write is counted)."""
    token, raw = ApiToken.issue(f"floor-{scope}", scope)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return Client(headers={"authorization": f"Bearer {raw}", **headers})


def statements(captured, table) -> list[str]:
    return [q["sql"] for q in captured if f'"{table}"' in q["sql"] or f" {table} " in q["sql"]]


def compiling(monkeypatch) -> list:
    """The queries the ORM compiles from now on (SELECTs: inserts and updates have their own
    compilers), as a list that fills up."""
    compiled, as_sql = [], SQLCompiler.as_sql
    monkeypatch.setattr(
        SQLCompiler,
        "as_sql",
        lambda self, *a, **k: compiled.append(self.query) or as_sql(self, *a, **k),
    )
    return compiled


def set_columns(update_sql: str) -> set[str]:
    """The columns an UPDATE writes."""
    assignments = re.search(r"SET (.*) WHERE", update_sql).group(1)
    return set(re.findall(r'"(\w+)" = ', assignments))


def test_a_job_read_by_token_asks_for_the_token_and_the_job_and_nothing_else(
    django_assert_num_queries,
):
    worker, job = token_client("read"), make_job()

    with django_assert_num_queries(2) as captured:
        response = worker.get(f"/api/jobs/{job.pk}")

    assert response.status_code == 200
    assert len(statements(captured, "api_tokens")) == 1


def test_a_progress_poll_asks_for_the_token_and_four_columns_of_the_job(
    django_assert_num_queries,
):
    worker, job = token_client("read"), make_job(status="processing", progress=0.5)

    with django_assert_num_queries(2):
        response = worker.get(f"/api/jobs/{job.pk}/progress")

    assert response.json()["progress"] == 0.5


def test_a_progress_report_is_one_update_of_progress_and_updated_at_returning_the_job(
    django_assert_num_queries,
):
    worker, job = token_client(), make_job(status="processing", progress=0.1)

    # The token; one UPDATE, outside any transaction of its own, that returns the job.
    with django_assert_num_queries(2) as captured:
        response = worker.patch(f"/api/jobs/{job.pk}", {"progress": 0.4}, content_type=JSON)

    assert response.status_code == 200 and response.json()["progress"] == 0.4
    (update,) = [q["sql"] for q in captured if q["sql"].startswith("UPDATE")]
    assert set_columns(update) == {"progress", "updated_at"}
    assert [q["sql"] for q in captured if "FOR UPDATE" in q["sql"] or "SAVEPOINT" in q["sql"]] == []
    job.refresh_from_db()
    assert job.progress == 0.4 and job.updated_at == parse_datetime(response.json()["updated_at"])


def test_a_status_change_still_locks_the_job_and_writes_what_changed(django_assert_num_queries):
    worker, job = token_client(), make_job(status="processing", progress=0.1)

    # The token; the job, locked, in a savepoint (the test's transaction holds the outer one);
    # one UPDATE.
    with django_assert_num_queries(5) as captured:
        response = worker.patch(
            f"/api/jobs/{job.pk}", {"status": "processing", "progress": 0.4}, content_type=JSON
        )

    assert response.status_code == 200
    (update,) = [q["sql"] for q in captured if q["sql"].startswith("UPDATE")]
    assert set_columns(update) == {"status", "progress", "updated_at"}


@pytest.mark.parametrize(
    ("status", "deleted", "code"),
    [
        ("completed", False, 409),
        ("pending", False, 200),
        ("failed", False, 200),
        ("processing", True, 404),
    ],
)
def test_a_progress_report_keeps_the_lifecycle_and_its_answers(status, deleted, code):
    """Only a completed job is final, and a deleted one is not found: the report's UPDATE
    changes neither, and the locked path says why, as before."""
    worker, job = token_client(), make_job(status=status, progress=0.1)
    if deleted:
        job.soft_delete()

    response = worker.patch(f"/api/jobs/{job.pk}", {"progress": 0.4}, content_type=JSON)

    assert response.status_code == code
    assert AnalysisJob.all_objects.get(pk=job.pk).progress == (0.4 if code == 200 else 0.1)
    if code == 409:
        assert "final" in response.json()["detail"]


def test_a_result_patch_writes_only_the_columns_it_sent(django_assert_num_queries):
    worker, result = token_client(), make_result(confidence_score=0.95)

    with CaptureQueriesContext(connection) as captured:
        response = worker.patch(
            f"/api/results/{result.pk}", {"summary": "Two speakers."}, content_type=JSON
        )

    assert response.status_code == 200
    (update,) = [q["sql"] for q in captured if q["sql"].startswith('UPDATE "analysis_results"')]
    assert set_columns(update) == {"summary", "updated_at"}


def test_a_confident_new_result_asks_no_review_lookup(django_assert_num_queries):
    worker, job = token_client(), make_job(status="processing")
    body = {"job_id": job.pk, "analysis_type": "audio", "confidence_score": 0.95}

    # The token; in a savepoint: the job's check, the INSERT, the routing rule that applies to
    # it (docs/quality.md), its result.created event and the event's dispatch task (a row of
    # the same database's queue, committed with it).
    with django_assert_num_queries(8) as captured:
        response = worker.post("/api/results/", body, content_type=JSON)

    assert response.status_code == 201
    assert statements(captured, "hitl_reviews") == []
    assert len(statements(captured, "hitl_routing_rules")) == 1

    # The next result of that type and model: the rule is the one this process just read.
    with django_assert_num_queries(7) as captured:
        response = worker.post("/api/results/", body, content_type=JSON)

    assert response.status_code == 201
    assert statements(captured, "hitl_routing_rules") == []


def test_a_new_result_compiles_no_read_after_the_first(monkeypatch):
    """Its job's check and its routing rule are statements compiled once (mediaanalysis.db)."""
    worker, job = token_client(), make_job(status="processing")
    body = {"job_id": job.pk, "analysis_type": "audio", "confidence_score": 0.95}
    worker.post("/api/results/", body, content_type=JSON)
    compiled = compiling(monkeypatch)

    response = worker.post("/api/results/", body, content_type=JSON)

    assert response.status_code == 201
    assert compiled == []


def test_a_doubtful_new_result_still_goes_to_review():
    worker, job = token_client(), make_job(status="processing")
    body = {"job_id": job.pk, "analysis_type": "audio", "confidence_score": 0.2}

    response = worker.post("/api/results/", body, content_type=JSON)

    assert response.status_code == 201
    result = job.results.get()
    assert result.reviews.count() == 1


def test_a_post_with_an_idempotency_key_looks_its_token_up_once():
    worker, job = token_client(), make_job(status="processing")
    body = {"job_id": job.pk, "analysis_type": "audio", "confidence_score": 0.95}

    with CaptureQueriesContext(connection) as captured:
        response = worker.post(
            "/api/results/", body, content_type=JSON, headers={"Idempotency-Key": "k-1"}
        )

    assert response.status_code == 201
    assert len([q for q in statements(captured, "api_tokens") if "SELECT" in q]) == 1


def test_a_token_call_from_a_signed_in_browser_reads_no_session_and_no_user(
    manager, django_assert_num_queries
):
    worker, job = token_client("read"), make_job()
    worker.force_login(manager)  # a session cookie too: the token alone counts

    with django_assert_num_queries(2):
        response = worker.get(f"/api/jobs/{job.pk}")

    assert response.status_code == 200
    request = response.wsgi_request
    assert not hasattr(request, "session")
    assert not hasattr(request, "_messages")
    assert request.user.is_anonymous


def test_a_call_without_a_token_keeps_the_whole_middleware(manager):
    browser = Client()
    browser.force_login(manager)

    response = browser.get("/api/jobs/")

    assert response.status_code == 401
    assert response.wsgi_request.user == manager  # a session call, refused by the API itself
    assert hasattr(response.wsgi_request, "session")


def test_a_token_revoked_or_deleted_is_refused_at_once():
    revoked, deleted = ApiToken.issue("revoked", "read"), ApiToken.issue("deleted", "read")
    job = make_job()
    for _token, raw in (revoked, deleted):
        assert (
            Client().get(f"/api/jobs/{job.pk}", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code
            == 200
        )

    ApiToken.objects.filter(pk=revoked[0].pk).update(revoked_at=timezone.now())
    deleted[0].delete()

    for _token, raw in (revoked, deleted):
        response = Client().get(f"/api/jobs/{job.pk}", HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert response.status_code == 401


def test_a_token_of_too_small_a_scope_is_still_refused_with_its_scope_named():
    reader, job = token_client("read"), make_job(status="processing")

    response = reader.patch(f"/api/jobs/{job.pk}", {"progress": 0.2}, content_type=JSON)

    assert response.status_code == 403
    assert "'read'" in json.loads(response.content)["detail"]


def test_the_signed_in_page_floor_reads_the_user_with_their_roles_in_one_query(
    manager_client, django_assert_num_queries
):
    manager_client.get("/jobs/0/")  # the session is cached after its first read

    # The user with their roles and permissions; the missing job.
    with django_assert_num_queries(2) as captured:
        response = manager_client.get("/jobs/0/")

    assert response.status_code == 404
    assert "Managers" in response.content.decode()
    assert len(statements(captured, "auth_user")) == 1


@pytest.mark.parametrize("job_id", [2**31, 2**63, 10**30])
def test_a_job_id_beyond_the_column_is_no_such_job_not_an_overflow(job_id):
    worker = token_client("write")

    responses = [
        worker.get(f"/api/jobs/{job_id}"),
        worker.get(f"/api/jobs/{job_id}/progress"),
        worker.patch(f"/api/jobs/{job_id}", {"progress": 0.5}, content_type=JSON),
    ]

    assert [response.status_code for response in responses] == [404, 404, 404]


def test_a_compiled_statement_puts_its_value_wherever_its_marker_was():
    token, _ = ApiToken.issue("twice", "read")
    by_name_or_scope = Compiled(
        lambda v: ApiToken.objects.filter(Q(name=v) | Q(scope=v)).values_list("pk"), "\0v"
    )

    assert by_name_or_scope.first_row("twice") == (token.pk,)
    assert by_name_or_scope.first_row("nothing") is None
    with pytest.raises(ValueError, match="marker"):
        Compiled(lambda v: ApiToken.objects.values_list("pk"), "\0lost").first_row("x")


@pytest.mark.postgres
def test_a_claim_from_the_whole_queue_compiles_no_read_after_the_first(
    reviewer, reviewer_client, monkeypatch
):
    """The reviewer's lock and the queue's head are statements compiled once, and a reviewer
    without a lane builds no lane form (docs/performance.md, "The API's request")."""
    first, second = (HITLReview.objects.create(analysis_result=make_result()) for _ in range(2))
    assert reviewer_client.post("/reviews/claim-next/")["Location"] == f"/reviews/{first.pk}/"
    HITLReview.objects.filter(pk=first.pk).back_to_queue(timezone.now(), priority=-1)
    compiled, forms, lane_init = compiling(monkeypatch), [], QueueFilter.__init__
    monkeypatch.setattr(
        QueueFilter, "__init__", lambda self, *a, **k: forms.append(a) or lane_init(self, *a, **k)
    )

    response = reviewer_client.post("/reviews/claim-next/")

    assert response["Location"] == f"/reviews/{second.pk}/"
    assert (compiled, forms) == ([], [])
    assert HITLReview.objects.get(pk=second.pk).claimed_by == reviewer


def test_a_decision_reads_its_context_with_a_statement_compiled_once(
    reviewer, reviewer_client, monkeypatch
):
    reviews = [HITLReview.objects.create(analysis_result=make_result()) for _ in range(2)]
    reviewer_client.post("/reviews/claim-next/")
    decision = {"approved": "yes", "reviewer_notes": "fine"}
    reviewer_client.post(f"/reviews/{reviews[0].pk}/decide/", decision)  # claims the next one
    compiled = compiling(monkeypatch)

    response = reviewer_client.post(f"/reviews/{reviews[1].pk}/decide/", decision)

    assert response.status_code == 302
    assert HITLReview.objects.get(pk=reviews[1].pk).reviewed_by == reviewer
    assert [q for q in compiled if "second_review_rate" in q.annotations] == []


def test_a_compiled_read_gives_what_the_orm_gives():
    """Its columns pass the backend's converters: an aware datetime on SQLite too."""
    review = HITLReview.objects.create(analysis_result=make_result())

    context = quality.decision_context(review.pk)

    assert context["subject"]["result_version"] == review.analysis_result.updated_at
    assert context["subject"]["result_version"].tzinfo is not None


def test_a_compiled_instance_is_the_model_the_orm_gives(manager):
    """Compiled.instance() builds what the ORM's get() builds: the fields read, the others
    deferred, the annotations set, the datetimes converted (aware on SQLite too)."""
    job = make_job(status="processing", progress=0.5)
    token, raw = ApiToken.issue("instance", "write")
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())

    polled = JOB_PROGRESS.get(job.pk)
    found = ApiToken.objects.authenticating(raw)
    signed_in = RoleBackend().get_user(manager.pk)

    orm = AnalysisJob.objects.only("id", "status", "progress", "error_message").get(pk=job.pk)
    assert (polled.pk, polled.status, polled.progress) == (job.pk, "processing", 0.5)
    assert polled.get_deferred_fields() == orm.get_deferred_fields()
    assert polled._state.db == "default" and not polled._state.adding
    assert found.pk == token.pk and found.scope == "write"
    assert found.last_used_at == ApiToken.objects.get(pk=token.pk).last_used_at
    assert found.last_used_at.tzinfo is not None
    assert found.get_deferred_fields() == {
        "name",
        "prefix",
        "token_hash",
        "created_at",
        "revoked_at",
    }
    assert signed_in.group_names == "Managers" and signed_in.has_perm(
        "mediaanalysis.view_analysisjob"
    )
    assert JOB.get(job.pk + 1000) is None and ApiToken.objects.authenticating("mad_nope") is None


def test_a_compiled_instance_brings_its_select_related_rows(django_assert_num_queries):
    """A detail page's compiled read builds the related objects its select_related() names,
    as the ORM does: reading them asks nothing more; a missing one is None."""
    media = make_file()
    result = make_result(job=make_job(media_file=media), media_file=media)
    review = HITLReview.objects.create(analysis_result=result)

    with django_assert_num_queries(3):
        job = JOB_PAGE.get(result.job_id)
        page_result = RESULT_PAGE.get(result.pk)
        page_review = REVIEW_PAGE.get(review.pk)
    with django_assert_num_queries(0):
        assert job.media_file.original_filename == media.original_filename
        assert (page_result.job.pk, page_result.media_file.pk) == (job.pk, media.pk)
        assert page_review.analysis_result.job.media_file.pk == media.pk
        assert page_review.analysis_result.media_file.original_filename
        assert page_review.claimed_by is None and page_review.reviewed_by is None
    orm = HITLReview.objects.for_page().get(pk=review.pk)
    assert (
        page_review.analysis_result.job.__dict__.keys() == orm.analysis_result.job.__dict__.keys()
    )


@pytest.mark.parametrize(
    "url", ["/jobs/0/", "/results/0/", "/files/0/", "/files/0/media/", "/files/0/peaks/"]
)
def test_a_detail_page_reads_its_row_with_a_statement_compiled_once(
    admin_client, url, monkeypatch, django_assert_num_queries
):
    """The floor of a detail page: the user with their roles, then the row by a statement
    compiled once, and the 404 page (docs/performance.md, "The floor, again")."""
    admin_client.get(url)  # the session is cached, the statement compiled
    compiled = compiling(monkeypatch)

    with django_assert_num_queries(2):
        response = admin_client.get(url)

    assert response.status_code == 404
    assert compiled == []


def test_an_api_call_and_a_signed_in_page_build_no_raw_query(manager_client, monkeypatch):
    """The token, the job and the signed-in user are built from their compiled statements'
    rows: raw() read its columns' names from the cursor and looked each up in the model on
    every call (docs/performance.md, "The API's request")."""
    job = make_job(status="processing")
    worker = token_client()
    monkeypatch.setattr(RawQuerySet, "iterator", lambda self: pytest.fail("raw() was run"))

    responses = [
        worker.get(f"/api/jobs/{job.pk}"),
        worker.get(f"/api/jobs/{job.pk}/progress"),
        worker.patch(f"/api/jobs/{job.pk}", {"progress": 0.7}, content_type=JSON),
        manager_client.get("/jobs/0/"),
    ]

    assert [r.status_code for r in responses] == [200, 200, 200, 404]
    assert AnalysisJob.objects.get(pk=job.pk).progress == 0.7


@pytest.mark.postgres
def test_the_pool_hands_out_a_healthy_connection_without_a_round_trip(monkeypatch):
    """The pool's check asks the server only when the socket says the server has ended the
    connection; a connection it terminated is then refused, as psycopg_pool's check refuses it."""
    asked, ask = [], ConnectionPool.check_connection
    monkeypatch.setattr(ConnectionPool, "check_connection", lambda c: asked.append(c) or ask(c))
    config = connection.settings_dict
    params = {"host": config["HOST"], "port": config["PORT"], "user": config["USER"]}
    params |= {"dbname": config["NAME"], "password": config["PASSWORD"], "autocommit": True}
    with psycopg.connect(**params) as idle:
        idle.execute("SELECT 1")

        check_connection(idle)
        assert asked == []

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [idle.info.backend_pid])
        deadline = time.monotonic() + 10
        while not select.select([idle.fileno()], [], [], 0.1)[0] and time.monotonic() < deadline:
            pass
        with pytest.raises(psycopg.OperationalError):
            check_connection(idle)
        assert asked == [idle]
    with pytest.raises(psycopg.OperationalError):
        check_connection(idle)  # closed


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_progress_report_racing_the_completion_never_undoes_it():
    """The report's UPDATE waits for the completion's lock, then PostgreSQL checks its row
    again: a completed job keeps its full progress, and the late report is told it is final."""
    _, raw = ApiToken.issue("racer", "write")
    jobs = [make_job(status="processing", progress=0.1) for _ in range(8)]  # 16 racers

    def call(job, body):
        worker = Client(headers={"authorization": f"Bearer {raw}"})
        return lambda: worker.patch(f"/api/jobs/{job.pk}", body, content_type=JSON).status_code

    outcomes = run_together(
        *(call(job, {"status": "completed"}) for job in jobs),
        *(call(job, {"progress": 0.3}) for job in jobs),
    )

    assert outcomes[:8] == [200] * 8
    assert set(outcomes[8:]) <= {200, 409}
    finished = AnalysisJob.objects.filter(pk__in=[job.pk for job in jobs])
    assert {(job.status, job.progress) for job in finished} == {("completed", 1.0)}


@pytest.mark.postgres
def test_a_progress_report_is_a_hot_update_of_the_job():
    """No index holds a column the report writes, and the jobs' pages keep room: PostgreSQL
    updates the row in place instead of adding an entry to each of the table's indexes."""
    worker, job = token_client(), make_job(status="processing", progress=0.1)

    def updated() -> tuple[int, int]:  # (all, HOT) updates of the jobs in this transaction
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_stat_get_xact_tuples_updated(oid),"
                " pg_stat_get_xact_tuples_hot_updated(oid) FROM pg_class WHERE relname = %s",
                [AnalysisJob._meta.db_table],
            )
            return cursor.fetchone()

    before = updated()
    for progress in (0.2, 0.3, 0.4):
        response = worker.patch(f"/api/jobs/{job.pk}", {"progress": progress}, content_type=JSON)
        assert response.status_code == 200
    after = updated()

    assert (after[0] - before[0], after[1] - before[1]) == (3, 3)
