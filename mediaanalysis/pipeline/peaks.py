"""Waveform peaks: computed once per media file (and again only when the file changes), stored
in `media_peaks`, served small (GET /files/<id>/peaks/, docs/design.md, The contract).

The first request computes them. Audio up to PEAKS_INLINE_MAX_SECONDS long (ten minutes
decode in two or three seconds) is computed in that request; longer audio by a background
task (django.tasks, worked by `make worker`), while the request answers 202 and the page asks
again (Retry-After).
`manage.py compute_peaks` computes them ahead of time, e.g. for every new file.

Whoever computes holds a lease: the row in state `computing`, taken by a conditional UPDATE
(or the INSERT that creates it), so two requests never decode the same file at once. A lease
older than LEASE (its worker died) may be taken over; a result is stored only by the holder of
the lease it was computed under.
"""

import gzip
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_vary_headers

from .decoding import NoAudio, Undecodable, decode_peaks, probe
from .models import MediaFile, MediaPeaks, MediaType
from .storage import MediaLocation, StorageUnavailable, locate, object_etag, presigned_url

log = logging.getLogger(__name__)

VERSION = 1  # of the computation: a new one recomputes every file's peaks
LEASE = timedelta(minutes=10)
RETRY_AFTER_SECONDS = 3
AUDIBLE = (MediaType.AUDIO, MediaType.VIDEO)


@dataclass
class Answer:
    """What the peaks view sends: stored peaks, or why there are none (yet)."""

    status: int
    row: MediaPeaks | None = None
    message: str | None = None
    where: str | None = None
    etag: str | None = None


def source_of(location: MediaLocation, object_etag: str | None = None) -> str:
    """What the peaks were computed from: the location and, in a bucket, the object's ETag."""
    text = f"{VERSION}:{location.fingerprint}:{object_etag or ''}"
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def decode_source(location: MediaLocation) -> str:
    """A path or URL FFmpeg can read: the local file, or a presigned URL of the object."""
    return str(location.path) if location.is_local else presigned_url(location)


def peaks_for(media: MediaFile, now=None, background=True) -> Answer:
    """The file's stored peaks, computing them first if they are missing or stale.

    With `background`, a long file's peaks are computed by a background task and the answer
    is 202.
    """
    now = now or timezone.now()
    if media.media_type not in AUDIBLE:
        return Answer(404, message="Only audio and video have a waveform.")
    location = locate(media)
    version = None  # of an object in a bucket: its ETag
    if location.available and not location.is_local:
        try:
            version = object_etag(location)
        except StorageUnavailable:
            return Answer(503, message="The storage did not answer; try again shortly.")
        if version is None:
            return Answer(
                404,
                message=f"The media is not available: not found in storage `{location.backend}`.",
                where=location.where,
            )
    if not location.available:
        return Answer(
            404, message=f"The media is not available: {location.problem}.", where=location.where
        )
    source = source_of(location, version)
    etag = f'"peaks-{source[:32]}"'
    row = MediaPeaks.objects.filter(media_file=media).first()
    if row is None or row.source != source or _lease_expired(row, now):
        if claim(media, source, now):
            if background and _is_long(media, location):
                start_in_background(media.pk, location, source, now)
            else:
                compute(media.pk, location, source, now)
        row = MediaPeaks.objects.filter(media_file=media).first()
    return _answer(row, source, etag, location)


def _lease_expired(row: MediaPeaks, now) -> bool:
    return row.state == MediaPeaks.State.COMPUTING and row.started_at < now - LEASE


def _is_long(media: MediaFile, location: MediaLocation) -> bool:
    duration = media.duration_seconds
    if duration is None:
        try:
            duration = probe(decode_source(location))["duration"]
        except Undecodable:
            return False  # computing will fail fast, and say why
    return duration is None or duration > settings.PEAKS_INLINE_MAX_SECONDS


def _answer(row, source, etag, location) -> Answer:
    if row is None or row.source != source or row.state == MediaPeaks.State.COMPUTING:
        return Answer(202, message="The waveform is being computed; ask again shortly.")
    if row.state == MediaPeaks.State.READY:
        return Answer(200, row=row, etag=etag)
    if row.state == MediaPeaks.State.NO_AUDIO:
        return Answer(404, message="This file has no audio track.", where=location.where)
    return Answer(
        422, message=f"The media could not be decoded: {row.error}.", where=location.where
    )


def claim(media: MediaFile, source: str, now) -> bool:
    """Take the lease to compute this file's peaks; False if someone else holds it."""
    try:
        with transaction.atomic():
            MediaPeaks.objects.create(
                media_file=media, source=source, state=MediaPeaks.State.COMPUTING, started_at=now
            )
        return True
    except IntegrityError:
        pass  # a row exists: take it over unless a live lease on this same source holds it
    held = Q(state=MediaPeaks.State.COMPUTING, source=source, started_at__gte=now - LEASE)
    done = Q(source=source) & ~Q(state=MediaPeaks.State.COMPUTING)
    return bool(
        MediaPeaks.objects.filter(media_file=media)
        .exclude(held | done)
        .update(
            source=source,
            state=MediaPeaks.State.COMPUTING,
            started_at=now,
            payload=None,
            error=None,
            computed_at=None,
        )
    )


def compute(media_id: int, location: MediaLocation, source: str, started_at) -> None:
    """Decode the audio and store the peaks (or why there are none) under the lease."""
    began = time.perf_counter()
    fields = {}
    try:
        data = decode_peaks(decode_source(location))
        fields = {
            "state": MediaPeaks.State.READY,
            "payload": gzip.compress(json.dumps(data, separators=(",", ":")).encode(), 6),
            "duration_seconds": data["duration"],
            "length": data["length"],
        }
    except NoAudio:
        fields = {"state": MediaPeaks.State.NO_AUDIO}
    except Undecodable as error:
        fields = {"state": MediaPeaks.State.FAILED, "error": str(error)}
    except Exception:  # a bug or a library's surprise: said once, not a 500 on every view
        log.exception("Computing the peaks of media file %s failed", media_id)
        fields = {"state": MediaPeaks.State.FAILED, "error": "an unexpected error (logged)"}
    MediaPeaks.objects.filter(media_file_id=media_id, source=source, started_at=started_at).update(
        computed_at=timezone.now(), compute_seconds=time.perf_counter() - began, **fields
    )


def start_in_background(media_id, location, source, started_at) -> None:
    """Hand the computation to a worker, once this request's lease is committed."""
    from .tasks import compute_peaks  # tasks import this module

    transaction.on_commit(lambda: compute_peaks.enqueue(media_id, source, started_at.isoformat()))


def peaks_response(request, answer: Answer) -> HttpResponse:
    """The JSON answer; stored peaks go out as stored, gzipped, with an ETag."""
    if answer.status != 200:
        body = (
            {"error": answer.message}
            if answer.status != 202
            else {"status": "computing", "detail": answer.message}
        )
        if answer.where:
            body["where"] = answer.where
        response = JsonResponse(body, status=answer.status)
        if answer.status == 202:
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            response["Cache-Control"] = "no-store"
        return response
    headers = {"ETag": answer.etag, "Cache-Control": "private, no-cache"}
    if (not_modified := get_conditional_response(request, etag=answer.etag)) is not None:
        not_modified.headers["Cache-Control"] = headers["Cache-Control"]
        return not_modified
    payload = bytes(answer.row.payload)
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response = HttpResponse(payload, content_type="application/json", headers=headers)
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(
            gzip.decompress(payload), content_type="application/json", headers=headers
        )
    patch_vary_headers(response, ["Accept-Encoding"])
    return response
