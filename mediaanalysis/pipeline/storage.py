"""Where a media file's bytes are: local disk under MEDIA_ROOT, or S3-compatible object storage.

A row names its storage (`storage_backend`: local, s3, r2) and its key there (`storage_path`,
else `file_path`); its contact sheet (`contact_sheet_path`) is a key in the same storage.
`locate()` answers where that is and whether it can be served, cheaply enough for every page
render: a stat on local disk, and no network at all for object storage, which is taken as
available when a bucket is configured (the player's error then shows the placeholder). The
media view checks object storage with a HEAD (`head_object`, cached for a minute) before it
redirects, so that a missing object is a clear 404 there.
"""

import functools
import hashlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)

LOCAL = "local"
OBJECT_BACKENDS = ("s3", "r2")
HEAD_CACHE_SECONDS = 60
# How much of a key a message shows: a 5,000-character path must not swamp a page.
SHOWN_KEY_LENGTH = 200


@dataclass(frozen=True)
class MediaLocation:
    """Where a file's media was looked for, and what was found there."""

    backend: str
    key: str
    available: bool
    where: str  # for people: "local: /srv/media/clips/a.webm", "s3: bucket/key"
    problem: str | None = None  # for reviewers, when it is not available
    path: Path | None = None  # the file itself, on local storage, when available
    size: int | None = None
    mtime: float | None = None  # local: seconds since the epoch

    @property
    def is_local(self) -> bool:
        return self.backend == LOCAL

    @property
    def fingerprint(self) -> str:
        """Changes when the media changes: the key, and on local disk its size and mtime."""
        if self.is_local:
            return f"{self.backend}:{self.key}:{self.size}:{self.mtime!r}"
        return f"{self.backend}:{self.key}"


def shown(key: str) -> str:
    """A key as a message may show it: no control characters, not too long."""
    text = "".join("?" if ord(c) < 32 or ord(c) == 127 else c for c in key)
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates
    return text if len(text) <= SHOWN_KEY_LENGTH else text[: SHOWN_KEY_LENGTH - 1] + "…"


def locate(media_file) -> MediaLocation:
    """Where the file's media is: its storage_path, else its file_path, in its backend."""
    return locate_key(media_file.storage_backend, media_file.storage_path or media_file.file_path)


def locate_contact_sheet(media_file) -> MediaLocation:
    """Where the file's contact sheet is: contact_sheet_path, in the file's backend."""
    return locate_key(media_file.storage_backend, media_file.contact_sheet_path)


def locate_key(backend: str, key: str | None) -> MediaLocation:
    backend = backend or LOCAL
    key = key or ""
    if not key:
        return MediaLocation(
            backend, key, False, f"{shown(backend)}: (no path)", "no storage path is recorded"
        )
    if "\x00" in key:
        return _refused(backend, key, "the path holds a NUL character")
    if backend == LOCAL:
        return _locate_local(key)
    if backend in OBJECT_BACKENDS:
        return _locate_object(backend, key)
    return MediaLocation(
        backend,
        key,
        False,
        f"{shown(backend)}: {shown(key)}",
        f"unknown storage `{shown(backend)}`",
    )


def _refused(backend, key, why) -> MediaLocation:
    where = f"{shown(backend)}: {shown(key)}"
    return MediaLocation(
        backend, key, False, where, f"not served from storage `{shown(backend)}`: {why}"
    )


def _locate_local(key: str) -> MediaLocation:
    """A relative path inside MEDIA_ROOT; `..`, absolute paths and symlinks out are refused."""
    parts = PurePosixPath(key).parts
    if key.startswith(("/", "\\")):
        return MediaLocation(  # no absolute path outside the root is ever shown
            LOCAL,
            key,
            False,
            f"{LOCAL}: (an absolute path)",
            "not served from storage `local`: absolute paths are not served",
        )
    if ".." in parts or ".." in key.split("\\"):
        return _refused(LOCAL, key, "the path leaves the media root")
    root = Path(settings.MEDIA_ROOT)
    where = f"{LOCAL}: {shown(str(root / key))}"
    missing = MediaLocation(LOCAL, key, False, where, f"not found in storage `local`: {shown(key)}")
    try:
        real_root = root.resolve()
        path = (root / key).resolve(strict=True)
        info = path.stat()
    except (OSError, ValueError, RuntimeError):
        # Missing, too long a name, a loop of links, a name the file system cannot encode.
        return missing
    if not path.is_relative_to(real_root):
        return _refused(LOCAL, key, "a link leads out of the media root")
    if not stat.S_ISREG(info.st_mode):
        return missing
    return MediaLocation(
        LOCAL, key, True, where, None, path=path, size=info.st_size, mtime=info.st_mtime
    )


