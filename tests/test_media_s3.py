"""Media on S3-compatible storage, against a real S3 API started by the suite (moto's server).

GET /files/<id>/media/ answers an authorized reader with a redirect to a presigned URL that
expires after MEDIA_URL_EXPIRY seconds (docs/design.md, Media); nobody else gets one.
"""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import boto3
import numpy as np
import pytest
import time_machine
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from mediaanalysis.pipeline.storage import object_storage
from mediaanalysis.settings import BASE_DIR, media_origin

from .conftest import client_for, make_file
from .test_peaks import write_audio

pytestmark = pytest.mark.django_db

BUCKET = "media-test"
DATA = b"\x1aE\xdf\xa3 webm bytes " + bytes(range(256)) * 8


class ExpiringPresignedUrls:
    """Refuses a presigned URL once X-Amz-Date + X-Amz-Expires has passed, as S3 does
    ("Request has expired"); moto's server accepts any presigned URL at any time."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if "X-Amz-Expires" in query:
            signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")
            expires = signed.replace(tzinfo=UTC) + timedelta(seconds=int(query["X-Amz-Expires"][0]))
            if datetime.now(UTC) > expires:
                start_response("403 Forbidden", [("Content-Type", "application/xml")])
                return [
                    b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
                ]
        return self.app(environ, start_response)


class S3Server(ThreadedMotoServer):
    def _server_entry(self):
        app = ExpiringPresignedUrls(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


@pytest.fixture(scope="module")
def s3_endpoint():
    server = S3Server("127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(settings, s3_endpoint):
    settings.AWS_STORAGE_BUCKET_NAME = BUCKET
    settings.AWS_S3_ENDPOINT_URL = s3_endpoint
    settings.AWS_S3_REGION_NAME = "us-east-1"
    settings.AWS_S3_ADDRESSING_STYLE = "path"
    settings.AWS_ACCESS_KEY_ID = "testing"
    settings.AWS_SECRET_ACCESS_KEY = "testing"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="clips/talk.webm", Body=DATA, ContentType="video/webm")
    client.put_object(Bucket=BUCKET, Key="sheets/talk.jpg", Body=b"\xff\xd8\xff sheet")
    return client


def fetch(url, headers=None):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as answer:
        return answer.status, dict(answer.headers), answer.read()


@pytest.mark.parametrize("backend", ["s3", "r2"])
def test_a_reader_is_sent_to_a_presigned_url_that_gives_the_objects_bytes(
    reviewer_client, s3, s3_endpoint, backend
):
    media = make_file(storage_backend=backend, storage_path="clips/talk.webm")

    response = reviewer_client.get(f"/files/{media.pk}/media/")

    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"{s3_endpoint}/{BUCKET}/clips/talk.webm?")
    query = parse_qs(urlsplit(location).query)
    assert query["X-Amz-Expires"] == ["300"] and "X-Amz-Signature" in query
    assert fetch(location)[2] == DATA
    status, _, part = fetch(location, {"Range": "bytes=10-19"})
    assert status == 206 and part == DATA[10:20]
    assert response["Cache-Control"] == "private, no-store"


def test_a_presigned_url_stops_working_when_it_expires(reviewer_client, s3, settings):
    settings.MEDIA_URL_EXPIRY = 1
    media = make_file(storage_backend="s3", storage_path="clips/talk.webm")
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        location = reviewer_client.get(f"/files/{media.pk}/media/")["Location"]
        assert parse_qs(urlsplit(location).query)["X-Amz-Expires"] == ["1"]
        assert fetch(location)[2] == DATA

        clock.shift(2)

        with pytest.raises(urllib.error.HTTPError) as refused:
            fetch(location)
        assert refused.value.code == 403 and b"Request has expired" in refused.value.read()
        # The app hands out a fresh one.
        assert fetch(reviewer_client.get(f"/files/{media.pk}/media/")["Location"])[2] == DATA


def test_an_anonymous_visitor_and_a_user_in_no_group_get_no_url(client, nobody, s3):
    media = make_file(storage_backend="s3", storage_path="clips/talk.webm")

    anonymous = client.get(f"/files/{media.pk}/media/")
    outsider = client_for(nobody).get(f"/files/{media.pk}/media/")

    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    assert outsider.status_code == 403 and "Location" not in outsider
    assert "X-Amz-Signature" not in outsider.text


def test_a_deleted_files_media_is_a_404_without_a_url(reviewer_client, s3):
    media = make_file(storage_backend="s3", storage_path="clips/talk.webm")
    media.soft_delete()
    response = reviewer_client.get(f"/files/{media.pk}/media/")
    assert response.status_code == 404 and "Location" not in response


def test_a_missing_object_is_a_404_naming_the_bucket_and_key(reviewer_client, s3):
    media = make_file(storage_backend="s3", storage_path="clips/gone.webm")
    response = reviewer_client.get(f"/files/{media.pk}/media/")
    assert response.status_code == 404
    assert f"not found in storage `s3`: {BUCKET}/clips/gone.webm" in response.text
    assert media.location.where == f"s3: {BUCKET}/clips/gone.webm"


def test_a_download_url_names_the_original_file(reviewer_client, s3):
    media = make_file(
        storage_backend="s3", storage_path="clips/talk.webm", original_filename="Talk é.webm"
    )
    location = reviewer_client.get(f"/files/{media.pk}/media/?download=1")["Location"]
    _, headers, data = fetch(location)
    assert data == DATA
    assert headers["Content-Disposition"] == "attachment; filename*=utf-8''Talk%20%C3%A9.webm"


def test_a_contact_sheet_on_s3_is_a_presigned_url_too(reviewer_client, s3):
    media = make_file(storage_backend="s3", contact_sheet_path="sheets/talk.jpg")
    response = reviewer_client.get(f"/files/{media.pk}/contact-sheet/")
    assert response.status_code == 302
    assert fetch(response["Location"])[2] == b"\xff\xd8\xff sheet"


def test_storage_that_does_not_answer_is_a_503_not_a_500(reviewer_client, s3, settings):
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9"  # discard: nothing listens
    media = make_file(storage_backend="s3", storage_path="clips/talk.webm")
    response = reviewer_client.get(f"/files/{media.pk}/media/")
    assert response.status_code == 503 and "did not answer" in response.text


def test_without_a_bucket_object_storage_is_unavailable_with_a_reason(reviewer_client, settings):
    settings.AWS_STORAGE_BUCKET_NAME = ""
    media = make_file(storage_backend="r2", storage_path="clips/talk.webm")
    response = reviewer_client.get(f"/files/{media.pk}/media/")
    assert response.status_code == 404 and "AWS_STORAGE_BUCKET_NAME" in response.text


# The CSP allows exactly the origin the presigned URLs point at


def csp_with(**env) -> dict:
    code = (
        "import json; from mediaanalysis import settings;"
        "print(json.dumps({k: [str(v) for v in vs] for k, vs in settings.SECURE_CSP.items()}))"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | env
    out = subprocess.run(
        [sys.executable, "-c", code], env=environ, cwd=BASE_DIR, capture_output=True, check=True
    )
    return json.loads(out.stdout)


def test_the_csp_allows_the_buckets_origin_only_when_one_is_configured(
    reviewer_client, s3, s3_endpoint
):
    media = make_file(storage_backend="s3", storage_path="clips/talk.webm")
    url = reviewer_client.get(f"/files/{media.pk}/media/")["Location"]
    parts = urlsplit(url)

    with_bucket = csp_with(AWS_STORAGE_BUCKET_NAME=BUCKET, AWS_S3_ENDPOINT_URL=s3_endpoint)
    without = csp_with()

    origin = f"{parts.scheme}://{parts.netloc}"
    for directive in ("media-src", "img-src", "connect-src"):
        assert origin in with_bucket[directive]
        assert origin not in without[directive] and "'self'" in without[directive]
    assert without["media-src"] == ["'self'"]


@pytest.mark.parametrize("region", ["eu-west-1", None])
def test_on_aws_the_csp_origin_is_the_buckets_host(settings, region):
    settings.AWS_STORAGE_BUCKET_NAME = "media-prod"
    settings.AWS_S3_ENDPOINT_URL = None
    settings.AWS_S3_REGION_NAME = region
    settings.AWS_S3_ADDRESSING_STYLE = "virtual"
    settings.AWS_ACCESS_KEY_ID = settings.AWS_SECRET_ACCESS_KEY = "offline"

    url = object_storage().url("clips/a.webm", expire=60)  # signed offline, no request

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == media_origin("media-prod", None, region)


def test_peaks_of_audio_in_a_bucket_are_computed_through_a_presigned_url(
    reviewer_client, s3, tmp_path
):
    t = np.arange(48000) / 48000
    write_audio(tmp_path / "call.wav", 0.5 * np.sin(2 * np.pi * 440 * t))
    s3.put_object(Bucket=BUCKET, Key="calls/call.wav", Body=(tmp_path / "call.wav").read_bytes())
    media = make_file(
        storage_backend="s3", storage_path="calls/call.wav", media_type="audio", duration_seconds=1
    )

    data = reviewer_client.get(f"/files/{media.pk}/peaks/").json()

    assert data["duration"] == 1.0 and data["length"] == 100
    assert all(0.49 < abs(p) <= 0.51 for p in data["peaks"][0][1:-1])
    missing = make_file(storage_backend="s3", storage_path="calls/none.wav", media_type="audio")
    response = reviewer_client.get(f"/files/{missing.pk}/peaks/")
    assert response.status_code == 404 and "not found in storage `s3`" in response.json()["error"]
