"""The review queue's webhook events (docs/webhooks.md), written in the transaction of the
decision or enqueue they report."""

from mediaanalysis.webhooks.models import EventType
from mediaanalysis.webhooks.services import emit, emit_many

from .models import HITLReview


def decision_subject(review_id) -> dict:
    """What a decision's event says of the result: read before the decision's transaction, so
    the decision itself pays only the event's INSERT. The version is the result's updated_at
    as the reviewer decided on it."""
    row = (
        HITLReview.all_objects.filter(pk=review_id)
        .values("analysis_result_id", "analysis_result__job_id", "analysis_result__updated_at")
        .first()
    ) or {}
    return {
        "result_id": row.get("analysis_result_id"),
        "job_id": row.get("analysis_result__job_id"),
        "result_version": row.get("analysis_result__updated_at"),
    }


def review_decided(review_id, subject: dict, user, approved, notes, corrections, now) -> None:
    emit(
        EventType.REVIEW_DECIDED,
        {
            "review_id": review_id,
            **subject,
            "decision": approved,
            "notes": notes,
            "corrections": corrections,
            "reviewer": user.get_username(),
            "decided_at": now,
        },
    )


def reviews_enqueued(review_ids: list[int], priority: int, actor, now) -> None:
    if not review_ids:
        return
    rows = HITLReview.all_objects.filter(pk__in=review_ids).values_list("pk", "analysis_result_id")
    emit_many(
        EventType.REVIEW_ENQUEUED,
        [
            {
                "review_id": pk,
                "result_id": result_id,
                "priority": priority,
                "enqueued_by": actor.get_username() if actor else None,
                "enqueued_at": now,
            }
            for pk, result_id in rows
        ],
    )