def _locate_object(backend: str, key: str) -> MediaLocation:
    bucket = settings.AWS_STORAGE_BUCKET_NAME
    if not bucket:
        return MediaLocation(
            backend,
            key,
            False,
            f"{backend}: {shown(key)}",
            f"storage `{backend}` is not configured on this server (AWS_STORAGE_BUCKET_NAME)",
        )
    where = f"{backend}: {shown(bucket)}/{shown(key)}"
    if key.startswith("/") or ".." in PurePosixPath(key).parts:
        return MediaLocation(
            backend, key, False, where, f"not served from storage `{backend}`: an unsafe key"
        )
    return MediaLocation(backend, key, True, where)


# Object storage


@functools.cache
def _object_storage(bucket, endpoint, region, access_key, expiry, addressing_style):
    from botocore.config import Config
    from storages.backends.s3 import S3Storage

    return S3Storage(
        bucket_name=bucket,
        endpoint_url=endpoint,
        region_name=region,
        querystring_expire=expiry,
        # A page waits for a HEAD: a storage that does not answer fails in seconds, not minutes.
        client_config=Config(
            s3={"addressing_style": addressing_style},
            signature_version="s3v4",
            connect_timeout=3,
            read_timeout=10,
            retries={"max_attempts": 2, "mode": "standard"},
        ),
    )


def object_storage():
    """django-storages' S3 storage under the settings of docs/design.md, Media (one per settings)."""
    return _object_storage(
        settings.AWS_STORAGE_BUCKET_NAME,
        settings.AWS_S3_ENDPOINT_URL,
        settings.AWS_S3_REGION_NAME,
        settings.AWS_ACCESS_KEY_ID,
        settings.MEDIA_URL_EXPIRY,
        settings.AWS_S3_ADDRESSING_STYLE,
    )


def presigned_url(location: MediaLocation, disposition: str | None = None) -> str:
    """A GET URL for the object that expires after MEDIA_URL_EXPIRY seconds."""
    parameters = {"ResponseContentDisposition": disposition} if disposition else None
    return object_storage().url(
        location.key, parameters=parameters, expire=settings.MEDIA_URL_EXPIRY
    )


class StorageUnavailable(Exception):
    """Object storage did not answer (as opposed to: the object is not there)."""


def object_etag(location: MediaLocation) -> str | None:
    """The object's ETag, or None if it is not in the bucket: a HEAD, remembered for a minute."""
    from botocore.exceptions import BotoCoreError, ClientError

    name = f"{location.backend}:{settings.AWS_STORAGE_BUCKET_NAME}:{location.key}"
    cache_key = "media-head:" + hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()
    found = cache.get(cache_key)
    if found is None:
        storage = object_storage()
        try:
            head = storage.connection.meta.client.head_object(
                Bucket=storage.bucket_name, Key=location.key
            )
            found = head.get("ETag") or "-"
        except ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status not in (403, 404):
                raise StorageUnavailable(str(error)) from error
            found = ""  # S3 answers 403 for a missing key without ListBucket permission
        except BotoCoreError as error:
            raise StorageUnavailable(str(error)) from error
        cache.set(cache_key, found, HEAD_CACHE_SECONDS)
    return found or None


def object_exists(location: MediaLocation) -> bool:
    return object_etag(location) is not None


def open_local(location: MediaLocation):
    """The local file, opened for reading without following a link swapped in meanwhile."""
    return open(  # the response closes it
        location.path,
        "rb",
        buffering=0,  # so that the descriptor's position is the file's (sendfile reads it)
        opener=lambda path, flags: os.open(path, flags | os.O_NOFOLLOW),
    )
