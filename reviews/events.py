"""The review queue's webhook events (docs/webhooks.md), written in the transaction of the
decision or enqueue they report."""

from mediaanalysis.webhooks.models import EventType
from mediaanalysis.webhooks.services import emit, emit_many

from .models import HITLReview


def review_decided(
    review_id, subject: dict, user, approved, notes, corrections, now, round_=1
) -> None:
    """`subject` says what the decision is about: read before the decision's transaction
    (quality.decision_context), so the decision itself pays only the event's INSERT. The
    version is the result's updated_at as the reviewer decided on it."""
    emit(
        EventType.REVIEW_DECIDED,
        {
            "review_id": review_id,
            **subject,
            "round": round_,
            "decision": approved,
            "notes": notes,
            "corrections": corrections,
            "reviewer": user.get_username(),
            "decided_at": now,
        },
    )


def reviews_enqueued(
    review_ids: list[int], priority: int, actor, now, round_: int = 1, reason: str = ""
) -> None:
    if not review_ids:
        return
    rows = HITLReview.all_objects.filter(pk__in=review_ids).values_list("pk", "analysis_result_id")
    emit_many(
        EventType.REVIEW_ENQUEUED,
        [_enqueued(pk, result_id, priority, actor, now, round_, reason) for pk, result_id in rows],
    )


def review_enqueued(review_id, result_id, priority, now, round_, reason) -> None:
    """One review the system opened (a second review, an adjudication): one INSERT, no read."""
    emit(
        EventType.REVIEW_ENQUEUED,
        _enqueued(review_id, result_id, priority, None, now, round_, reason),
    )


def _enqueued(review_id, result_id, priority, actor, now, round_, reason) -> dict:
    return {
        "review_id": review_id,
        "result_id": result_id,
        "priority": priority,
        "round": round_,
        "reason": reason,
        "enqueued_by": actor.get_username() if actor else None,
        "enqueued_at": now,
    }
