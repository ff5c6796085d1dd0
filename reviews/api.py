"""Reviews in the pipeline's API: read-only, so the pipeline can learn from decisions."""

from datetime import datetime
from typing import Any

from ninja import Query, Router, Schema
from pydantic import Field

from mediaanalysis.pipeline.api import ERRORS, api_page, get_alive, retry_reads
from mediaanalysis.pipeline.api_schemas import INT32, Page, When

from .models import Decision, HITLReview, ReviewStatus

router = Router(tags=["reviews"])


class ReviewResponse(Schema):
    id: int
    analysis_result_id: int
    status: ReviewStatus
    priority: int
    approved: Decision | None
    reviewer_notes: str | None
    corrections: dict[str, Any] | list[Any] | None = Field(
        None,
        description=(
            "The reviewer's corrections: each key replaces that key of the result's result_data "
            "(null removes it; an object corrects key by key); `segments` is the whole corrected "
            "list of the result's segments, `regions` the whole corrected list of "
            "result_data.regions ([{label, x, y, w, h}], relative 0..1)."
        ),
    )
    reviewed_at: datetime | None
    reviewed_by: str | None = Field(None, description="username")
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_reviewed_by(review):
        return review.reviewed_by.get_username() if review.reviewed_by else None


class ReviewListResponse(Schema):
    items: list[ReviewResponse]
    total: int
    page: int
    per_page: int
    pages: int


class ReviewFilters(Page):
    status: ReviewStatus | None = None
    approved: Decision | None = None
    result_id: int | None = Field(None, ge=1, le=INT32)
    decided_after: When | None = None


@router.get("/", response={200: ReviewListResponse, **ERRORS})
@retry_reads
def list_reviews(request, filters: Query[ReviewFilters]):
    qs = HITLReview.objects.select_related("reviewed_by").order_by("-created_at", "-id")
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.approved:
        qs = qs.filter(approved=filters.approved)
    if filters.result_id:
        qs = qs.filter(analysis_result_id=filters.result_id)
    if filters.decided_after:
        qs = qs.filter(reviewed_at__gte=filters.decided_after)
    return api_page(qs, filters)


@router.get("/{review_id}", response={200: ReviewResponse, **ERRORS})
@retry_reads
def get_review(request, review_id: int):
    return get_alive(HITLReview.objects.select_related("reviewed_by"), pk=review_id)
