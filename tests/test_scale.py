"""Beyond one machine (docs/design.md, Beyond one machine): the read-replica router and the shared cache."""

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
from django.db import connections

from mediaanalysis.db import ReplicaRouter, use_replica
from tests.conftest import make_result
from tests.throwaway_postgres import free_port

REDIS = shutil.which("redis-server")


def test_reads_stay_on_the_primary_without_a_replica():
    with_replica = use_replica(lambda: ReplicaRouter().db_for_read(None))
    assert "replica" not in connections.settings
    assert with_replica() == "default"


def test_use_replica_routes_reads_there_only_inside_the_view(monkeypatch):
    monkeypatch.setitem(connections.settings, "replica", connections.settings["default"])
    router = ReplicaRouter()
    assert use_replica(lambda: router.db_for_read(None))() == "replica"
    assert router.db_for_read(None) == "default"  # outside the decorated view
    assert use_replica(lambda: router.db_for_write(None))() == "default"  # writes never


@pytest.fixture
def routed(monkeypatch):
    """Record where each read would go, with a replica configured; run it on the primary."""
    monkeypatch.setitem(connections.settings, "replica", connections.settings["default"])
    seen = []
    real = ReplicaRouter.db_for_read

    def spy(self, model, **hints):
        seen.append((model._meta.model_name, real(self, model, **hints)))
        return "default"

    monkeypatch.setattr(ReplicaRouter, "db_for_read", spy)
    return seen


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/jobs/", "/results/", "/files/", "/sessions/", "/jobs/export/", "/dashboard/"]
)
def test_list_pages_exports_and_the_dashboard_read_from_the_replica(manager_client, routed, url):
    make_result()
    response = manager_client.get(url)
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)
    assert response.status_code == 200
    assert {
        alias
        for model, alias in routed
        if model in ("analysisjob", "analysisresult", "mediafile", "usersession")
    } == {"replica"}


@pytest.mark.django_db
def test_claims_and_decisions_never_read_from_the_replica(reviewer_client, routed):
    from reviews.models import HITLReview

    review = HITLReview.objects.create(analysis_result=make_result())
    reviewer_client.post("/reviews/claim-next/")
    reviewer_client.post(f"/reviews/{review.pk}/decide/", {"approved": "yes"})
    review.refresh_from_db()
    assert review.status == "completed"
    assert routed and {alias for _, alias in routed} == {"default"}


def test_settings_take_the_replica_and_redis_from_the_environment():
    code = "from django.conf import settings as s; print(s.DATABASES['replica']['HOST'], s.CACHES['default']['BACKEND'])"
    env = {
        **os.environ,
        "DATABASE_REPLICA_URL": "postgres://u@replica.internal:5432/db",
        "REDIS_URL": "redis://cache.internal:6379/0",
        "DJANGO_SETTINGS_MODULE": "mediaanalysis.settings",
    }
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["replica.internal", "django.core.cache.backends.redis.RedisCache"]


@pytest.fixture
def redis_url(tmp_path):
    if not REDIS:
        pytest.fail(
            "redis-server not found: run `make system-deps` (apt-get install redis-server)."
        )
    port = free_port()
    server = subprocess.Popen(
        [REDIS, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(timeout=10)


def test_two_app_servers_share_the_cache_through_redis(redis_url):
    """What one gunicorn host caches (say, the dashboard's figures), another one reads."""
    env = {**os.environ, "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "mediaanalysis.settings"}

    def run(code):
        return subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup(); from django.core.cache import cache; " + code,
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    run("cache.set('dashboard:v1:24h::', {'computed_at': 1}, 60)")
    assert run("print(cache.get('dashboard:v1:24h::'))") == "{'computed_at': 1}"


@pytest.mark.postgres
@pytest.mark.django_db
def test_filter_choices_come_from_the_planner_statistics_not_a_scan():
    from django.db import connection

    from mediaanalysis.pipeline.models import AnalysisJob
    from mediaanalysis.pipeline.queries import distinct_values
    from tests.conftest import make_job

    for job_type in ("transcription", "ocr") * 3:
        make_job(job_type=job_type)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE analysis_jobs")
    make_job(job_type="since-the-last-analyze")
    # Read from the statistics: the value added after ANALYZE is not there (yet).
    assert distinct_values(AnalysisJob, "job_type") == ["ocr", "transcription"]


@pytest.mark.django_db
def test_filter_choices_read_the_column_when_the_statistics_do_not_hold_every_value():
    from mediaanalysis.pipeline.models import AnalysisJob
    from mediaanalysis.pipeline.queries import distinct_values
    from tests.conftest import make_job

    make_job(job_type="a-new-type")
    make_job(job_type="another-type")
    assert distinct_values(AnalysisJob, "job_type") == ["a-new-type", "another-type"]
