"""The seed's Pydantic schemas (section 4), field for field, as django-ninja schemas.

Where the seed leaves a bound to the database (session_id's 36 characters, 32-bit integers,
NUL characters PostgreSQL refuses), the schema states it too, so that bad input is a 422 that
names the field rather than a database error.
"""

import math
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from django.db.models import Q
from ninja import FilterLookup, FilterSchema, Schema
from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from . import search
from .models import MediaType, ProcessingStatus

INT32 = 2**31 - 1


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _json_text(value: str) -> str:
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return _no_nul(value)


def _clean_json(value: Any) -> Any:
    """JSON the database can store: valid Unicode without NUL characters, no NaN or infinities."""
    if isinstance(value, str):
        return _json_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite")
    if isinstance(value, dict):
        return {_json_text(str(k)): _clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_json(v) for v in value]
    return value


def _aware(value: datetime) -> datetime:
    """Naive datetimes are UTC; all are stored in UTC.

    A valid date-time within a day of the calendar's ends (0001-01-01T00:00+01:00) has no UTC
    equivalent in Python: it is clamped to that end rather than refused.
    """
    try:
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        return (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=UTC)


# PostgreSQL cannot store NUL characters; the schema says so, so that clients can know.
NO_NUL = Field(json_schema_extra={"pattern": "^[^\\x00]*$"})
Text = Annotated[str, AfterValidator(_no_nul), NO_NUL]
JSONObject = Annotated[dict[str, Any], AfterValidator(_clean_json)]
JSONList = Annotated[list[dict[str, Any]], AfterValidator(_clean_json)]


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
SessionId = Annotated[
    str,
    Field(min_length=1, max_length=36, description="Session correlation ID"),
    AfterValidator(_no_nul),
    NO_NUL,
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


class Error(Schema):
    detail: str | list[dict[str, Any]]


# 4.1 Base


class CreatedRange(FilterSchema):
    created_after: Annotated[When | None, FilterLookup("created_at__gte")] = None
    created_before: Annotated[When | None, FilterLookup("created_at__lt")] = None


# 4.2 Media files


# Where a file's media is (PRODUCT.md section 3a; README, "Media"): the dashboard plays it from
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
    session_id: SessionId
    original_filename: Text = Field(..., min_length=1, max_length=255)
    media_type: MediaType
    mime_type: Text | None = Field(None, max_length=100)
    file_size: IntOrNone = Field(None, ge=0, le=INT32)
    storage_backend: Text = Field(default="local", max_length=50, description=STORAGE_BACKEND)


class MediaFileUpdate(Body):
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
    session_id: SessionId
    job_type: Text = Field(..., min_length=1, max_length=50, description="Type of analysis")
    media_file_id: IntOrNone = Field(None, ge=1, le=INT32, description="Associated media file")
    parameters: JSONObject | None = Field(None, description="Job parameters")
    max_retries: Int = Field(default=3, ge=0, le=10)


class AnalysisJobUpdate(Body):
    # Leave out what does not change. Columns that cannot be NULL refuse null (422), rather
    # than reach the database as one.
    status: ProcessingStatus = None
    progress: Number = Fraction()
    error_message: Text | None = None
    retry_count: Int = Field(None, ge=0, le=INT32)
    started_at: When | None = None
    completed_at: When | None = None


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


class AnalysisResultUpdate(Body):
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
    session_id: SessionId = Field(default_factory=lambda: str(uuid.uuid4()))
    user_agent: Text | None = Field(None, max_length=512)
    ip_address: Text | None = Field(None, max_length=45)


class UserSessionUpdate(Body):
    last_activity: When = None  # as in AnalysisJobUpdate: leave out, or give a value
    request_count: Int = Field(None, ge=0, le=INT32)
    media_processed_count: Int = Field(None, ge=0, le=INT32)
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
