"""A client written against the seed's own Pydantic schemas (the original design's API schemas) works as it is.

Its Update schemas' `model_dump()` sends every field, null for those it does not mean to change;
null on a column that cannot be NULL means "unchanged" (documented in the API's schema). Its
Response schemas read timestamps with their microseconds, as the database holds them.
"""

import enum
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from pydantic import BaseModel, Field

from mediaanalysis.pipeline.models import AnalysisJob, ApiToken, UserSession
from tests.conftest import make_job, make_session

# The original design's schemas, as it writes them.


class ProcessingStatus(str, enum.Enum):  # noqa: UP042 (the seed's own spelling)
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class AnalysisJobUpdate(BaseModel):
    status: ProcessingStatus | None = None
    progress: float | None = Field(None, ge=0.0, le=1.0)
    error_message: str | None = None
    retry_count: int | None = Field(None, ge=0)
    started_at: datetime | None = None
    completed_at: datetime | None = None


class AnalysisJobResponse(BaseModel):
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


class UserSessionUpdate(BaseModel):
    last_activity: datetime | None = None
    request_count: int | None = Field(None, ge=0)
    media_processed_count: int | None = Field(None, ge=0)
    ended_at: datetime | None = None


class UserSessionResponse(BaseModel):
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


@pytest.fixture
def worker(db):
    _, raw = ApiToken.issue("seed-client", "write")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def patch(worker, url, update: BaseModel):
    return worker.patch(url, update.model_dump_json(), content_type="application/json")


def test_a_job_update_with_the_seeds_nulls_changes_only_what_it_names(worker):
    job = make_job(status="pending", retry_count=1)
    response = patch(
        worker,
        f"/api/jobs/{job.pk}",
        AnalysisJobUpdate(status=ProcessingStatus.PROCESSING, progress=0.4),
    )
    assert response.status_code == 200, response.content
    read = AnalysisJobResponse.model_validate_json(response.content)
    assert (read.status, read.progress, read.retry_count) == ("processing", 0.4, 1)
    assert read.started_at is not None  # null while starting: set by the server, as when left out


def test_job_timestamps_round_trip_with_their_microseconds(worker):
    job = make_job(status="processing")
    finished = datetime(2026, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    response = patch(
        worker,
        f"/api/jobs/{job.pk}",
        AnalysisJobUpdate(status=ProcessingStatus.COMPLETED, completed_at=finished),
    )
    read = AnalysisJobResponse.model_validate_json(response.content)
    assert read.completed_at == finished
    stored = AnalysisJob.objects.get(pk=job.pk)
    assert read.created_at == stored.created_at  # microseconds and all
    assert read.created_at.microsecond == stored.created_at.microsecond


def test_a_session_update_with_the_seeds_nulls_leaves_the_other_columns_alone(worker):
    make_session(session_id="s-seed", request_count=3, media_processed_count=2)
    before = UserSession.objects.get(session_id="s-seed").last_activity
    response = patch(worker, "/api/sessions/s-seed", UserSessionUpdate(request_count=4))
    assert response.status_code == 200, response.content
    read = UserSessionResponse.model_validate_json(response.content)
    assert (read.request_count, read.media_processed_count) == (4, 2)
    assert read.last_activity == before


def test_a_session_update_sets_a_microsecond_timestamp_exactly(worker):
    make_session(session_id="s-seed-2")
    moment = datetime(2026, 5, 1, 8, 0, 0, 654321, tzinfo=UTC)
    response = patch(worker, "/api/sessions/s-seed-2", UserSessionUpdate(last_activity=moment))
    read = UserSessionResponse.model_validate_json(response.content)
    assert read.last_activity == moment
    assert read.ended_at is None


def test_null_on_a_nullable_column_still_clears_it(worker):
    job = make_job(status="failed", error_message="decoder crashed")
    response = worker.patch(
        f"/api/jobs/{job.pk}", {"error_message": None}, content_type="application/json"
    )
    assert response.json()["error_message"] is None


def test_the_schema_documents_that_null_means_unchanged():
    from mediaanalysis.pipeline.api import api

    schema = api.get_openapi_schema()["components"]["schemas"]["AnalysisJobUpdate"]
    assert "unchanged" in schema["properties"]["status"]["description"]
    assert "unchanged" in schema["description"]
