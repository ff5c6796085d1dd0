"""GET /files/<id>/media/ on local storage: Range, conditional requests, safe types, who may.

docs/design.md, Media: local bytes with HTTP Range (206, Content-Range, ETag, If-Range, 416),
streamed in constant memory, authorized by the app.
"""

import os
from email.utils import formatdate
from pathlib import Path

import pytest
from django.http import FileResponse

from .conftest import client_for, make_file

pytestmark = pytest.mark.django_db

DATA = bytes(range(256)) * 40  # 10,240 bytes, every offset distinguishable
SIZE = len(DATA)


@pytest.fixture
def media_root(settings, tmp_path):
    root = tmp_path / "media"
    (root / "clips").mkdir(parents=True)
    (root / "clips" / "talk.webm").write_bytes(DATA)
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def clip(media_root):
    return make_file(
        original_filename="talk.webm",
        mime_type="video/webm",
        storage_backend="local",
        storage_path="clips/talk.webm",
    )


def url(media, query=""):
    return f"/files/{media.pk}/media/{query}"


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize(
    "header, first, last",
    [
        ("bytes=0-99", 0, 99),  # first
        ("bytes=5000-5999", 5000, 5999),  # middle
        ("bytes=10000-10239", 10000, SIZE - 1),  # last
        ("bytes=10200-99999", 10200, SIZE - 1),  # past the end: up to the end
        ("bytes=-500", SIZE - 500, SIZE - 1),  # suffix
        ("bytes=-99999", 0, SIZE - 1),  # a suffix longer than the file
        ("bytes=9000-", 9000, SIZE - 1),  # open-ended
        ("bytes=10239-10239", SIZE - 1, SIZE - 1),  # the very last byte
        (" Bytes = 7-7 ", 7, 7),
        # Positions of more digits than int() takes (4,300): found by a fuzz run outside the suite.
        ("bytes=0-" + "9" * 5000, 0, SIZE - 1),
        ("bytes=-" + "9" * 5000, 0, SIZE - 1),
        ("bytes=" + "0" * 5000 + "7-" + "0" * 5000 + "9", 7, 9),
    ],
)
def test_a_range_is_answered_with_exactly_its_bytes(reviewer_client, clip, header, first, last):
    response = reviewer_client.get(url(clip), headers={"Range": header})

    assert response.status_code == 206
    assert body(response) == DATA[first : last + 1]
    assert response["Content-Range"] == f"bytes {first}-{last}/{SIZE}"
    assert response["Content-Length"] == str(last - first + 1)
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"] == "video/webm"


def test_without_a_range_the_whole_file_comes_with_its_validators(reviewer_client, clip):
    response = reviewer_client.get(url(clip))

    assert response.status_code == 200
    assert isinstance(response, FileResponse)
    assert body(response) == DATA
    assert response["Content-Length"] == str(SIZE)
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"].startswith('"') and response["Last-Modified"].endswith("GMT")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == 'inline; filename="talk.webm"'
    assert "private" in response["Cache-Control"]
    # The site's own policy, not a sandbox: Chrome plays a video opened on its own tab.
    assert "sandbox" not in response["Content-Security-Policy"]


@pytest.mark.parametrize(
    "header", ["bytes=10240-", "bytes=20000-30000", "bytes=-0", "bytes=" + "9" * 5000 + "-"]
)
def test_a_range_past_the_end_is_416_with_the_size(reviewer_client, clip, header):
    response = reviewer_client.get(url(clip), headers={"Range": header})

    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{SIZE}"
    assert DATA[:100] not in response.content


@pytest.mark.parametrize(
    "header",
    [
        "bytes=0-9, 20-29",  # several ranges: the whole file (documented)
        "bytes=9-0",  # last before first: invalid, ignored
        "bytes=abc",
        "bytes=-",
        "items=0-9",
        "bytes=0-9999999999999999999999999999,",
        "\x00",
    ],
)
def test_a_range_that_is_invalid_or_multiple_gets_the_whole_file(reviewer_client, clip, header):
    response = reviewer_client.get(url(clip), headers={"Range": header})

    assert response.status_code == 200
    assert body(response) == DATA


def test_if_range_with_the_current_etag_or_date_gets_the_range(reviewer_client, clip):
    first = reviewer_client.get(url(clip))
    for validator in (first["ETag"], first["Last-Modified"]):
        response = reviewer_client.get(
            url(clip), headers={"Range": "bytes=100-199", "If-Range": validator}
        )
        assert response.status_code == 206
        assert body(response) == DATA[100:200]


