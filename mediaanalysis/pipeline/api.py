"""The pipeline's JSON API (django-ninja): workers write sessions, files, jobs and results.

Authentication is a bearer token (never a session cookie, so no CSRF); each token has a scope:
read, write (read and write) or admin (also restores soft-deleted rows).
"""

import logging
import time
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import Q
from django.http import Http404, JsonResponse
from django.urls import register_converter
from django.utils import timezone
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.pagination import PaginationBase, paginate
from ninja.parser import Parser
from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder
from ninja.security import HttpBearer
from psycopg_pool import PoolTimeout

from mediaanalysis.db import ByPk, insert
from mediaanalysis.middleware import UNAVAILABLE
from mediaanalysis.roles import has_access
from mediaanalysis.validation import loads_json

from . import events
from .api_schemas import (
    AnalysisJobCreate,
    AnalysisJobResponse,
    AnalysisJobUpdate,
    AnalysisResultCreate,
    AnalysisResultResponse,
    AnalysisResultUpdate,
    Error,
    JobFilters,
    JobProgressResponse,
    MediaFileCreate,
    MediaFileFilters,
    MediaFileResponse,
    MediaFileUpdate,
    ResultFilters,
    SessionFilters,
    SessionId,
    UserSessionCreate,
    UserSessionResponse,
    UserSessionUpdate,
)
from .idempotency import DocumentedIdempotencyAPI
from .models import (
    LIVE_JOB,
    AnalysisJob,
    AnalysisResult,
    ApiToken,
    JobTransitionError,
    MediaFile,
    ProcessingStatus,
    UserSession,
)
from .pagination import COUNT_CAP, count_rows
from .tokens import token_for

log = logging.getLogger(__name__)


class AnyTextConverter:
    """A path parameter that takes any text, "/" and line breaks included (Django's `path`
    stops at a line break)."""

    regex = "(?s:.+)"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(AnyTextConverter, "anytext")

READ, WRITE, ADMIN = "read", "write", "admin"
SCOPES = {READ: {READ, WRITE, ADMIN}, WRITE: {WRITE, ADMIN}, ADMIN: {ADMIN}}
LAST_USED_EVERY = timedelta(minutes=1)
# The seed's execute_with_retry: idempotent reads, exponential backoff.
READ_ATTEMPTS, READ_BACKOFF = 3, 0.1


class Throttled(Exception):
    """Too many wrong tokens from one address: 429 until the cool-off has passed."""


