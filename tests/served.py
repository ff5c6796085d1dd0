"""The site as production serves it, on a PostgreSQL the test controls: for fault tests.

`served_site()` makes a throwaway cluster (tests/throwaway_postgres.py), migrates it, adds a
reviewer, an API token and a review waiting in the queue, and serves the site with gunicorn
(gunicorn.conf.py, DEBUG=false, whitenoise) on a free port. The test may stop and start the
cluster while gunicorn serves.
"""

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.throwaway_postgres import free_port, throwaway_cluster

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "outage-test-pass-1"
SETUP = """
import json, os, django
django.setup()
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from mediaanalysis.pipeline.models import AnalysisJob, AnalysisResult, ApiToken
from reviews.models import HITLReview
user = get_user_model().objects.create_user("rita", password=os.environ["TEST_PASSWORD"])
user.groups.add(Group.objects.get(name="Reviewers"))
job = AnalysisJob.objects.create(session_id="s-outage", job_type="transcription", status="completed", progress=1)
result = AnalysisResult.objects.create(job=job, analysis_type="audio", confidence_score=0.9, result_data={"language": "en"})
review = HITLReview.objects.create(analysis_result=result)
token, raw = ApiToken.issue("outage", "read")
print(json.dumps({"review": review.pk, "token": raw}))
"""


def _env(database_url: str, port: int) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "mediaanalysis.settings",
        "DEBUG": "false",
        "SECRET_KEY": "outage-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "4",
        "GUNICORN_ACCESS_LOG": "",
        "DB_MIN_POOL_SIZE": "2",
        "DB_MAX_POOL_SIZE": "4",
    }


def _manage(env, *args) -> str:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


@contextlib.contextmanager
def served_site():
    # Commits reach the disk before they return, as in production: the outage is an immediate
    # stop, which would otherwise lose the last moments' commits.
    with throwaway_cluster(synchronous_commit="on", fsync="on") as cluster:
        port = free_port()
        env = _env(cluster.url, port)
        _manage(env, "manage.py", "migrate", "--noinput", "-v0")
        _manage(env, "manage.py", "collectstatic", "--noinput", "-v0")
        data = json.loads(_manage({**env, "TEST_PASSWORD": PASSWORD}, "-c", SETUP))
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "-c",
                "gunicorn.conf.py",
                "mediaanalysis.wsgi",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(f"{base}/health/", timeout=5).status_code == 200:
                        break
                except requests.RequestException:
                    pass  # not listening yet, or its worker still starting
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
            yield {"cluster": cluster, "base": base, **data}
        finally:
            server.terminate()
            server.wait(timeout=30)


def signed_in(base: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/accounts/login/", timeout=10)
    response = session.post(
        f"{base}/accounts/login/",
        data={
            "username": "rita",
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        timeout=10,
    )
    assert response.status_code == 200 and "/accounts/login/" not in response.url
    return session


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started
