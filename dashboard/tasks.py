"""The dashboard's recounts, run by a background worker. They reach readers through the shared
cache (REDIS_URL, or CACHE_DIR on one host)."""

from django.core.cache import cache
from django.tasks import task

from .stats import WINDOWS, Scope
from .views import compute, watched_scopes

# The filtered scopes kept warm at most, the most recently looked at first.
WARM_FILTERED = 6


@task()
def recount(window: str, job_type: str = "", model: str = "") -> None:
    """Recount one scope whose cached figures are half their lifetime old."""
    scope = Scope(window=window, job_type=job_type, model=model)
    try:
        compute(scope)
    finally:
        cache.delete(scope.refresh_lock())


@task()
def recount_watched() -> int:
    """Periodic: while someone has looked at the dashboard lately, keep every window of it
    fresh (switching to 7 or 30 days never waits for a recount) and the filtered views they
    looked at; idle, it costs nothing. Returns how many scopes it recounted."""
    watched = watched_scopes()
    if not watched:
        return 0
    windows = [Scope(window=window) for window in WINDOWS]
    scopes = windows + [scope for scope in watched if scope not in windows][:WARM_FILTERED]
    for scope in scopes:
        compute(scope)
    return len(scopes)
