"""HTTP answers for media: local bytes with Range, or a redirect to a presigned URL.

Local files are streamed from an unbuffered file in 256 KB reads, so memory stays constant
whatever the size; under gunicorn the file goes out with sendfile(), which sends exactly
Content-Length bytes from the file's position, so a range costs no copying at all. With
MEDIA_ACCEL_REDIRECT set, nginx serves the bytes (and the ranges) instead, after the app has
authorized the request (README, "Media").

A request with several ranges gets the whole file (200): RFC 9110 lets a server ignore Range,
and browsers ask for one range at a time.
"""

import mimetypes
import re
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.utils.cache import get_conditional_response
from django.utils.http import content_disposition_header, http_date, parse_http_date_safe

from .storage import (
    MediaLocation,
    StorageUnavailable,
    locate,
    object_exists,
    open_local,
    presigned_url,
)

BLOCK_SIZE = 256 * 1024
# Types a browser shows without running anything of the file's own. Anything else (HTML, SVG,
# scripts, unknown types) is sent as a download of opaque bytes.
INLINE_PREFIXES = ("video/", "audio/", "image/")
INLINE_TYPES = {"application/pdf", "text/plain"}
ACTIVE_TYPES = {"image/svg+xml"}
MIME_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$")
RANGE_SPEC = re.compile(r"^(\d*)-(\d*)$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What could run if opened on its own (a download, an SVG contact sheet) cannot run anything.
# Not for what plays: Chrome's own player and PDF viewer do not load in a sandboxed document.
SANDBOX = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


class Unsatisfiable(Exception):
    pass


def content_type_for(mime_type: str | None, name: str) -> tuple[str, bool]:
    """The Content-Type to send and whether it may be shown inline.

    The row's mime_type if it is a well-formed type, else a guess from the file name.
    """
    kind = (mime_type or "").strip().lower()
    if not MIME_TYPE.match(kind):
        kind = (mimetypes.guess_type(name)[0] or "application/octet-stream").lower()
    inline = kind not in ACTIVE_TYPES and (kind.startswith(INLINE_PREFIXES) or kind in INLINE_TYPES)
    return (kind if inline else "application/octet-stream"), inline


def safe_filename(name: str | None, fallback: str) -> str:
    """A download's file name: the last part of the original name, no control characters."""
    name = CONTROL.sub("", re.split(r"[/\\]", name or "")[-1]).strip().strip(".")
    name = name.encode("utf-8", "replace").decode("utf-8")
    return name[:200] or fallback


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The first and last byte of a single `bytes=` range, or None to send the whole file.

    Raises Unsatisfiable when the range lies wholly past the end (416).
    """
    unit, _, specs = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in specs:
        return None
    match = RANGE_SPEC.match(specs.strip())
    if not match or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":  # a suffix: the last N bytes
        length = byte_position(last)
        if length == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - length), size - 1
    first, last = byte_position(first), (byte_position(last) if last else None)
    if last is not None and last < first:
        return None  # invalid: ignored, as RFC 9110 says
    if first >= size:
        raise Unsatisfiable
    return first, size - 1 if last is None else min(last, size - 1)


def byte_position(digits: str) -> int:
    """A range's byte position; past 18 digits, one beyond any file (int() refuses more than
    4,300 digits, and no file has 10**18 bytes)."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 18 else 10**18


def if_range_holds(value: str, etag: str, mtime: int) -> bool:
    """If-Range: the validator must match exactly (an ETag strongly, else the date)."""
    value = value.strip()
    if value.startswith(('"', "W/")):
        return value == etag
    return parse_http_date_safe(value) == mtime


class RangeFile:
    """A file read from its current position for `length` bytes, then at its end."""

    def __init__(self, file, length: int):
        self.file, self.remaining = file, length

    def read(self, size=-1):
        if self.remaining <= 0:
            return b""
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self.file.read(size)
        self.remaining -= len(data)
        return data

    def fileno(self):  # gunicorn's sendfile() sends Content-Length bytes from the position
        return self.file.fileno()

    def close(self):
        self.file.close()


