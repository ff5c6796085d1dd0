import time

from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .db import pool_stats


def _version() -> str:
    return ".".join(str(part) for part in connection.get_database_version())


@login_not_required
@never_cache
@require_GET
def health(request):
    """Is the database reachable, how fast, and how busy is the pool? For load balancers."""
    started = time.perf_counter()
    database = {"vendor": connection.vendor, "version": None}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        database["version"] = _version()
    except DatabaseError as exc:
        # Hand the broken connection back now, so the next check starts afresh.
        connection.close()
        return JsonResponse(
            {
                "status": "unhealthy",
                "database": database,
                "error": f"The database cannot be reached ({type(exc).__name__}).",
                "pool": pool_stats(connection),
                "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            },
            status=503,
        )
    return JsonResponse(
        {
            "status": "healthy",
            "database": database,
            "pool": pool_stats(connection),
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        }
    )
