"""The dashboard's recounts, run by a background worker. They reach readers through the shared
cache (REDIS_URL, or CACHE_DIR on one host)."""

from django.core.cache import cache
from django.tasks import task

from .stats import Scope
from .views import WATCHED_KEY, compute


@task()
def recount(window: str, job_type: str = "", model: str = "") -> None:
    """Recount one scope whose cached figures are half their lifetime old."""
    scope = Scope(window=window, job_type=job_type, model=model)
    try:
        compute(scope)
    finally:
        cache.delete(scope.refresh_lock())


@task()
def recount_watched() -> bool:
    """Periodic: keep the default view fresh while someone has looked at the dashboard lately,
    so that nobody waits for a recount; idle, it costs nothing."""
    if not cache.get(WATCHED_KEY):
        return False
    compute(Scope())
    return True
