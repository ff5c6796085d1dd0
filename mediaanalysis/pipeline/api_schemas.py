"""The original design's Pydantic schemas, field for field, as django-ninja schemas.

Where the seed leaves a bound to the database (session_id's 36 characters, 32-bit integers,
NUL characters PostgreSQL refuses), the schema states it too, so that bad input is a 422 that
names the field rather than a database error.
"""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from django.db.models import Q
from ninja import FilterLookup, FilterSchema, Schema
from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from mediaanalysis.validation import (
    EARLIEST,
    INT32_MAX,
    LATEST,
    MAX_JSON_BYTES,
    MAX_JSON_DEPTH,
    SESSION_ID_PATTERN,
    SESSION_ID_RULE,
    check_json,
    check_session_id,
    check_text,
)

from . import search
from .models import MediaType, ProcessingStatus

INT32 = INT32_MAX


def _aware(value: datetime) -> datetime:
    """Naive datetimes are UTC; all are stored in UTC.

    A valid date-time within a day of the calendar's ends (0001-01-01T00:00+01:00, which has no
    UTC equivalent in Python, or 9999-12-31T23:59Z) is clamped to EARLIEST or LATEST rather
    than refused.
    """
    try:
        value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        return EARLIEST if value.year == 1 else LATEST
    return min(max(value, EARLIEST), LATEST)


# PostgreSQL cannot store NUL characters; the schema says so, so that clients can know.
# (Lone surrogates and the JSON limits are refused too: see mediaanalysis/validation.py.)
NO_NUL = Field(json_schema_extra={"pattern": "^[^\\x00]*$"})
Text = Annotated[str, AfterValidator(check_text), NO_NUL]
_JSON_RULE = (
    f"JSON no deeper than {MAX_JSON_DEPTH} levels and at most {MAX_JSON_BYTES:,} bytes; "
    "finite numbers (no NaN or Infinity) of at most 4,300 digits, no NUL characters."
)
JSONObject = Annotated[
    dict[str, Any], AfterValidator(check_json), Field(json_schema_extra={"description": _JSON_RULE})
]
JSONList = Annotated[
    list[dict[str, Any]],
    AfterValidator(check_json),
    Field(json_schema_extra={"description": _JSON_RULE}),
]


def _iso_only(value: Any) -> Any:
    """The schema promises ISO 8601; Pydantic alone would also take a number as a Unix time."""
    if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        raise ValueError("must be an ISO 8601 date-time, such as 2024-05-01T12:00:00Z")
    return value


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


When = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(_aware)]


def _json_number(value: Any) -> Any:
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON number")
    return value


# Numbers in a body are JSON numbers: Pydantic's lax mode would also take true for 1 and "5"
# for 5. (Query parameters arrive as text, and stay lax.) The optional ones are spelled out:
# `Int | None` with bounds would lose them in the OpenAPI schema.
Int = Annotated[int, BeforeValidator(_json_number)]
IntOrNone = Annotated[int | None, BeforeValidator(_json_number)]
Number = Annotated[float, BeforeValidator(_json_number)]
NumberOrNone = Annotated[float | None, BeforeValidator(_json_number)]
# A session id to look up: any stored one, including old rows written before the rule below.
SessionId = Annotated[
    str,
    Field(min_length=1, max_length=36, description="Session correlation ID"),
    AfterValidator(check_text),
    NO_NUL,
]
# A new session id goes into the pages' URLs, so it is refused unless it needs no quoting.
NewSessionId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=36,
        description=f"Session correlation ID: {SESSION_ID_RULE}.",
        json_schema_extra={"pattern": SESSION_ID_PATTERN},
    ),
    AfterValidator(check_session_id),
]


WebSearchText = Annotated[
    Text,
    Field(
        max_length=search.MAX_QUERY_LENGTH,
        description="Full-text search of transcripts, summaries, extracted text and segments:"
        ' words, "exact phrases", -excluded, OR (docs/search.md). A query with no word to look'
        f" for, or more than {search.MAX_TERMS} words and phrases, finds nothing.",
    ),
]


def Fraction(default=None, **kwargs):
    return Field(default, ge=0.0, le=1.0, allow_inf_nan=False, **kwargs)


class Body(Schema):
    """A request body. It must be a JSON object: a ninja Schema alone would read the attributes
    of any value, and take `21` or `[]` for an object whose fields all have defaults."""

    @model_validator(mode="wrap")  # "wrap" runs before ninja's own, "before" after it
    @classmethod
    def _is_an_object(cls, data: Any, handler):
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return handler(data)


UNCHANGED = "null or absent: unchanged."


