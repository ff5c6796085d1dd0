"""Settings for the Media Analysis Dashboard.

Everything an operator may change comes from the environment (or a `.env` file beside
manage.py). The defaults run a development site on a SQLite file as they are; production
sets DEBUG=false, SECRET_KEY, ALLOWED_HOSTS and a database, and then `check --deploy` is clean.
"""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from dotenv import load_dotenv

from mediaanalysis.pool import check_connection

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env")


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true or false)")


def env_number(name: str, default, kind=int):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return kind(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a {kind.__name__}") from None


def env_fraction(name: str, default: float) -> float:
    value = env_number(name, default, float)
    if not 0 <= value <= 1:
        raise ImproperlyConfigured(f"{name}={value!r} must be between 0 and 1")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false")
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "mediaanalysis.adminsite.CheckedAdminConfig",  # django.contrib.admin, checking its input
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # runserver serves static files through WhiteNoise, as production does: Django's own
    # handler answered 500 to /static/..%2F..%2Fetc%2Fpasswd.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "django_htmx",
    "ninja",
    "axes",
    "django_tasks_db",  # the background tasks' queue, a table in this database
    "mediaanalysis",  # the project package: commands, template tags (label "project")
    "mediaanalysis.webhooks",  # outgoing webhooks: endpoints, the outbox, deliveries
    "mediaanalysis.pipeline",  # the pipeline's tables (label "mediaanalysis")
    "reviews",
    "pages",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The player's signed media URLs, answered before the session (pipeline/signed_media.py).
    "mediaanalysis.pipeline.signed_media.SignedMediaMiddleware",
    "mediaanalysis.middleware.DatabaseUnavailableMiddleware",
    # The API* ones: Django's own, passed by on a token-authenticated API call
    # (mediaanalysis/middleware.py).
    "mediaanalysis.middleware.APISessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "mediaanalysis.middleware.APIAuthenticationMiddleware",
    "mediaanalysis.pipeline.idempotency.IdempotencyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "mediaanalysis.middleware.LoginRequiredMiddleware",
    "mediaanalysis.middleware.RoleMiddleware",
    "mediaanalysis.middleware.APIMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

# django-axes counts failed logins first; the user of each request is read with their roles
# (group names) in one query.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "mediaanalysis.roles.RoleBackend",
]

ROOT_URLCONF = "mediaanalysis.urls"
WSGI_APPLICATION = "mediaanalysis.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "mediaanalysis.context_processors.roles",
            ],
            "builtins": [
                "django.contrib.humanize.templatetags.humanize",
                "mediaanalysis.templatetags.addresses",  # {% url %}, reversed once
            ],
        },
    },
    {
        # A page's hot loop, drawn from the template language by {% jinja %} (listing.py).
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "APP_DIRS": True,
        "OPTIONS": {"environment": "mediaanalysis.jinja.environment"},
    },
]


# Database. DATABASE_URL wins; otherwise the seed's DB_* variables; otherwise a SQLite file.
def database_url() -> str:
    if url := env_str("DATABASE_URL"):
        return url
    if host := env_str("DB_HOST"):
        user = quote(env_str("DB_USER", "postgres"), safe="")
        password = quote(env_str("DB_PASSWORD"), safe="")
        credentials = f"{user}:{password}" if password else user
        name = quote(env_str("DB_NAME", "postgres"), safe="")
        return f"postgres://{credentials}@{host}:{env_number('DB_PORT', 5432)}/{name}"
    return f"sqlite:///{BASE_DIR / 'db.sqlite3'}"


