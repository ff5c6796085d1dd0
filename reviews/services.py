"""The claim workflow (PRODUCT.md section 3). Each function is one transaction with one `now`.

Races are settled by the database: every state change is a conditional UPDATE whose WHERE
clause restates who may make it, and its row count says whether they did. Claim next also
locks its candidate with FOR UPDATE SKIP LOCKED, so concurrent reviewers take different rows
instead of queueing behind one another.
"""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from mediaanalysis.pipeline.models import AnalysisResult
from mediaanalysis.validation import sanitize_text

from . import events
from .models import (
    HELD,
    Decision,
    HITLReview,
    ReviewDraft,
    ReviewEvent,
    ReviewStatus,
    claim_expiry,
)

ENQUEUE_LIMIT = 10_000


class ClaimLost(Exception):
    """The caller does not hold a live claim on the review; the message says why."""


def _record(review_id, kind, actor=None, now=None, **details):
    ReviewEvent.objects.create(
        review_id=review_id, kind=kind, actor=actor, at=now or timezone.now(), details=details
    )


def enqueue(result_ids, priority: int = 0, actor=None) -> int:
    """Open a pending review for each result that has no open review; return how many opened."""
    now = timezone.now()
    result_ids = list(dict.fromkeys(result_ids))[:ENQUEUE_LIMIT]
    with transaction.atomic():
        already_open = set(
            HITLReview.objects.open()
            .filter(analysis_result_id__in=result_ids)
            .values_list("analysis_result_id", flat=True)
        )
        wanted = [rid for rid in result_ids if rid not in already_open]
        # A concurrent enqueue of the same result loses to one_open_review_per_result.
        HITLReview.objects.bulk_create(
            [
                HITLReview(
                    analysis_result_id=rid, priority=priority, created_at=now, updated_at=now
                )
                for rid in wanted
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        opened = list(
            HITLReview.objects.filter(
                analysis_result_id__in=wanted, status=ReviewStatus.PENDING, created_at=now
            ).values_list("pk", flat=True)
        )
        ReviewEvent.objects.bulk_create(
            [
                ReviewEvent(
                    review_id=pk,
                    kind=ReviewEvent.Kind.ENQUEUED,
                    actor=actor,
                    at=now,
                    details={"priority": priority},
                )
                for pk in opened
            ],
            batch_size=1000,
        )
        events.reviews_enqueued(opened, priority, actor, now)
    return len(opened)


def enqueue_if_doubtful(result: AnalysisResult, created: bool = False) -> bool:
    """The automatic rule: a result below REVIEW_CONFIDENCE_THRESHOLD goes to review once,
    and a result changed after a needs-changes decision goes round again. A result just
    `created` has no reviews yet: its rule asks no query unless it is doubtful."""
    if result.deleted_at is not None:
        return False
    reviews = HITLReview.objects.filter(analysis_result=result)
    last = None if created else reviews.order_by("-created_at", "-id").first()
    if last is None:
        doubtful = (
            result.confidence_score is not None
            and result.confidence_score < settings.REVIEW_CONFIDENCE_THRESHOLD
        )
        return doubtful and enqueue([result.pk]) == 1
    if last.status == ReviewStatus.COMPLETED and last.approved == Decision.NEEDS_CHANGES:
        return enqueue([result.pk], priority=last.priority) == 1
    return False


def _lock_reviewer(user) -> None:
    """One claim at a time per reviewer, even from two tabs clicking at once."""
    list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk"))


def _take(review: HITLReview, user, now) -> bool:
    """Claim `review` for `user` if it is still claimable; record how. True if they won.

    The conditional UPDATE is what makes this correct on SQLite too, where FOR UPDATE does not
    exist: its row count says whether this reviewer won.
    """
    won = (
        HITLReview.objects.claimable(now)
        .filter(pk=review.pk)
        .update(
            status=ReviewStatus.CLAIMED,
            claimed_by=user,
            claimed_at=now,
            claim_expires_at=claim_expiry(now),
            updated_at=now,
        )
    )
    if won:
        if review.claimed_by_id is not None:
            _record(
                review.pk,
                ReviewEvent.Kind.TAKEN_OVER,
                user,
                now,
                previous_holder=review.claimed_by_id,
            )
        else:
            _record(review.pk, ReviewEvent.Kind.CLAIMED, user, now)
        review.status, review.claimed_by = ReviewStatus.CLAIMED, user
        review.claimed_at, review.claim_expires_at = now, claim_expiry(now)
    return bool(won)


# Claim next on PostgreSQL in one statement: the review the reviewer already holds, if any;
# else lock the head of the queue (skipping rows others are claiming), claim it, and record the
# audit event. The head is `claimable(now)` itself, compiled by the ORM, so the rule has one
# definition; it reads idx_hitl_queue in order. Statuses and event kinds are the models' own.
CLAIM_NEXT = f"""
WITH held AS (
    SELECT *, NULL::integer AS previous_holder FROM hitl_reviews
     WHERE claimed_by = %s AND status IN ('{ReviewStatus.CLAIMED}', '{ReviewStatus.REVIEWING}')
       AND claim_expires_at > %s AND deleted_at IS NULL
     LIMIT 1
), head AS ({{head}}), taken AS (
    UPDATE hitl_reviews AS review
       SET status = '{ReviewStatus.CLAIMED}', claimed_by = %s, claimed_at = %s,
           claim_expires_at = %s, updated_at = %s
      FROM head
     WHERE review.id = head.id AND NOT EXISTS (SELECT FROM held)
 RETURNING review.*, head.claimed_by AS previous_holder
), audit AS (
    INSERT INTO hitl_review_events (review_id, kind, actor_id, at, details)
    SELECT id,
           CASE WHEN previous_holder IS NULL THEN '{ReviewEvent.Kind.CLAIMED}'
                ELSE '{ReviewEvent.Kind.TAKEN_OVER}' END,
           %s, %s,
           CASE WHEN previous_holder IS NULL THEN '{{{{}}}}'::jsonb
                ELSE jsonb_build_object('previous_holder', previous_holder) END
      FROM taken
)
SELECT * FROM held UNION ALL SELECT * FROM taken
"""


def _claim_next_in_one_statement(user, now) -> HITLReview | None:
    head = (
        HITLReview.objects.claimable(now)
        .select_for_update(skip_locked=True, of=("self",))
        .values("id", "claimed_by")[:1]
    )
    head_sql, head_params = head.query.sql_with_params()
    expires = claim_expiry(now)
    params = [user.pk, now, *head_params, user.pk, now, expires, now, user.pk, now]
    return next(iter(HITLReview.objects.raw(CLAIM_NEXT.format(head=head_sql), params)), None)


def claim_next(user) -> HITLReview | None:
    """Hand `user` the review they already hold, or the next one in queue order; None if empty."""
    now = timezone.now()
    with transaction.atomic():
        _lock_reviewer(user)
        if connection.vendor == "postgresql":
            if review := _claim_next_in_one_statement(user, now):
                return review
        elif held := HITLReview.objects.held_by(user, now).first():
            return held
        # SKIP LOCKED: concurrent reviewers each take a different head of the queue.
        for _attempt in range(10):
            candidate = (
                HITLReview.objects.claimable(now).select_for_update(skip_locked=True).first()
            )
            if candidate is None:
                # Every claimable row is locked (others claiming the last few, or the tidy-up
                # releasing them): wait for those locks rather than call a full queue empty.
                candidate = HITLReview.objects.claimable(now).select_for_update().first()
            if candidate is None:
                return None
            if _take(candidate, user, now):
                return candidate
    return None


def _held(review_id, user, now):
    return HITLReview.objects.held_by(user, now).filter(pk=review_id)


def why_not_held(review_id, user, now=None) -> str:
    """A reviewer-facing sentence on why `user` holds no live claim on the review."""
    now = now or timezone.now()
    review = (
        HITLReview.all_objects.select_related("claimed_by", "reviewed_by")
        .filter(pk=review_id)
        .first()
    )
    if review is None or review.deleted_at is not None:
        return "This review has been deleted."
    if review.status == ReviewStatus.COMPLETED:
        who = review.reviewed_by.get_username() if review.reviewed_by else "someone"
        return f"This review was already decided by {who}."
    if review.status in HELD and review.claimed_by_id != user.pk:
        holder = review.claimed_by.get_username()
        if review.claim_expires_at <= now:
            return f"The claim by {holder} has expired. Claim this review to decide."
        if _last_claim_event(review).kind == ReviewEvent.Kind.REASSIGNED:
            return f"An admin has reassigned this review to {holder}."
        if _has_held(review, user):
            return f"Your claim expired and {holder} has taken this review over."
        return f"This review is claimed by {holder}, not by you."
    if review.status in HELD:
        return "Your claim on this review has expired. Claim it again to decide."
    return "You do not hold a claim on this review. Claim it first."


def _last_claim_event(review) -> ReviewEvent:
    """How the current holder got the review: claimed, taken over, or reassigned to them."""
    kinds = [ReviewEvent.Kind.CLAIMED, ReviewEvent.Kind.TAKEN_OVER, ReviewEvent.Kind.REASSIGNED]
    return review.events.filter(kind__in=kinds).order_by("-at", "-id").first() or ReviewEvent()


def _has_held(review, user) -> bool:
    """Whether `user` ever held a claim on the review (so lost it, rather than never had it)."""
    return review.events.filter(
        Q(kind__in=[ReviewEvent.Kind.CLAIMED, ReviewEvent.Kind.TAKEN_OVER], actor=user)
        | Q(kind=ReviewEvent.Kind.REASSIGNED, details__assignee=user.pk)
    ).exists()


def save_draft(review_id, user, notes: str, corrections: str, approved: str = "") -> bool:
    """Keep what the reviewer typed, whatever happens to their claim.

    Text the database cannot store (a NUL character, a lone surrogate) is kept with those
    characters replaced by U+FFFD; returns True when that happened, so the page can say so.
    """
    if not (notes or corrections):
        return False
    stored_notes, stored_corrections = sanitize_text(notes), sanitize_text(corrections)
    ReviewDraft.objects.update_or_create(
        review_id=review_id,
        user=user,
        defaults={
            "notes": stored_notes,
            "corrections": stored_corrections,
            "approved": approved if approved in Decision.values else "",
            "saved_at": timezone.now(),
        },
    )
    return (stored_notes, stored_corrections) != (notes, corrections)


def heartbeat(review_id, user, notes: str = "", corrections: str = "") -> HITLReview:
    """Renew a live claim (claimed -> reviewing). The typed text is kept as a draft first, in
    its own transaction, so it survives even when the renewal is refused."""
    now = timezone.now()
    # A beat still in flight when the reviewer's own decision lands keeps no stale draft.
    if not HITLReview.objects.filter(
        pk=review_id, status=ReviewStatus.COMPLETED, reviewed_by=user
    ).exists():
        save_draft(review_id, user, notes, corrections)
    with transaction.atomic():
        renewed = _held(review_id, user, now).update(
            status=ReviewStatus.REVIEWING, claim_expires_at=claim_expiry(now), updated_at=now
        )
        if renewed:
            _record(review_id, ReviewEvent.Kind.RENEWED, user, now)
    if not renewed:
        raise ClaimLost(why_not_held(review_id, user, now))
    return HITLReview.objects.get(pk=review_id)


def claim(review_id, user) -> HITLReview:
    """Claim one particular review, if it is pending or its claim has expired (say, to pick up
    one's own expired claim again). A reviewer holding another live claim must finish it first."""
    now = timezone.now()
    with transaction.atomic():
        _lock_reviewer(user)
        held = HITLReview.objects.held_by(user, now).first()
        if held is not None and held.pk != review_id:
            raise ClaimLost(f"You already hold review #{held.pk}; decide or release it first.")
        if held is not None:
            return held
        review = HITLReview.objects.claimable(now).select_for_update().filter(pk=review_id).first()
        if review is not None and _take(review, user, now):
            return review
    raise ClaimLost(why_not_held(review_id, user, now))


def release(review_id, user) -> None:
    """Give the review back to the queue."""
    now = timezone.now()
    with transaction.atomic():
        released = _held(review_id, user, now).back_to_queue(now)
        if not released:
            raise ClaimLost(why_not_held(review_id, user, now))
        _record(review_id, ReviewEvent.Kind.RELEASED, user, now)


def decide(
    review_id, user, approved: str, notes: str, corrections, corrections_text: str = ""
) -> None:
    """Record the decision, only from the reviewer holding the live claim.

    Refused, the reviewer's notes and corrections are kept as their draft and ClaimLost says why.
    """
    now = timezone.now()
    subject = events.decision_subject(review_id)  # outside the transaction: it only reads
    with transaction.atomic():
        decided = _held(review_id, user, now).update(
            status=ReviewStatus.COMPLETED,
            approved=approved,
            reviewer_notes=notes,
            corrections=corrections,
            reviewed_at=now,
            reviewed_by=user,
            updated_at=now,
        )
        if decided:
            ReviewDraft.objects.filter(review_id=review_id, user=user).delete()
            _record(review_id, ReviewEvent.Kind.DECIDED, user, now, approved=approved)
            events.review_decided(review_id, subject, user, approved, notes, corrections, now)
            return
        reason = why_not_held(review_id, user, now)
        save_draft(review_id, user, notes, corrections_text, approved)
        _record(review_id, ReviewEvent.Kind.REFUSED, user, now, approved=approved, reason=reason)
    raise ClaimLost(reason)


def release_expired_claims() -> int:
    """Tidy the status column: expired claims go back to pending. Correctness never needs it.

    Safe beside live claiming: rows being claimed are skipped (SKIP LOCKED), and the UPDATE
    restates the expiry, so a claim renewed meanwhile is left alone.
    """
    now = timezone.now()
    with transaction.atomic():
        expired = list(
            HITLReview.objects.expired_claims(now)
            .select_for_update(skip_locked=True)
            .values_list("pk", "claimed_by_id")
        )
        pks = [pk for pk, _ in expired]
        HITLReview.objects.expired_claims(now).filter(pk__in=pks).back_to_queue(now)
        ReviewEvent.objects.bulk_create(
            [
                ReviewEvent(
                    review_id=pk,
                    kind=ReviewEvent.Kind.EXPIRED,
                    at=now,
                    details={"previous_holder": holder},
                )
                for pk, holder in expired
            ]
        )
    return len(pks)


def force_release(review_ids, admin) -> int:
    now = timezone.now()
    with transaction.atomic():
        held = list(
            HITLReview.objects.filter(pk__in=review_ids, status__in=HELD)
            .select_for_update()
            .values_list("pk", "claimed_by_id")
        )
        HITLReview.objects.filter(pk__in=[pk for pk, _ in held], status__in=HELD).back_to_queue(now)
        for pk, holder in held:
            _record(pk, ReviewEvent.Kind.FORCE_RELEASED, admin, now, previous_holder=holder)
    return len(held)


def reassign(review_ids, admin, assignee) -> int:
    """Give open reviews to `assignee` with a fresh claim."""
    now = timezone.now()
    with transaction.atomic():
        open_reviews = list(
            HITLReview.objects.open()
            .filter(pk__in=review_ids)
            .select_for_update()
            .values_list("pk", "claimed_by_id")
        )
        HITLReview.objects.open().filter(pk__in=[pk for pk, _ in open_reviews]).update(
            status=ReviewStatus.CLAIMED,
            claimed_by=assignee,
            claimed_at=now,
            claim_expires_at=claim_expiry(now),
            updated_at=now,
        )
        for pk, holder in open_reviews:
            _record(
                pk,
                ReviewEvent.Kind.REASSIGNED,
                admin,
                now,
                previous_holder=holder,
                assignee=assignee.pk,
            )
    return len(open_reviews)


@dataclass
class ReopenOutcome:
    reopened: int
    refused: list[int]


def reopen(review_ids, admin) -> ReopenOutcome:
    """Send decided reviews back to pending, unless their result has another open review."""
    now = timezone.now()
    outcome = ReopenOutcome(0, [])
    for review in HITLReview.objects.filter(pk__in=review_ids, status=ReviewStatus.COMPLETED):
        try:
            with transaction.atomic():
                # The decider's old claim goes too, or the next claim would read as a takeover.
                HITLReview.objects.filter(
                    pk=review.pk, status=ReviewStatus.COMPLETED
                ).back_to_queue(now, approved=None, reviewed_at=None, reviewed_by=None)
                _record(
                    review.pk,
                    ReviewEvent.Kind.REOPENED,
                    admin,
                    now,
                    approved=review.approved,
                    reviewed_by=review.reviewed_by_id,
                    reviewer_notes=review.reviewer_notes,
                )
            outcome.reopened += 1
        except IntegrityError:
            outcome.refused.append(review.pk)
    return outcome