class Update(Body):
    """A PATCH body. Leave out what does not change; null on a column that cannot be NULL means
    "unchanged" too, as the seed's Update schemas send it (their model_dump() includes every
    field). On a column that can be NULL, null sets it to NULL."""

    NOT_NULL: ClassVar[frozenset[str]] = frozenset()

    def changes(self) -> dict:
        data = self.model_dump(exclude_unset=True)
        return {k: v for k, v in data.items() if v is not None or k not in self.NOT_NULL}


class Error(Schema):
    detail: str | list[dict[str, Any]]


# 4.1 Base


class CreatedRange(FilterSchema):
    created_after: Annotated[When | None, FilterLookup("created_at__gte")] = None
    created_before: Annotated[When | None, FilterLookup("created_at__lt")] = None


# 4.2 Media files


# Where a file's media is (docs/design.md, Media; README, "Media"): the dashboard plays it from
# `storage_backend` at the key `storage_path`, else `file_path`.
STORAGE_BACKEND = (
    "`local`: a path relative to the dashboard's MEDIA_ROOT; `s3` or `r2`: a key in the"
    " dashboard's configured bucket (AWS_STORAGE_BUCKET_NAME). Default `local`."
)
STORAGE_PATH = (
    "The media's key in its storage_backend: a relative path under MEDIA_ROOT (no `..`, not"
    " absolute; links may not lead out) or an object key. Takes precedence over file_path."
)
FILE_PATH = "Where the pipeline keeps the file; the media's key when storage_path is empty."
CONTACT_SHEET_PATH = (
    "An image of frames, a key in the same storage_backend as the media (e.g."
    " `sheets/clip.jpg`); shown only if it is an image."
)
SEGMENTS = (
    "Key moments: objects with `start` and `end` in seconds (or `page` for documents), and"
    " optionally `label`, `text`, `confidence`; the review page ties them to the media."
)
RESULT_DATA = (
    "The model's output. Image results may carry `regions`: [{label, x, y, w, h}], the box's"
    " left, top, width and height relative to the image (0..1, top-left origin)."
)


class MediaFileCreate(Body):
    session_id: NewSessionId
    original_filename: Text = Field(..., min_length=1, max_length=255)
    media_type: MediaType
    mime_type: Text | None = Field(None, max_length=100)
    file_size: IntOrNone = Field(None, ge=0, le=INT32)
    storage_backend: Text = Field(default="local", max_length=50, description=STORAGE_BACKEND)


class MediaFileUpdate(Update):
    processed_filename: Text | None = Field(None, max_length=255)
    file_path: Text | None = Field(None, max_length=512, description=FILE_PATH)
    duration_seconds: NumberOrNone = Field(None, ge=0, allow_inf_nan=False)
    frame_count: IntOrNone = Field(None, ge=0, le=INT32)
    contact_sheet_path: Text | None = Field(None, max_length=512, description=CONTACT_SHEET_PATH)
    storage_path: Text | None = Field(None, max_length=512, description=STORAGE_PATH)


class MediaFileResponse(Schema):
    id: int
    session_id: str
    original_filename: str
    processed_filename: str | None
    file_path: str | None
    file_size: int | None
    media_type: MediaType
    mime_type: str | None
    duration_seconds: float | None
    frame_count: int | None
    contact_sheet_path: str | None
    storage_backend: str
    storage_path: str | None
    created_at: datetime
    updated_at: datetime


class MediaFileFilters(CreatedRange):
    session_id: SessionId | None = None
    media_type: MediaType | None = None


# 4.3 Analysis jobs


class AnalysisJobCreate(Body):
    session_id: NewSessionId
    job_type: Text = Field(..., min_length=1, max_length=50, description="Type of analysis")
    media_file_id: IntOrNone = Field(None, ge=1, le=INT32, description="Associated media file")
    parameters: JSONObject | None = Field(None, description="Job parameters")
    max_retries: Int = Field(default=3, ge=0, le=10)


class AnalysisJobUpdate(Update):
    """Leave out what does not change; null on status, progress or retry_count is unchanged too
    (those columns cannot be NULL); null on error_message, started_at or completed_at clears it,
    except that a job becoming processing (completed, failed) gets started_at (completed_at)."""

    NOT_NULL = frozenset({"status", "progress", "retry_count"})

    status: ProcessingStatus | None = Field(None, description=UNCHANGED)
    progress: NumberOrNone = Fraction(description="0.0 to 1.0; " + UNCHANGED)
    error_message: Text | None = None
    retry_count: IntOrNone = Field(None, ge=0, le=INT32, description=UNCHANGED)
    started_at: When | None = None
    completed_at: When | None = None

    def changes(self) -> dict:
        data = super().changes()
        # A seed client sends null for the timestamps it leaves to the server: while the status
        # changes, they are set as when left out (AnalysisJob.change).
        if data.get("status") is not None:
            for key in ("started_at", "completed_at"):
                if key in data and data[key] is None:
                    del data[key]
        return data


