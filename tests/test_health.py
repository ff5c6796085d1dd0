import json
import os
import subprocess
import sys
import time

import pytest

from tests.throwaway_postgres import free_port, throwaway_cluster

HEALTH_SCRIPT = """
import django, json, sys
django.setup()
from django.test import Client
client = Client()
for line in sys.stdin:
    response = client.get("/health/")
    print(json.dumps({"code": response.status_code, "body": response.json()}), flush=True)
"""


class HealthProbe:
    """A separate Django process, so that its database settings are the ones under test."""

    def __init__(self, database_url):
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DB_CONNECT_TIMEOUT": "1",
            "DJANGO_SETTINGS_MODULE": "mediaanalysis.settings",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HEALTH_SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )

    def check(self):
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=20)


@pytest.mark.django_db
def test_health_reports_database_and_latency(client):
    response = client.get("/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["database"]["vendor"] in ("sqlite", "postgresql")
    assert body["database"]["version"]
    assert body["latency_ms"] >= 0
    assert "pool" in body


@pytest.mark.postgres
@pytest.mark.django_db
def test_health_reports_the_pool_on_postgresql(client):
    body = client.get("/health/").json()
    assert set(body["pool"]) == {"size", "available", "busy"}
    assert body["pool"]["size"] >= 1


def test_health_answers_503_when_nothing_listens_on_the_database_port():
    probe = HealthProbe(f"postgres://postgres@127.0.0.1:{free_port()}/postgres")
    try:
        result = probe.check()
    finally:
        probe.close()
    assert result["code"] == 503
    assert result["body"]["status"] == "unhealthy"
    assert "cannot be reached" in result["body"]["error"]
    assert "Traceback" not in json.dumps(result)


@pytest.mark.postgres
def test_health_recovers_without_a_restart_when_postgresql_comes_back():
    with throwaway_cluster() as cluster:
        probe = HealthProbe(cluster.url)
        try:
            assert probe.check()["code"] == 200
            cluster.stop()
            assert probe.check()["code"] == 503
            cluster.start()
            deadline = time.monotonic() + 30
            while (result := probe.check())["code"] != 200 and time.monotonic() < deadline:
                time.sleep(0.5)
            assert result["code"] == 200
            assert result["body"]["status"] == "healthy"
        finally:
            probe.close()
