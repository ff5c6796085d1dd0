"""Reviews in the pipeline's API: read-only, so the pipeline can learn from decisions."""

from datetime import datetime
from typing import Annotated, Any

from ninja import FilterLookup, FilterSchema, Query, Router, Schema
from ninja.pagination import paginate
from pydantic import Field

from mediaanalysis.pipeline.api import ERRORS, BoundedPagination, get_alive, retry_reads
from mediaanalysis.pipeline.api_schemas import INT32, When

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
        description="Keys replace result_data's (null removes one); `segments` is the whole "
        "corrected segments list, `regions` the whole corrected result_data.regions.",
    )
    reviewed_at: datetime | None
    reviewed_by: str | None = Field(None, description="username")
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_reviewed_by(review):
        return review.reviewed_by.get_username() if review.reviewed_by else None


class ReviewFilters(FilterSchema):
    status: ReviewStatus | None = None
    approved: Decision | None = None
    result_id: Annotated[int | None, FilterLookup("analysis_result_id")] = Field(
        None, ge=1, le=INT32
    )
    decided_after: Annotated[When | None, FilterLookup("reviewed_at__gte")] = None


@router.get("/", response={200: list[ReviewResponse], **ERRORS})
@retry_reads
@paginate(BoundedPagination)
def list_reviews(request, filters: Query[ReviewFilters]):
    return filters.filter(
        HITLReview.objects.select_related("reviewed_by").order_by("-created_at", "-id")
    )


@router.get("/{review_id}", response={200: ReviewResponse, **ERRORS})
@retry_reads
def get_review(request, review_id: int):
    return get_alive(HITLReview.objects.select_related("reviewed_by"), pk=review_id)