class AnalysisJobResponse(Schema):
    id: int
    session_id: str
    job_type: str
    status: ProcessingStatus
    progress: float
    parameters: dict[str, Any] | None
    error_message: str | None
    retry_count: int
    max_retries: int
    started_at: datetime | None
    completed_at: datetime | None
    media_file_id: int | None
    created_at: datetime
    updated_at: datetime


class JobProgressResponse(Schema):
    job_id: int
    status: ProcessingStatus
    progress: float
    message: str | None = None


class JobFilters(CreatedRange):
    status: list[ProcessingStatus] = Field(default_factory=list, description="any of these")
    job_type: Text | None = Field(None, max_length=50)
    session_id: SessionId | None = None
    media_file_id: int | None = Field(None, ge=1, le=INT32)

    def filter_status(self, value) -> Q:
        return Q(status__in=value) if value else Q()


# 4.4 Analysis results


class AnalysisResultResponse(Schema):
    id: int
    job_id: int
    media_file_id: int | None
    analysis_type: str
    model_used: str | None
    result_data: dict[str, Any] | None
    confidence_score: float | None
    transcript: str | None
    summary: str | None
    extracted_text: str | None
    frames_extracted: int | None
    segments: list[dict[str, Any]] | None
    created_at: datetime
    updated_at: datetime


class AnalysisResultCreate(Body):
    job_id: Int = Field(..., ge=1, le=INT32)
    media_file_id: IntOrNone = Field(None, ge=1, le=INT32)
    analysis_type: Text = Field(..., min_length=1, max_length=50)
    model_used: Text | None = Field(None, max_length=100)
    result_data: JSONObject | None = Field(None, description=RESULT_DATA)
    confidence_score: NumberOrNone = Fraction()
    transcript: Text | None = None
    summary: Text | None = None
    extracted_text: Text | None = None
    frames_extracted: IntOrNone = Field(None, ge=0, le=INT32)
    segments: JSONList | None = Field(None, description=SEGMENTS)


class AnalysisResultUpdate(Update):
    result_data: JSONObject | None = None
    confidence_score: NumberOrNone = Fraction()
    transcript: Text | None = None
    summary: Text | None = None
    extracted_text: Text | None = None


class ResultFilters(CreatedRange):
    q: WebSearchText | None = None
    analysis_type: Text | None = Field(None, max_length=50)
    model: Annotated[Text | None, FilterLookup("model_used")] = Field(None, max_length=100)
    job_id: int | None = Field(None, ge=1, le=INT32)
    session_id: Annotated[SessionId | None, FilterLookup("job__session_id")] = None
    confidence_min: Annotated[float | None, FilterLookup("confidence_score__gte")] = Fraction()
    confidence_max: Annotated[float | None, FilterLookup("confidence_score__lte")] = Fraction()

    def filter_q(self, value) -> Q:
        return Q()  # applied by filter(): how to search depends on the database

    def filter(self, queryset):
        queryset = super().filter(queryset)
        if not self.q:
            return queryset
        try:
            return queryset.search(self.q)
        except search.InvalidSearch:
            # The schema cannot say which text has a word to look for; such a search finds
            # nothing, rather than refusing a request the schema allows.
            return queryset.none()


# 4.5 User sessions


class UserSessionCreate(Body):
    session_id: NewSessionId = Field(default_factory=lambda: str(uuid.uuid4()))
    user_agent: Text | None = Field(None, max_length=512)
    ip_address: Text | None = Field(None, max_length=45)


class UserSessionUpdate(Update):
    """Leave out what does not change; null on last_activity, request_count or
    media_processed_count is unchanged too (those columns cannot be NULL); null on ended_at
    clears it."""

    NOT_NULL = frozenset({"last_activity", "request_count", "media_processed_count"})

    last_activity: When | None = Field(None, description=UNCHANGED)
    request_count: IntOrNone = Field(None, ge=0, le=INT32, description=UNCHANGED)
    media_processed_count: IntOrNone = Field(None, ge=0, le=INT32, description=UNCHANGED)
    ended_at: When | None = None


class UserSessionResponse(Schema):
    session_id: str
    user_agent: str | None
    ip_address: str | None
    started_at: datetime
    last_activity: datetime
    ended_at: datetime | None
    request_count: int
    media_processed_count: int
    created_at: datetime
    updated_at: datetime


class SessionFilters(FilterSchema):
    active: bool | None = Field(None, description="true: not ended; false: ended")
    started_after: Annotated[When | None, FilterLookup("started_at__gte")] = None
    started_before: Annotated[When | None, FilterLookup("started_at__lt")] = None

    def filter_active(self, value) -> Q:
        return Q() if value is None else Q(ended_at__isnull=value)