def _failures_key(request) -> str:
    return f"api-token-failures:{request.META.get('REMOTE_ADDR', '')}"


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`; a token whose scope is too small gets 403.

    Guessing is throttled: after API_TOKEN_FAILURE_LIMIT wrong tokens from one address within
    API_TOKEN_COOLOFF seconds, that address gets 429 (with Retry-After) for that long, right
    tokens included, without the token being looked up.
    """

    def __init__(self, scope: str = READ):
        self.scope = scope
        super().__init__()

    def authenticate(self, request, token):
        key = _failures_key(request)
        if cache.get(key, 0) >= settings.API_TOKEN_FAILURE_LIMIT:
            raise Throttled
        api_token = token_for(request, token) if token else None
        if api_token is None:
            cache.add(key, 0, settings.API_TOKEN_COOLOFF)
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, settings.API_TOKEN_COOLOFF)
            return None
        if api_token.scope not in SCOPES[self.scope]:
            raise HttpError(
                403, f"This token's scope is {api_token.scope!r}; this needs {self.scope!r}."
            )
        now = timezone.now()
        if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_EVERY:
            ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        return api_token


read_auth, write_auth, admin_auth = TokenAuth(READ), TokenAuth(WRITE), TokenAuth(ADMIN)

DOCS_CSP = {
    "default-src": [CSP.SELF],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
}


def docs_access(view):
    """The docs and the schema: for signed-in people with a role, and for any valid API token
    (a worker generating its client reads /api/openapi.json)."""
    view = csp_override(DOCS_CSP)(view)

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if "HTTP_AUTHORIZATION" in request.META:
            try:
                token = read_auth(request)
            except Throttled:
                return _throttled(request)
            if token is None:
                return _unauthenticated(request)
            return view(request, *args, **kwargs)
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not has_access(request.user):
            raise PermissionDenied("Ask an admin for access.")
        return view(request, *args, **kwargs)

    return wrapper


class BodyParser(Parser):
    """Bodies are parsed by the shared checker: a body too deep or not JSON is a 400 that says
    why (ninja's own message says only that it could not be parsed)."""

    def parse_body(self, request):
        try:
            return loads_json(request.body)
        except ValueError as exc:
            request.body_problem = f"The body {exc}."
            raise


class Encoder(NinjaJSONEncoder):
    """Timestamps with their microseconds, as the database and the seed's schemas hold them
    (Django's encoder cuts them to milliseconds)."""

    def default(self, o):
        if isinstance(o, datetime):
            return o.isoformat().replace("+00:00", "Z")
        return super().default(o)


class Renderer(JSONRenderer):
    encoder_class = Encoder


api = DocumentedIdempotencyAPI(
    title="Media Analysis API",
    version="1.0",
    description="Pipeline workers write sessions, media files, jobs, progress and results; and read reviews.",
    auth=read_auth,
    urls_namespace="api",
    docs_decorator=docs_access,
    parser=BodyParser(),
    renderer=Renderer(),
)
# 400: a body that is not JSON at all; 422: JSON that breaks the schema; 429: too many wrong
# tokens from this address.
ERRORS = {code: Error for code in (400, 401, 403, 404, 409, 422, 429, 503)}


@api.exception_handler(InterfaceError)  # a connection that was already closed
@api.exception_handler(OperationalError)
def database_unavailable(request, exc):
    log.warning("API: database unavailable: %s", exc)
    response = api.create_response(request, {"detail": UNAVAILABLE}, status=503)
    response["Retry-After"] = "5"
    return response


@api.exception_handler(IntegrityError)
def conflict(request, exc):
    return api.create_response(
        request,
        {"detail": "This conflicts with a row that exists, or with a constraint."},
        status=409,
    )


@api.exception_handler(DataError)
def bad_data(request, exc):
    return api.create_response(request, {"detail": "A value does not fit its column."}, status=422)


@api.exception_handler(Http404)
def not_found(request, exc):
    # ninja's own handler answers a bare "Not Found"; get_alive's message says what is missing.
    return api.create_response(request, {"detail": str(exc) or "Not found."}, status=404)


@api.exception_handler(AuthenticationError)
def unauthenticated(request, exc):
    return _unauthenticated(request)


def _unauthenticated(request):
    response = JsonResponse(
        {"detail": "Send a valid token: Authorization: Bearer <token>."}, status=401
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(Throttled)
def throttled(request, exc):
    return _throttled(request)


def _throttled(request):
    response = JsonResponse(
        {
            "detail": "Too many wrong tokens from this address; "
            f"try again in {settings.API_TOKEN_COOLOFF} seconds."
        },
        status=429,
    )
    response["Retry-After"] = str(settings.API_TOKEN_COOLOFF)
    return response


@api.exception_handler(HttpError)
def http_error(request, exc):
    # A body that could not be parsed: say why (BodyParser noted it).
    detail = getattr(request, "body_problem", None) if exc.status_code == 400 else None
    return api.create_response(request, {"detail": detail or str(exc)}, status=exc.status_code)


@api.exception_handler(ValidationError)
def invalid(request, exc):
    return api.create_response(request, {"detail": exc.errors}, status=422)


def retry_reads(view):
    """Retry an idempotent read when the connection dropped; never a constraint or SQL error
    (as the seed did: docs/design.md, Bad input and faults)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        for attempt in range(READ_ATTEMPTS):
            try:
                return view(request, *args, **kwargs)
            except (OperationalError, InterfaceError) as exc:
                # The pool already waited its timeout for a connection: the database is down,
                # and another wait would only hold the worker longer before the 503.
                if connection.in_atomic_block or isinstance(exc.__cause__, PoolTimeout):
                    raise
                if attempt == READ_ATTEMPTS - 1:
                    raise OperationalError(str(exc)) from exc
                connection.close()  # hand the broken connection back; the next try gets a new one
                time.sleep(READ_BACKOFF * 2**attempt)
        raise AssertionError("unreachable")

    return wrapper


def get_alive(rows, **lookup):
    """The live row of `rows` (a model's default manager, or a queryset), or 404. The lookup
    is on a unique key: no ORDER BY to compile and run."""
    obj = next(iter(rows.filter(**lookup)[:1]), None)
    if obj is None:
        where = ", ".join(f"{key.replace('pk', 'id')}={value}" for key, value in lookup.items())
        raise Http404(f"No {rows.model._meta.verbose_name} with {where}.")
    return obj


# The jobs the pipeline's hottest calls read (a worker's progress, its results, its polls),
# with statements compiled once (mediaanalysis/db.py).
JOB = LIVE_JOB
JOB_TO_CHANGE = ByPk(lambda: AnalysisJob.objects.select_for_update())
JOB_PROGRESS = ByPk(lambda: AnalysisJob.objects.only("id", "status", "progress", "error_message"))


def get_alive_by_pk(rows: ByPk, pk: int):
    """The live row with this key, read by `rows`, or 404 (as get_alive says it)."""
    obj = rows.get(pk)
    if obj is None:
        raise Http404(f"No {rows.model._meta.verbose_name} with id={pk}.")
    return obj


class BoundedPagination(PaginationBase):
    """The seed's page (`items`, `total`, `page`, `per_page`, `pages`), counted the way the
    pages count: never a million rows (mediaanalysis/pipeline/pagination.py)."""

    class Input(Schema):
        page: int = Field(1, ge=1, le=1_000_000)
        per_page: int = Field(20, ge=1, le=100)

    class Output(Schema):
        items: list[Any]
        total: int = Field(
            description=f"Exact up to {COUNT_CAP:,} rows. Beyond that, an unfiltered list gives "
            f"the database's estimate and a filtered list gives {COUNT_CAP:,} as a lower bound: "
            "read pages until one has fewer items than per_page."
        )
        page: int
        per_page: int
        pages: int

    def paginate_queryset(self, queryset, pagination: Input, request, filters=None, **params):
        filtered = filters is not None and filters.get_filter_expression() != Q()
        total, _exact, _estimated = count_rows(queryset, estimate=not filtered)
        offset = (pagination.page - 1) * pagination.per_page
        return {
            "items": list(queryset[offset : offset + pagination.per_page]),
            "total": total,
            "page": pagination.page,
            "per_page": pagination.per_page,
            "pages": -(-total // pagination.per_page),
        }


def _soft_delete(model, **lookup):
    with transaction.atomic():
        get_alive(model.objects, **lookup)
        model.objects.filter(**lookup).soft_delete()


def _restore(model, **lookup):
    obj = model.all_objects.filter(**lookup).first()
    if obj is None:
        raise Http404(f"No {model._meta.verbose_name} with {lookup}.")
    if obj.deleted_at is None:
        raise HttpError(409, f"This {model._meta.verbose_name} is not deleted.")
    if (parent := obj.deleted_parent()) is not None:
        raise HttpError(
            409, f"Its {parent._meta.verbose_name} #{parent.pk} is deleted; restore that first."
        )
    obj.restore()
    return obj


def _apply(obj, data: dict):
    """Set the fields a PATCH sent; write only those (and updated_at), not the whole row."""
    for field, value in data.items():
        setattr(obj, field, value)
    obj.save(update_fields=[*data, "updated_at"])
    return obj


# Sessions

sessions = Router(tags=["sessions"])


@sessions.post("/", response={201: UserSessionResponse, **ERRORS}, auth=write_auth)
def create_session(request, payload: UserSessionCreate):
    if UserSession.all_objects.filter(session_id=payload.session_id).exists():
        raise HttpError(409, f"Session {payload.session_id!r} already exists.")
    return Status(201, UserSession.objects.create(**payload.model_dump()))


@sessions.get("/", response={200: list[UserSessionResponse], **ERRORS})
@retry_reads
@paginate(BoundedPagination)
def list_sessions(request, filters: Query[SessionFilters]):
    return filters.filter(UserSession.objects.order_by("-last_activity", "-id"))


# Any stored session id can be read back, including old ones holding a "/" (sent as %2F) or a
# line break: the `anytext` converter takes it whole. The restore route comes first, so that ".../restore" is it.
@sessions.post(
    "/{anytext:session_id}/restore", response={200: UserSessionResponse, **ERRORS}, auth=admin_auth
)
def restore_session(request, session_id: SessionId):
    return _restore(UserSession, session_id=session_id)


@sessions.get("/{anytext:session_id}", response={200: UserSessionResponse, **ERRORS})
@retry_reads
def get_session(request, session_id: SessionId):
    return get_alive(UserSession.objects, session_id=session_id)


@sessions.patch(
    "/{anytext:session_id}", response={200: UserSessionResponse, **ERRORS}, auth=write_auth
)
def update_session(request, session_id: SessionId, payload: UserSessionUpdate):
    with transaction.atomic():
        session = get_alive(UserSession.objects.select_for_update(), session_id=session_id)
        return _apply(session, payload.changes())


@sessions.delete("/{anytext:session_id}", response={204: None, **ERRORS}, auth=write_auth)
def delete_session(request, session_id: SessionId):
    _soft_delete(UserSession, session_id=session_id)
    return Status(204, None)


# Media files

files = Router(tags=["media files"])


@files.post("/", response={201: MediaFileResponse, **ERRORS}, auth=write_auth)
def create_file(request, payload: MediaFileCreate):
    return Status(201, MediaFile.objects.create(**payload.model_dump()))


@files.get("/", response={200: list[MediaFileResponse], **ERRORS})
@retry_reads
@paginate(BoundedPagination)
def list_files(request, filters: Query[MediaFileFilters]):
    return filters.filter(MediaFile.objects.order_by("-created_at", "-id"))


@files.get("/{file_id}", response={200: MediaFileResponse, **ERRORS})
@retry_reads
def get_file(request, file_id: int):
    return get_alive(MediaFile.objects, pk=file_id)


@files.patch("/{file_id}", response={200: MediaFileResponse, **ERRORS}, auth=write_auth)
def update_file(request, file_id: int, payload: MediaFileUpdate):
    with transaction.atomic():
        media = get_alive(MediaFile.objects.select_for_update(), pk=file_id)
        return _apply(media, payload.changes())


@files.delete("/{file_id}", response={204: None, **ERRORS}, auth=write_auth)
def delete_file(request, file_id: int):
    _soft_delete(MediaFile, pk=file_id)
    return Status(204, None)


@files.post("/{file_id}/restore", response={200: MediaFileResponse, **ERRORS}, auth=admin_auth)
def restore_file(request, file_id: int):
    return _restore(MediaFile, pk=file_id)


# Jobs

jobs = Router(tags=["jobs"])


@jobs.post("/", response={201: AnalysisJobResponse, **ERRORS}, auth=write_auth)
def create_job(request, payload: AnalysisJobCreate):
    if payload.media_file_id is not None:
        get_alive(MediaFile.objects, pk=payload.media_file_id)
    return Status(201, AnalysisJob.objects.create(**payload.model_dump()))


@jobs.get("/", response={200: list[AnalysisJobResponse], **ERRORS})
@retry_reads
@paginate(BoundedPagination)
def list_jobs(request, filters: Query[JobFilters]):
    return filters.filter(AnalysisJob.objects.order_by("-created_at", "-id"))


@jobs.get("/{job_id}", response={200: AnalysisJobResponse, **ERRORS})
@retry_reads
def get_job(request, job_id: int):
    return get_alive_by_pk(JOB, job_id)


@jobs.get("/{job_id}/progress", response={200: JobProgressResponse, **ERRORS})
@retry_reads
def job_progress(request, job_id: int):
    """The seed's JobProgressResponse. Poll it; there is no stream that could hold a worker."""
    job = get_alive_by_pk(JOB_PROGRESS, job_id)
    message = (
        job.error_message
        if job.status == ProcessingStatus.FAILED
        else f"{job.get_status_display()}, {job.progress:.0%}"
    )
    return {"job_id": job.pk, "status": job.status, "progress": job.progress, "message": message}


@jobs.patch("/{job_id}", response={200: AnalysisJobResponse, **ERRORS}, auth=write_auth)
def update_job(request, job_id: int, payload: AnalysisJobUpdate):
    """Progress, timestamps, errors and status. A status change must be legal:
    pending -> processing | failed; processing -> processing | completed | failed;
    failed -> pending (a retry, within max_retries); completed is final."""
    changes, now = payload.changes(), timezone.now()
    # A progress report, the most frequent call, is one UPDATE; anything else, or a job the
    # UPDATE did not find, takes the locked read below, which says why (404, 409).
    if changes.keys() == {"progress"}:
        job = AnalysisJob.report_progress(job_id, changes["progress"], now)
        if job is not None:
            return job
    with transaction.atomic():
        job = get_alive_by_pk(JOB_TO_CHANGE, job_id)
        previous = job.status
        try:
            job.change(changes, now)
        except JobTransitionError as refused:
            raise HttpError(409, str(refused)) from None
        return events.job_changed(previous, job)


@jobs.delete("/{job_id}", response={204: None, **ERRORS}, auth=write_auth)
def delete_job(request, job_id: int):
    _soft_delete(AnalysisJob, pk=job_id)
    return Status(204, None)


@jobs.post("/{job_id}/restore", response={200: AnalysisJobResponse, **ERRORS}, auth=admin_auth)
def restore_job(request, job_id: int):
    return _restore(AnalysisJob, pk=job_id)


# Results

results = Router(tags=["results"])


@results.post("/", response={201: AnalysisResultResponse, **ERRORS}, auth=write_auth)
def create_result(request, payload: AnalysisResultCreate):
    """A result below REVIEW_CONFIDENCE_THRESHOLD goes to the review queue by itself."""
    with transaction.atomic():
        get_alive_by_pk(JOB, payload.job_id)
        if payload.media_file_id is not None:
            get_alive(MediaFile.objects, pk=payload.media_file_id)
        result = insert(AnalysisResult(**payload.model_dump()))
        return Status(201, events.result_created(result))


@results.get("/", response={200: list[AnalysisResultResponse], **ERRORS})
@retry_reads
@paginate(BoundedPagination)
def list_results(request, filters: Query[ResultFilters]):
    return filters.filter(AnalysisResult.objects.order_by("-created_at", "-id"))


@results.get("/{result_id}", response={200: AnalysisResultResponse, **ERRORS})
@retry_reads
def get_result(request, result_id: int):
    return get_alive(AnalysisResult.objects, pk=result_id)


@results.patch("/{result_id}", response={200: AnalysisResultResponse, **ERRORS}, auth=write_auth)
def update_result(request, result_id: int, payload: AnalysisResultUpdate):
    """A result changed after a needs-changes decision goes round the review queue again."""
    with transaction.atomic():
        result = get_alive(AnalysisResult.objects.select_for_update(), pk=result_id)
        return _apply(result, payload.changes())


@results.delete("/{result_id}", response={204: None, **ERRORS}, auth=write_auth)
def delete_result(request, result_id: int):
    _soft_delete(AnalysisResult, pk=result_id)
    return Status(204, None)


@results.post(
    "/{result_id}/restore", response={200: AnalysisResultResponse, **ERRORS}, auth=admin_auth
)
def restore_result(request, result_id: int):
    return _restore(AnalysisResult, pk=result_id)


api.add_router("/sessions", sessions)
api.add_router("/files", files)
api.add_router("/jobs", jobs)
api.add_router("/results", results)
# Reviews belong to the reviews app, which may import this one but not the other way round.
api.add_router("/reviews", "reviews.api.router")
