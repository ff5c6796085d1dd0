"""The pipeline's background work: periodic (scheduled by mediaanalysis/scheduler.py), and
long files' waveform peaks."""

from datetime import datetime
from io import StringIO

from django.conf import settings
from django.core.management import call_command
from django.tasks import task

from . import peaks
from .idempotency import purge_expired
from .models import MediaFile
from .storage import locate


@task()
def purge_deleted() -> str:
    """Destroy rows soft-deleted more than PURGE_DELETED_AFTER_DAYS ago (off when unset)."""
    if settings.PURGE_DELETED_AFTER_DAYS is None:
        return "PURGE_DELETED_AFTER_DAYS is not set"
    out = StringIO()
    call_command("purge_deleted", older_than=settings.PURGE_DELETED_AFTER_DAYS, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


@task()
def purge_idempotency_keys() -> int:
    return purge_expired()


@task()
def compute_peaks(media_id: int, source: str, started_at: str) -> str:
    """Compute a long file's peaks under the lease its request took (mediaanalysis/pipeline/peaks.py)."""
    media = MediaFile.objects.filter(pk=media_id).first()
    if media is None:
        return "the media file is gone"
    peaks.compute(media_id, locate(media), source, datetime.fromisoformat(started_at))
    return "computed"
