"""Reviews in the pipeline's API: read-only, so the pipeline can learn from decisions."""

from datetime import datetime
from typing import Annotated, Any

from ninja import FilterLookup, FilterSchema, Query, Router, Schema
from ninja.pagination import paginate
from pydantic import Field

from mediaanalysis.pipeline.api import ERRORS, BoundedPagination, get_alive, retry_reads
from mediaanalysis.pipeline.api_schemas import INT32, When
from mediaanalysis.webhooks.models import Event, EventType

from .models import Decision, HITLReview, Reason, ReviewStatus, Round

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
    round: Round = Field(
        description="1: first review; 2: blind second review; 3: adjudication of a disagreement"
    )
    reason: str = Field(
        description="why the review was opened (docs/quality.md): "
        + ", ".join(value for value in Reason.values if value != Reason.GOLD)
    )
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_reviewed_by(review):
        return review.reviewed_by.get_username() if review.reviewed_by else None

    @staticmethod
    def resolve_reason(review):
        return review.shown_reason


class ReviewFilters(FilterSchema):
    status: ReviewStatus | None = None
    approved: Decision | None = None
    result_id: Annotated[int | None, FilterLookup("analysis_result_id")] = Field(
        None, ge=1, le=INT32
    )
    decided_after: Annotated[When | None, FilterLookup("reviewed_at__gte")] = None
    round: Round | None = None


@router.get("/", response={200: list[ReviewResponse], **ERRORS})
@retry_reads
@paginate(BoundedPagination)
def list_reviews(request, filters: Query[ReviewFilters]):
    """Reviews, newest first, by page. To follow decisions as they are made, without missing
    one between pages, read /api/reviews/decisions/ with its cursor instead."""
    return filters.filter(
        HITLReview.objects.select_related("reviewed_by").order_by("-created_at", "-id")
    )


# A worker's catch-up: every decision, in commit order, from a cursor.


class DecisionItem(Schema):
    cursor: str = Field(description="this decision's position; pass it as `after` to go on")
    id: str = Field(description="the webhook-id the same event was (or will be) delivered with")
    type: str
    timestamp: datetime
    data: dict[str, Any] = Field(description="as in the review.decided webhook (docs/webhooks.md)")


class DecisionFeed(Schema):
    items: list[DecisionItem]
    next_cursor: str | None = Field(
        description="pass as `after` for the decisions after these; the same cursor comes back "
        "while there are none yet (null only if there never were any from where you started)"
    )


class FeedFilters(Schema):
    after: str | None = Field(
        None,
        pattern=r"^[0-9]{1,18}\.[0-9]{1,18}$",
        description="next_cursor of the previous answer (opaque); omit to start",
    )
    decided_after: When | None = Field(
        None, description="where to start, without a cursor: decisions made since this time"
    )
    limit: int = Field(100, ge=1, le=500)


def _cursor(event) -> str:
    return f"{event.txid}.{event.pk}"


def _position(cursor: str) -> tuple[int, int]:
    """The (transaction id, event id) of a cursor that the schema's pattern has checked."""
    txid, pk = cursor.split(".")
    return int(txid), int(pk)


@router.get("/decisions/", response={200: DecisionFeed, **ERRORS})
@retry_reads
def decisions(request, filters: Query[FeedFilters]):
    """Every decision, in the order the decisions committed, from a cursor: how a worker that
    missed webhooks catches up, without gaps or repeats even while reviewers decide.

    Start with `decided_after` (or nothing: the oldest kept, WEBHOOK_EVENT_RETENTION_DAYS), then
    pass each answer's `next_cursor` as `after`. A decision appears once its transaction, and
    every transaction older than it, has ended.
    """
    after = _position(filters.after) if filters.after else None
    since = None if after else filters.decided_after
    events = list(Event.objects.feed(EventType.REVIEW_DECIDED, after, since)[: filters.limit])
    items = [
        {
            "cursor": _cursor(event),
            "id": event.webhook_id,
            "type": event.type,
            "timestamp": event.created_at,
            "data": event.data,
        }
        for event in events
    ]
    next_cursor = items[-1]["cursor"] if items else filters.after
    return {"items": items, "next_cursor": next_cursor}


@router.get("/{review_id}", response={200: ReviewResponse, **ERRORS})
@retry_reads
def get_review(request, review_id: int):
    return get_alive(HITLReview.objects.select_related("reviewed_by"), pk=review_id)
