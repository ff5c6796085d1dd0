"""Signed media URLs: the player's bytes without the signed-in request floor.

The pages that show media (review, result, file) give their player `/files/<id>/media/` and
`/files/<id>/peaks/` with a `signature` parameter: the reader's id, an expiry and an HMAC of
both with the file's id and the kind of URL, under SECRET_KEY (django.core.signing), as object
storage's presigned URLs are. The page that issues one has authorized its reader already.

SignedMediaMiddleware, next to whitenoise at the top of MIDDLEWARE, answers such a request
before the session, the user, CSRF and the other middleware: it checks the signature, the
expiry and that the file's row is still not soft-deleted (one query by primary key, whose
answer is kept a few seconds: live_file()), then answers as the signed-in views do, with the
same code (serving.py: Range, ETag, If-Range, 416; peaks.py). A signature that is tampered
with or expired is 403 and never bytes; a deleted file 404. Requests without a signature go
on to the signed-in views unchanged. Why: a 1 MB Range request cost as much as a signed-in
page (docs/performance.md, "Media").
"""

import math
import re
import time

from django.conf import settings
from django.core import signing
from django.http import HttpResponseForbidden, HttpResponseNotFound
from django.urls import reverse

from mediaanalysis.db import Kept

from .models import MediaFile
from .peaks import peaks_for, peaks_response
from .serving import file_media_response

PARAMETER = "signature"
KINDS = {"media": "file-media", "peaks": "file-peaks"}
METHODS = {"media": ("GET", "HEAD"), "peaks": ("GET",)}  # as the signed-in views allow
SIGNED_PATH = re.compile(r"^/files/(\d{1,18})/(media|peaks)/$")
TOKEN = re.compile(r"^(\d{1,18})\.(\d{1,12})\.([A-Za-z0-9_-]{20,100})$")
# Expiries are rounded up to this many seconds, so that a page rendered again a little later
# gives the same URL and the browser's cache of the media still holds.
ROUNDING = 300
SALT = "mediaanalysis.signed-media"
# The rows of files served lately, by id, in this process (None: deleted or never there). A player reads a file in many Range requests; each would otherwise take a pooled
# connection (a round trip to check it) and a query, most of what a signed request costs
# (docs/performance.md, "Media"). A delete therefore reaches the signed URLs within
# MEDIA_SIGNED_ROW_SECONDS in every process, and the signed-in views at once.
_rows = Kept("MEDIA_SIGNED_ROW_SECONDS")


def _signer() -> signing.Signer:
    return signing.Signer(salt=SALT, algorithm="sha256")


def _value(kind: str, pk: int, user_id: int, expires: int) -> str:
    return f"{kind}:{pk}:{user_id}:{expires}"


def signed_url(kind: str, pk: int, user_id: int, now: float | None = None) -> str:
    """The URL of a file's media or peaks, signed for this reader until a little after
    MEDIA_SIGNED_URL_EXPIRY seconds from now."""
    now = time.time() if now is None else now
    expires = math.ceil((now + settings.MEDIA_SIGNED_URL_EXPIRY) / ROUNDING) * ROUNDING
    mac = _signer().sign(_value(kind, pk, user_id, expires)).rpartition(":")[2]
    return f"{reverse(KINDS[kind], args=[pk])}?{PARAMETER}={user_id}.{expires}.{mac}"


def player_urls(media: MediaFile, reader) -> dict:
    """The URLs the player gets: signed for a reader who may see the media, else the plain
    signed-in URLs (which then answer as they do to anyone)."""
    signed_in = reverse(KINDS["media"], args=[media.pk])
    if reader is not None and reader.has_perm("mediaanalysis.view_mediafile"):
        return {
            "src": signed_url("media", media.pk, reader.pk),
            "peaks_src": signed_url("peaks", media.pk, reader.pk),
            # A page left open past the signed URL's expiry goes on from here (player.js).
            "fallback_src": signed_in,
        }
    return {
        "src": signed_in,
        "peaks_src": reverse(KINDS["peaks"], args=[media.pk]),
        "fallback_src": "",
    }


def verify(kind: str, pk: int, token: str, now: float | None = None) -> str | None:
    """Why the signature does not hold ("tampered", "expired"), or None if it does."""
    match = TOKEN.match(token)
    if not match:
        return "tampered"
    user_id, expires, mac = match.groups()
    try:
        _signer().unsign(f"{_value(kind, pk, int(user_id), int(expires))}:{mac}")
    except signing.BadSignature:
        return "tampered"
    if int(expires) < (time.time() if now is None else now):
        return "expired"
    return None


def live_file(pk: int) -> MediaFile | None:
    """The file's row as the media views read it, or None if it is deleted or was never
    there; remembered for MEDIA_SIGNED_ROW_SECONDS."""
    return _rows.get(pk, lambda: MediaFile.objects.for_media().filter(pk=pk).first())


def forget() -> None:
    """Forget the rows kept by live_file() (the tests, between one database and the next)."""
    _rows.forget()


class SignedMediaMiddleware:
    """Answers GET /files/<id>/media/ (and HEAD) and /peaks/ that carry a signature."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        match = SIGNED_PATH.match(request.path_info)
        token = request.GET.get(PARAMETER) if match else None
        if token is None or request.method not in METHODS[match.group(2)]:
            return self.get_response(request)
        pk, kind = int(match.group(1)), match.group(2)
        problem = verify(kind, pk, token)
        if problem:
            return HttpResponseForbidden(
                f"This media link is {problem}: reload the page for a new one.\n",
                content_type="text/plain; charset=utf-8",
            )
        media = live_file(pk)
        if media is None:
            return HttpResponseNotFound(
                "This file no longer exists.\n", content_type="text/plain; charset=utf-8"
            )
        if kind == "peaks":
            return peaks_response(request, peaks_for(media))
        return file_media_response(request, media)
