"""Local media is read from inside MEDIA_ROOT only, whatever path a row carries.

`..`, absolute paths, links out of the root, NUL bytes, very long names, directories and
percent-encoded dots are refused or "not found": never a 500, never a byte from outside.
"""

import pytest
from django.test import RequestFactory

from mediaanalysis.pipeline.models import MediaFile
from mediaanalysis.pipeline.serving import media_response
from mediaanalysis.pipeline.storage import locate

from .conftest import make_file

pytestmark = pytest.mark.django_db

SECRET = b"TOP-SECRET-BYTES-outside-the-media-root"


@pytest.fixture
def media_root(settings, tmp_path):
    root = tmp_path / "media"
    (root / "clips" / "deep").mkdir(parents=True)
    (root / "clips" / "ok.webm").write_bytes(b"inside the root")
    (tmp_path / "secret.webm").write_bytes(SECRET)
    (root / "clips" / "out.webm").symlink_to(tmp_path / "secret.webm")
    (root / "clips" / "dir-out").symlink_to(tmp_path)
    (root / "clips" / "in.webm").symlink_to(root / "clips" / "ok.webm")
    (root / "%2e%2e").mkdir()
    settings.MEDIA_ROOT = root
    return root


STORABLE = [
    "../secret.webm",
    "clips/../../secret.webm",
    "clips/deep/../../../secret.webm",
    "{root}/../secret.webm",  # absolute, through the root
    "{tmp}/secret.webm",  # absolute, outside
    "/etc/passwd",
    "clips/out.webm",  # a link out of the root
    "clips/dir-out/secret.webm",  # through a linked directory
    "clips",  # a directory
    "clips/",
    ".",
    "",
    "%2e%2e/secret.webm",  # percent-encoding is not decoded
    "clips/%2e%2e/%2e%2e/secret.webm",
    "..\\secret.webm",
    "clips/" + "a" * 300 + ".webm",  # a name longer than the file system allows
    "x" * 512,
]
UNSTORABLE = [  # PostgreSQL refuses NUL in text; 5,000 characters exceed the column
    "clips/ok.webm\x00../../secret.webm",
    "../secret.webm\x00",
    "clips/" + "b" * 5000 + ".webm",
    ("a/" * 2500)[:-1],
    "clips/\udc80.webm",  # a lone surrogate
]


def fill(path, media_root):
    return path.format(root=media_root, tmp=media_root.parent)


@pytest.mark.parametrize("path", STORABLE)
@pytest.mark.parametrize("field", ["storage_path", "file_path"])
def test_a_path_out_of_the_root_is_refused_or_not_found(reviewer_client, media_root, path, field):
    fields = {"storage_path": None, "file_path": None, field: fill(path, media_root)}
    media = make_file(storage_backend="local", mime_type="video/webm", **fields)

    response = reviewer_client.get(f"/files/{media.pk}/media/")
    page = reviewer_client.get(f"/files/{media.pk}/")

    assert response.status_code == 404
    assert SECRET not in response.content
    assert str(media_root.parent / "secret.webm") not in response.text
    assert page.status_code == 200
    assert not media.location.available and media.location.problem


@pytest.mark.parametrize("path", UNSTORABLE)
def test_a_path_no_database_would_store_is_refused_all_the_same(media_root, path):
    media = MediaFile(id=1, storage_backend="local", storage_path=path, mime_type="video/webm")
    request = RequestFactory().get("/files/1/media/")

    location = locate(media)
    response = media_response(
        request, location, content_type="video/webm", inline=True, filename="x", download=False
    )

    assert not location.available and location.problem
    assert "\x00" not in location.where and len(location.where) < 300
    assert response.status_code == 404 and SECRET not in response.content


@pytest.mark.parametrize("path", ["../secret.webm", "/etc/passwd", "clips/out.webm", "clips"])
def test_contact_sheets_are_held_to_the_same_rules(reviewer_client, media_root, path):
    media = make_file(storage_backend="local", contact_sheet_path=path)
    response = reviewer_client.get(f"/files/{media.pk}/contact-sheet/")
    assert response.status_code == 404 and SECRET not in response.content


def test_a_link_that_stays_inside_the_root_is_followed(reviewer_client, media_root):
    media = make_file(storage_path="clips/in.webm", mime_type="video/webm")
    response = reviewer_client.get(f"/files/{media.pk}/media/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"inside the root"


def test_an_id_that_is_not_a_number_is_not_a_route(reviewer_client, media_root):
    for path in ("/files/%2e%2e/media/", "/files/..%2f..%2fsecret/media/", "/files/-1/media/"):
        assert reviewer_client.get(path).status_code == 404


def test_where_names_the_place_without_leaving_the_root(media_root):
    location = locate(MediaFile(storage_path="clips/missing.webm"))
    assert location.where == f"local: {media_root}/clips/missing.webm"
    assert location.problem == "not found in storage `local`: clips/missing.webm"
    refused = locate(MediaFile(storage_path="../secret.webm"))
    assert str(media_root) not in refused.where
    assert refused.problem == "not served from storage `local`: the path leaves the media root"
