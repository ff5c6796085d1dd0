"""Idempotency-Key on API POSTs: a retry returns the first answer and writes nothing."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone

from mediaanalysis.pipeline.idempotency import purge_expired
from mediaanalysis.pipeline.models import AnalysisJob, ApiToken, IdempotencyKey, UserSession

JOB = {"session_id": "s-1", "job_type": "transcription"}


def api_client(scope="write") -> Client:
    _, raw = ApiToken.issue(f"worker-{ApiToken.objects.count()}", scope)
    return Client(headers={"Authorization": f"Bearer {raw}"})


def post(client, payload, key="job-key-1", path="/api/jobs/"):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(path, payload, content_type="application/json", headers=headers)


@pytest.mark.django_db
def test_the_same_post_twice_creates_one_row_and_answers_the_same():
    client = api_client()
    first, second = post(client, JOB), post(client, JOB)

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert AnalysisJob.objects.count() == 1
    assert "Idempotent-Replayed" not in first and second["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_refused_and_says_why():
    client = api_client()
    post(client, JOB)
    other = post(client, JOB | {"job_type": "ocr"})

    assert other.status_code == 409
    assert "already used for a different request" in other.json()["detail"]
    assert AnalysisJob.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_on_another_path_is_refused():
    client = api_client()
    post(client, JOB)
    assert post(client, {"session_id": "s-9"}, path="/api/sessions/").status_code == 409
    assert not UserSession.objects.exists()


@pytest.mark.django_db
def test_without_a_key_every_post_writes():
    client = api_client()
    post(client, JOB, key=None)
    post(client, JOB, key=None)
    assert AnalysisJob.objects.count() == 2


@pytest.mark.django_db
def test_keys_belong_to_their_token():
    post(api_client(), JOB)
    assert post(api_client(), JOB).status_code == 201
    assert AnalysisJob.objects.count() == 2


@pytest.mark.django_db
def test_a_failed_post_is_not_kept_so_its_retry_runs():
    client = api_client()
    refused = post(client, {"session_id": "s-1"})  # no job_type: 422, nothing written
    assert refused.status_code == 422
    assert post(client, JOB).status_code == 201
    assert AnalysisJob.objects.count() == 1


@pytest.mark.django_db
def test_a_key_is_kept_for_24_hours_and_then_purged():
    client = api_client()
    post(client, JOB)
    with time_machine.travel(timezone.now() + timedelta(hours=23)):
        assert post(client, JOB)["Idempotent-Replayed"] == "true"
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        assert post(client, JOB).status_code == 201  # a new request by now
        assert AnalysisJob.objects.count() == 2
    with time_machine.travel(timezone.now() + timedelta(hours=50)):
        assert purge_expired() == 1
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["x" * 256, "has space", "naïve", "tab\there"])
def test_a_malformed_key_is_a_clear_400(key):
    response = post(api_client(), JOB, key=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert not AnalysisJob.objects.exists()


@pytest.mark.django_db
def test_a_key_without_a_valid_token_is_the_apis_own_401():
    client = Client(headers={"Authorization": "Bearer not-a-token"})
    assert post(client, JOB).status_code == 401
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_the_api_documents_the_header_on_every_post(manager_client):
    schema = manager_client.get("/api/openapi.json").json()
    posts = [ops["post"] for ops in schema["paths"].values() if "post" in ops]
    assert posts and all(
        any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in op["parameters"])
        for op in posts
    )
    assert "Idempotency-Key" in schema["info"]["description"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_identical_posts_create_one_row():
    _, raw = ApiToken.issue("worker", "write")
    start = threading.Barrier(20)
    answers = []

    def send():
        client = Client(headers={"Authorization": f"Bearer {raw}"})
        start.wait()
        try:
            answers.append(post(client, JOB, key="burst-1"))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert AnalysisJob.objects.count() == 1
    assert [a.status_code for a in answers] == [201] * 20
    assert len({a.content for a in answers}) == 1
    assert sum(a.has_header("Idempotent-Replayed") for a in answers) == 19