def file_media_response(request, media, download=False):
    """The answer to GET/HEAD /files/<id>/media/ for a file's row (MediaFile.for_media())."""
    location = locate(media)
    content_type, inline = content_type_for(media.mime_type, location.key)
    return media_response(
        request,
        location,
        content_type=content_type,
        inline=inline,
        filename=safe_filename(media.original_filename, f"media-{media.pk}"),
        download=download,
    )


def media_response(request, location: MediaLocation, *, content_type, inline, filename, download):
    """The answer to GET/HEAD /files/<id>/media/ (and its contact sheet) for a located file."""
    disposition = content_disposition_header(download or not inline, filename)
    if not location.available:
        return not_available(location)
    if not location.is_local:
        try:
            if not object_exists(location):
                return not_available(location, f"not found in storage `{location.backend}`")
        except StorageUnavailable:
            return HttpResponse(
                f"Storage `{location.backend}` did not answer; try again shortly.\n"
                f"Looked for: {location.where}\n",
                status=503,
                content_type="text/plain; charset=utf-8",
            )
        response = HttpResponseRedirect(
            presigned_url(location, disposition if download or not inline else None)
        )
        response["Cache-Control"] = "private, no-store"
        return response
    return local_response(request, location, content_type, disposition, inline)


def not_available(location: MediaLocation, problem: str | None = None) -> HttpResponse:
    problem = f"{problem}: {location.where.partition(': ')[2]}" if problem else location.problem
    return HttpResponse(
        f"This file's media is not available: {problem}.\nLooked for: {location.where}\n",
        status=404,
        content_type="text/plain; charset=utf-8",
    )


def local_response(request, location, content_type, disposition, inline=True):
    size, mtime = location.size, int(location.mtime)
    # nginx's ETag format (hex mtime and size), so X-Accel-Redirect mode keeps the same one.
    etag = f'"{mtime:x}-{size:x}"'
    headers = {
        "ETag": etag,
        "Last-Modified": http_date(mtime),
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, max-age=300",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": disposition,
    }
    if not inline or content_type in ACTIVE_TYPES:
        headers["Content-Security-Policy"] = SANDBOX
    if settings.MEDIA_ACCEL_REDIRECT:
        # nginx answers Range, If-Range and the conditional headers for the file itself.
        response = HttpResponse(content_type=content_type, headers=headers)
        response["X-Accel-Redirect"] = (
            settings.MEDIA_ACCEL_REDIRECT.rstrip("/")
            + "/"
            + quote(location.path.relative_to(Path(settings.MEDIA_ROOT).resolve()).as_posix())
        )
        return response
    response = get_conditional_response(request, etag=etag, last_modified=mtime)
    if response is not None:  # 304 Not Modified or 412 Precondition Failed
        for name in ("ETag", "Last-Modified", "Cache-Control", "X-Content-Type-Options"):
            response[name] = headers[name]
        return response
    byte_range = None
    range_header = request.headers.get("Range")
    if range_header and (
        "If-Range" not in request.headers
        or if_range_holds(request.headers["If-Range"], etag, mtime)
    ):
        try:
            byte_range = parse_range(range_header, size)
        except Unsatisfiable:
            response = HttpResponse(
                "Range not satisfiable.\n",
                status=416,
                content_type="text/plain; charset=utf-8",
                headers={**headers, "Content-Range": f"bytes */{size}"},
            )
            del response["Content-Disposition"]
            return response
    file = open_local(location)
    if byte_range is None:
        response = FileResponse(file, content_type=content_type, headers=headers)
    else:
        first, last = byte_range
        file.seek(first)
        response = FileResponse(
            RangeFile(file, last - first + 1),
            status=206,
            content_type=content_type,
            headers={**headers, "Content-Range": f"bytes {first}-{last}/{size}"},
        )
        response["Content-Length"] = str(last - first + 1)
    response["Content-Disposition"] = disposition  # not the name of the file on disk
    response.block_size = BLOCK_SIZE
    return response