DB_MIN_POOL_SIZE = env_number("DB_MIN_POOL_SIZE", 5)
DB_MAX_POOL_SIZE = env_number("DB_MAX_POOL_SIZE", 20)
DB_COMMAND_TIMEOUT = env_number("DB_COMMAND_TIMEOUT", 60.0, float)
DB_CONNECT_TIMEOUT = env_number("DB_CONNECT_TIMEOUT", 10.0, float)
# How long a request waits for a pooled connection before the site answers 503. Bounded apart
# from DB_CONNECT_TIMEOUT, so that with the database down a page answers within seconds.
DB_POOL_TIMEOUT = env_number("DB_POOL_TIMEOUT", min(DB_CONNECT_TIMEOUT, 4.0), float)
# Statements are sent with their parameters apart (server-side binding), and one that a pooled
# connection has run DB_PREPARE_THRESHOLD times is prepared: PostgreSQL parses and plans it
# once per connection, not on every request (docs/performance.md, "The API's request"). Behind
# a transaction-mode PgBouncer without prepared-statement support, set DB_PREPARE_THRESHOLD=off.
DB_SERVER_SIDE_BINDING = env_bool("DB_SERVER_SIDE_BINDING", True)
DB_PREPARE_THRESHOLD = (
    None
    if env_str("DB_PREPARE_THRESHOLD").lower() in ("off", "none")
    else env_number("DB_PREPARE_THRESHOLD", 2)
)