def test_if_range_with_an_old_validator_gets_the_whole_new_file(reviewer_client, clip, media_root):
    first = reviewer_client.get(url(clip))
    path = media_root / "clips" / "talk.webm"
    path.write_bytes(DATA[::-1])
    os.utime(path, (1_900_000_000, 1_900_000_000))  # changed: a new mtime
    for stale in (first["ETag"], first["Last-Modified"], 'W/"weak"'):
        response = reviewer_client.get(
            url(clip), headers={"Range": "bytes=100-199", "If-Range": stale}
        )
        assert response.status_code == 200
        assert body(response) == DATA[::-1]
    old_date = formatdate(1_000_000_000, usegmt=True)
    response = reviewer_client.get(url(clip), headers={"Range": "bytes=0-0", "If-Range": old_date})
    assert response.status_code == 200


def test_a_matching_if_none_match_is_304_and_a_failed_if_match_is_412(reviewer_client, clip):
    etag = reviewer_client.get(url(clip))["ETag"]

    not_modified = reviewer_client.get(url(clip), headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified["ETag"] == etag
    failed = reviewer_client.get(url(clip), headers={"If-Match": '"something-else"'})
    assert failed.status_code == 412


def test_head_gives_the_headers_without_the_bytes(reviewer_client, clip):
    response = reviewer_client.head(url(clip))

    assert response.status_code == 200
    assert response["Content-Length"] == str(SIZE)
    assert response["Accept-Ranges"] == "bytes"
    assert body(response) == b""
    ranged = reviewer_client.head(url(clip), headers={"Range": "bytes=-10"})
    assert ranged.status_code == 206 and ranged["Content-Length"] == "10"


def test_other_methods_are_refused(reviewer_client, clip):
    assert reviewer_client.post(url(clip)).status_code == 405


def test_download_is_an_attachment_named_after_the_original_file(reviewer_client, media_root):
    media = make_file(
        original_filename='uploads/Café "night"\r\nX-Evil: 1.webm',
        mime_type="video/webm",
        storage_path="clips/talk.webm",
    )
    response = reviewer_client.get(url(media, "?download=1"))

    assert response.status_code == 200
    assert body(response) == DATA
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; filename*=utf-8''")
    assert "Caf%C3%A9%20%22night%22X-Evil%3A%201.webm" in disposition
    assert "\n" not in disposition and "uploads" not in disposition
    assert "X-Evil" not in response.headers
    inline = reviewer_client.get(url(media, "?download=0"))
    assert inline["Content-Disposition"].startswith("inline")
    odd = reviewer_client.get(url(media, "?download=%00&download=[]"))
    assert odd.status_code == 200


@pytest.mark.parametrize(
    "name, mime_type, served_as",
    [
        ("talk.webm", None, "video/webm"),  # from the name
        ("talk.bin", "audio/ogg", "audio/ogg"),  # the row's type wins
        ("page.pdf", "application/pdf", "application/pdf"),
        ("notes.txt", "text/plain", "text/plain"),
        ("talk.webm", "video/webm\r\nX-Evil: 1", "video/webm"),  # malformed: from the name
    ],
)
def test_media_types_that_play_inline_are_sent_as_such(
    reviewer_client, media_root, name, mime_type, served_as
):
    (media_root / "clips" / name).write_bytes(DATA)
    media = make_file(mime_type=mime_type, storage_path=f"clips/{name}", original_filename=name)
    response = reviewer_client.get(url(media))

    assert response.status_code == 200
    assert response["Content-Type"] == served_as
    assert response["Content-Disposition"].startswith("inline")


@pytest.mark.parametrize(
    "name, mime_type",
    [
        ("page.html", "text/html"),
        ("page.html", None),
        ("logo.svg", "image/svg+xml"),
        ("tool.js", "text/javascript"),
        ("data.xml", "application/xml"),
        ("clip.webm", "text/html"),  # the row's type decides, whatever the name
    ],
)
def test_active_content_is_never_served_inline(reviewer_client, media_root, name, mime_type):
    (media_root / "clips" / name).write_bytes(b"<script>alert(document.cookie)</script>")
    media = make_file(mime_type=mime_type, storage_path=f"clips/{name}", original_filename=name)
    response = reviewer_client.get(url(media))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_file_path_is_the_key_when_there_is_no_storage_path(reviewer_client, media_root):
    media = make_file(file_path="clips/talk.webm", storage_path=None, mime_type="video/webm")
    assert body(reviewer_client.get(url(media))) == DATA


def test_missing_media_is_a_404_that_says_where_it_was_looked_for(reviewer_client, media_root):
    media = make_file(storage_path="clips/gone.webm")
    response = reviewer_client.get(url(media))

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/plain")
    assert "not found in storage `local`: clips/gone.webm" in response.text
    assert str(media_root / "clips" / "gone.webm") in response.text
    nowhere = make_file(storage_path=None, file_path=None)
    assert "no storage path" in reviewer_client.get(url(nowhere)).text
    unknown = make_file(storage_backend="ftp", storage_path="clips/talk.webm")
    response = reviewer_client.get(url(unknown))
    assert response.status_code == 404 and "unknown storage `ftp`" in response.text


def test_with_accel_redirect_nginx_is_told_which_file_to_send(reviewer_client, clip, settings):
    settings.MEDIA_ACCEL_REDIRECT = "/protected-media/"
    (settings.MEDIA_ROOT / "clips" / "a b#1.webm").write_bytes(DATA)
    clip.storage_path = "clips/a b#1.webm"
    clip.save()

    response = reviewer_client.get(url(clip), headers={"Range": "bytes=0-9"})

    assert response.status_code == 200  # nginx answers the range
    assert response["X-Accel-Redirect"] == "/protected-media/clips/a%20b%231.webm"
    assert response.content == b""
    assert response["Content-Type"] == "video/webm"
    assert response["X-Content-Type-Options"] == "nosniff"


# Who may


def test_an_anonymous_visitor_is_sent_to_sign_in(client, clip):
    response = client.get(url(clip), headers={"Range": "bytes=0-9"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_user_in_no_group_is_refused(nobody, clip):
    response = client_for(nobody).get(url(clip))
    assert response.status_code == 403
    assert DATA[:64] not in response.content


def test_managers_and_admins_may_read_media(manager_client, admin_client, clip):
    assert manager_client.get(url(clip)).status_code == 200
    assert admin_client.get(url(clip)).status_code == 200


def test_a_deleted_file_or_a_missing_id_is_a_404(reviewer_client, clip):
    clip.soft_delete()
    assert reviewer_client.get(url(clip)).status_code == 404
    assert reviewer_client.get("/files/999999999/media/").status_code == 404
    assert reviewer_client.get(f"/files/{10**30}/media/").status_code == 404


# Constant memory


def peak_rss_bytes(reset=False) -> int:
    """The process's peak resident memory (VmHWM); `reset` first sets it to the current RSS."""
    if reset:
        Path("/proc/self/clear_refs").write_text("5")
    status = Path("/proc/self/status").read_text()
    return (
        int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])
        * 1024
    )


def test_a_gigabyte_is_streamed_in_constant_memory(reviewer_client, media_root):
    big = media_root / "clips" / "big.webm"
    with open(big, "wb") as f:
        f.truncate(2**30)  # sparse: a gigabyte of zeros that takes no disk
    media = make_file(storage_path="clips/big.webm", mime_type="video/webm")
    before = peak_rss_bytes(reset=True)

    response = reviewer_client.get(url(media))
    total = 0
    for chunk in response.streaming_content:
        total += len(chunk)
    tail = reviewer_client.get(url(media), headers={"Range": f"bytes={2**30 - 2**20}-"})
    tail_total = sum(len(chunk) for chunk in tail.streaming_content)

    assert total == 2**30
    assert tail.status_code == 206 and tail_total == 2**20
    assert tail["Content-Range"] == f"bytes {2**30 - 2**20}-{2**30 - 1}/{2**30}"
    assert peak_rss_bytes() - before < 64 * 2**20


def test_an_svg_contact_sheet_shows_as_an_image_but_cannot_run_anything(
    reviewer_client, media_root
):
    (media_root / "clips" / "sheet.svg").write_text(
        "<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"
    )
    media = make_file(contact_sheet_path="clips/sheet.svg")
    response = reviewer_client.get(f"/files/{media.pk}/contact-sheet/")
    assert response["Content-Type"] == "image/svg+xml"
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
