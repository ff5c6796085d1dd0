"""State changes of the pipeline's rows that read the media itself."""

from .decoding import Undecodable, probe
from .models import MediaFile
from .peaks import decode_source
from .storage import StorageUnavailable, locate, object_exists


class MediaUnavailable(Exception):
    """The file's media cannot be read; the message says why and where."""


def probe_media(media: MediaFile) -> dict:
    """Read the media's duration and frame count (and, on local disk, its size) with PyAV,
    and record them on the row. Returns what the probe found."""
    location = locate(media)
    try:
        if location.available and not location.is_local and not object_exists(location):
            raise MediaUnavailable(f"not found in storage `{location.backend}` ({location.where})")
    except StorageUnavailable as error:
        raise MediaUnavailable(f"storage `{location.backend}` did not answer") from error
    if not location.available:
        raise MediaUnavailable(f"{location.problem} ({location.where})")
    try:
        facts = probe(decode_source(location))
    except Undecodable as error:
        raise MediaUnavailable(f"could not be decoded: {error}") from error
    fields = {"duration_seconds": facts["duration"], "frame_count": facts["frame_count"]}
    if location.is_local and location.size <= 2**31 - 1:
        fields["file_size"] = location.size
    MediaFile.objects.filter(pk=media.pk).update(**fields)
    return facts
