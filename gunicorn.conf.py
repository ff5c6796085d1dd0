"""gunicorn for `make serve`. Every value can be overridden from the environment."""

import os

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
# Threads share each worker's connection pool. One process per core, 8 threads each, measured
# against 2 per core x 4 (and 2x4, 3x4, 1x16) on 2 cores: the most API calls per second at 16
# clients, for no more CPU each (docs/performance.md, "The API's request").
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 1))
threads = int(os.environ.get("GUNICORN_THREADS", 8))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then, staggered, so a slow leak never takes the site down.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 5000))
# The site is imported once, in the master, and each worker is forked from it: a recycled
# worker starts in milliseconds instead of seconds of CPU spent importing everything again
# (docs/performance.md, "The API's request"). Nothing opens a database connection at import.
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").lower() in ("1", "true", "yes", "on")
max_requests_jitter = 500
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # empty: no access log
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def when_ready(server):
    """With the app preloaded, import the URLconf (and with it the API's schemas) in the master
    too: Django loads it at a worker's first request, which would otherwise cost every new
    worker a second or more of CPU."""
    if preload_app:
        from django.urls import get_resolver

        get_resolver().url_patterns  # noqa: B018 (loads the URLconf)