def database_config(url: str) -> dict:
    config = dj_database_url.parse(url)
    if config["ENGINE"] == "django.db.backends.postgresql":
        config["CONN_MAX_AGE"] = 0  # the pool keeps connections; Django must not.
        config["OPTIONS"] = {
            "pool": {
                "min_size": DB_MIN_POOL_SIZE,
                "max_size": DB_MAX_POOL_SIZE,
                # How long a request waits for a free connection before it fails (503).
                "timeout": DB_POOL_TIMEOUT,
                # While the database is down the pool retries with a growing delay; it gives a
                # slot up after this long, and the next request starts afresh at once. So the
                # gap between tries stays shorter than a request's wait, and the first request
                # after the database comes back gets a connection.
                "reconnect_timeout": DB_POOL_TIMEOUT,
                # No `max_waiting`: psycopg_pool counts requests that already timed out among
                # the waiting until a connection comes, so after an outage a bound would refuse
                # every request at once, and nothing would ask the pool to reconnect (found by
                # tests/test_outage.py). gunicorn's threads bound the real waiting already.
                # The seed's max_inactive_connection_lifetime.
                "max_idle": 300.0,
                # A connection that died (PostgreSQL restarted) is replaced, not handed out.
                "check": check_connection,
            },
            "server_side_binding": DB_SERVER_SIDE_BINDING,
            "prepare_threshold": DB_PREPARE_THRESHOLD if DB_SERVER_SIDE_BINDING else None,
            "connect_timeout": max(1, round(DB_CONNECT_TIMEOUT)),
            # Prepared statements are planned for their parameters every time: a generic plan
            # cannot know how many rows a search or a filter value matches, and PostgreSQL
            # chose one that made a filtered search's page 200 take 784 ms instead of 46 ms
            # (docs/performance.md, "Search"). Parsing once is what pays; planning is cheap.
            "options": (
                f"-c statement_timeout={round(DB_COMMAND_TIMEOUT * 1000)}"
                " -c plan_cache_mode=force_custom_plan"
            ),
            "application_name": "media-analysis-dashboard",
        }
    elif config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {
            # Writers take the lock when the transaction starts, so two claims never
            # deadlock on a lock upgrade; readers keep reading during a write (WAL).
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    return config


DATABASES = {"default": database_config(database_url())}
if replica_url := env_str("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = database_config(replica_url)
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["mediaanalysis.db.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
# The seed's index names (idx_analysis_results_type_confidence...) are longer than the 30
# characters Django allows for Oracle's sake; PostgreSQL takes 63 and SQLite any length.
# W040: SQLite ignores INCLUDE columns of an index; PostgreSQL, which needs them, has them.
SILENCED_SYSTEM_CHECKS = ["models.E034", "models.W040"]

if redis_url := env_str("REDIS_URL"):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
    }
elif cache_dir := env_str("CACHE_DIR"):
    # One host without Redis: the site and its workers still share one cache (`make run`).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": cache_dir,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
# ISO dates and a 24-hour clock wherever Django formats a date itself (the admin's lists).
FORMAT_MODULE_PATH = ["mediaanalysis.formats"]

STATIC_URL = "static/"
# Development serves static files from the finders; production from collectstatic's output.
STATIC_ROOT = None if DEBUG else BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "mediaanalysis.staticfiles.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
# Media (docs/design.md, Media). Local media, contact sheets included, is read from under
# MEDIA_ROOT only; `s3` and `r2` rows from the one bucket configured below (R2 is S3 with an
# endpoint), through presigned URLs that live MEDIA_URL_EXPIRY seconds.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL_EXPIRY = env_number("MEDIA_URL_EXPIRY", 300)
# The player's signed URLs of local media and peaks (pipeline/signed_media.py) live this long:
# as long as boto3's presigned URLs by default, so that a review's player keeps seeking.
MEDIA_SIGNED_URL_EXPIRY = env_number("MEDIA_SIGNED_URL_EXPIRY", 3600)
# ...and find a file deleted within this many seconds (its row is kept that long per process).
MEDIA_SIGNED_ROW_SECONDS = 5
# Production: hand local bytes to nginx (an `internal` location aliased to MEDIA_ROOT, see the
# README) after the app has authorized the request, e.g. "/protected-media/".
MEDIA_ACCEL_REDIRECT = env_str("MEDIA_ACCEL_REDIRECT")
# Audio up to this long gets its waveform peaks computed in the request that first asks for
# them; longer audio in the background (the page waits for them).
PEAKS_INLINE_MAX_SECONDS = env_number("PEAKS_INLINE_MAX_SECONDS", 600.0, float)
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL") or None
AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME") or None
AWS_ACCESS_KEY_ID = env_str("AWS_ACCESS_KEY_ID") or None
AWS_SECRET_ACCESS_KEY = env_str("AWS_SECRET_ACCESS_KEY") or None
AWS_S3_SIGNATURE_VERSION = "s3v4"
# With an endpoint (R2, MinIO...) URLs are path-style on the endpoint's origin; on AWS they are
# virtual-hosted on the bucket's regional host. media_origin() gives the CSP the same origin.
AWS_S3_ADDRESSING_STYLE = "path" if AWS_S3_ENDPOINT_URL else "virtual"
AWS_QUERYSTRING_EXPIRE = MEDIA_URL_EXPIRY


def media_origin(bucket: str, endpoint: str | None, region: str | None) -> str | None:
    """The origin that presigned media URLs point at, for the CSP; None without a bucket."""
    if not bucket:
        return None
    if endpoint:
        parts = urlsplit(endpoint)
        return f"{parts.scheme}://{parts.netloc}"
    return f"https://{bucket}.s3{f'.{region}' if region else ''}.amazonaws.com"


_origin = media_origin(AWS_STORAGE_BUCKET_NAME, AWS_S3_ENDPOINT_URL, AWS_S3_REGION_NAME)
MEDIA_ORIGINS = [_origin] if _origin else []

# Security. Production values follow DEBUG=false; each can be overridden.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:", *MEDIA_ORIGINS],
    "media-src": [CSP.SELF, *MEDIA_ORIGINS],
    # pdf.js fetches a document (following the media URL's redirect to the bucket).
    "connect-src": [CSP.SELF, *MEDIA_ORIGINS],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_number("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Health checks come from load balancers over plain HTTP on the private network.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}

# The review workflow (docs/design.md, The review workflow).
REVIEW_CLAIM_TTL = env_number("REVIEW_CLAIM_TTL", 900)
REVIEW_CONFIDENCE_THRESHOLD = env_number("REVIEW_CONFIDENCE_THRESHOLD", 0.7, float)
# A review a reviewer skipped stays out of their queue for this many seconds.
REVIEW_SKIP_SECONDS = env_number("REVIEW_SKIP_SECONDS", 900)
# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one username from
# one address, that pair is locked out for LOGIN_COOLOFF_MINUTES; an admin can unlock it at once
# (admin: Axes, Access attempts; or `manage.py axes_reset_username NAME`).
AXES_FAILURE_LIMIT = env_number("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_number("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "mediaanalysis.roles.login_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# The API's token check: wrong tokens from one address before it gets 429, and for how long.
API_TOKEN_FAILURE_LIMIT = env_number("API_TOKEN_FAILURE_LIMIT", 20)
API_TOKEN_COOLOFF = env_number("API_TOKEN_COOLOFF", 300)

# A processing job with no update for this many seconds is shown as stalled.
JOB_STALLED_AFTER = env_number("JOB_STALLED_AFTER", 900)
# A pipeline user's session counts as active while not ended and seen within this many seconds.
SESSION_ACTIVE_WITHIN = env_number("SESSION_ACTIVE_WITHIN", 1800)
# How long a manager may undo a bulk "send to review".
ENQUEUE_UNDO_SECONDS = env_number("ENQUEUE_UNDO_SECONDS", 600)
# Quality (docs/quality.md). Routing rules in the admin override the first three per analysis
# type and model: the share of confident results reviewed anyway (spot checks), and of decided
# first reviews reviewed again, blind. Gold checks are mixed in at REVIEW_GOLD_RATE of the
# reviews opened. Sampling is a hash of the row and SAMPLING_SEED: the same seed, the same picks.
REVIEW_SPOT_CHECK_RATE = env_fraction("REVIEW_SPOT_CHECK_RATE", 0.0)
REVIEW_SECOND_REVIEW_RATE = env_fraction("REVIEW_SECOND_REVIEW_RATE", 0.0)
REVIEW_GOLD_RATE = env_fraction("REVIEW_GOLD_RATE", 0.05)
SAMPLING_SEED = env_str("SAMPLING_SEED", "media-analysis")
# Each process keeps the rule that applies to a type and model this long: a rule edited in the
# admin applies to new results within this many seconds (at once in the process that saved it).
REVIEW_RULE_SECONDS = 5
# Reviewer analytics: a gap longer than this between a reviewer's claim events is idle time.
REVIEW_IDLE_SECONDS = env_number("REVIEW_IDLE_SECONDS", 120)
# Agreement figures over fewer pairs than this are not shown.
QUALITY_MIN_PAIRS = env_number("QUALITY_MIN_PAIRS", 10)
# How stale the dashboard's figures may be.
DASHBOARD_CACHE_SECONDS = env_number("DASHBOARD_CACHE_SECONDS", 60)

# Background tasks (django.tasks). The queue is a table of this database, worked by
# `manage.py run_worker` (`make worker`); another backend needs no change to the task code.
TASKS = {
    "default": {
        "BACKEND": env_str("TASKS_BACKEND", "mediaanalysis.taskqueue.Backend"),
    }
}
# Soft-deleted rows older than this many days are purged by the periodic work; unset: never.
PURGE_DELETED_AFTER_DAYS = env_number("PURGE_DELETED_AFTER_DAYS", None)

# Webhooks (docs/webhooks.md).
WEBHOOK_ALLOWED_HOSTS = env_list("WEBHOOK_ALLOWED_HOSTS")
WEBHOOK_CONNECT_TIMEOUT = env_number("WEBHOOK_CONNECT_TIMEOUT", 3.0, float)
WEBHOOK_READ_TIMEOUT = env_number("WEBHOOK_READ_TIMEOUT", 10.0, float)
WEBHOOK_MAX_ATTEMPTS = env_number("WEBHOOK_MAX_ATTEMPTS", 8)
WEBHOOK_RETRY_BASE_SECONDS = env_number("WEBHOOK_RETRY_BASE_SECONDS", 10.0, float)
WEBHOOK_DISABLE_AFTER_HOURS = env_number("WEBHOOK_DISABLE_AFTER_HOURS", 120.0, float)
WEBHOOK_EVENT_RETENTION_DAYS = env_number("WEBHOOK_EVENT_RETENTION_DAYS", 30)
