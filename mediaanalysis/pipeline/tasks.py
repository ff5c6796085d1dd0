"""The pipeline's periodic work (scheduled by mediaanalysis/scheduler.py)."""

from io import StringIO

from django.conf import settings
from django.core.management import call_command
from django.tasks import task

from .idempotency import purge_expired


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
