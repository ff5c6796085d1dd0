"""The claim workflow (docs/design.md, The review workflow). Each function is one transaction with one `now`.

Races are settled by the database: every state change is a conditional UPDATE whose WHERE
clause restates who may make it, and its row count says whether they did. Claim next also
locks its candidate with FOR UPDATE SKIP LOCKED, so concurrent reviewers take different rows
instead of queueing behind one another.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.utils import timezone

from mediaanalysis.db import ByPk, Compiled, custom_plans, generic_plans
from mediaanalysis.pipeline.models import AnalysisResult
from mediaanalysis.validation import sanitize_text

from . import events, quality
from .models import (
    HELD,
    Decision,
    EnqueueBatch,
    GoldItem,
    HITLReview,
    Reason,
    ReviewDraft,
    ReviewEvent,
    ReviewStatus,
    Round,
    claim_expiry,
)

ENQUEUE_LIMIT = 10_000


class ClaimLost(Exception):
    """The caller does not hold a live claim on the review; the message says why."""


def _record(review_id, kind, actor=None, now=None, **details):
    ReviewEvent.objects.create(
        review_id=review_id, kind=kind, actor=actor, at=now or timezone.now(), details=details
    )


def enqueue(
    result_ids,
    priority: int = 0,
    actor=None,
    batch: EnqueueBatch | None = None,
    *,
    reason: str | None = None,
    details: dict | None = None,
) -> int:
    """Open a pending first review for each result that has no open review (of any round);
    return how many opened.

    `reason` says why (Reason; a person's send by default) and `details` the figures behind it
    (docs/quality.md). Gold checks are mixed in at REVIEW_GOLD_RATE of the reviews opened.
    With a `batch` (a person's bulk send), the reviews' ENQUEUED events name it, for its undo.
    """
    now = batch.created_at if batch else timezone.now()
    result_ids = list(dict.fromkeys(result_ids))[:ENQUEUE_LIMIT]
    if reason is None:
        reason = Reason.MANUAL
        details = {"by": actor.get_username(), "by_id": actor.pk} if actor else {}
    with transaction.atomic():
        already_open = set(
            HITLReview.objects.open()
            .filter(analysis_result_id__in=result_ids)
            .values_list("analysis_result_id", flat=True)
        )
        wanted = [rid for rid in result_ids if rid not in already_open]
        # A concurrent enqueue of the same result loses to one_open_review_per_result_and_round.
        HITLReview.objects.bulk_create(
            [
                HITLReview(
                    analysis_result_id=rid,
                    priority=priority,
                    reason=reason,
                    reason_details=details or {},
                    created_at=now,
                    updated_at=now,
                )
                for rid in wanted
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        opened = list(
            HITLReview.objects.filter(
                analysis_result_id__in=wanted,
                status=ReviewStatus.PENDING,
                round=Round.FIRST,
                created_at=now,
            ).values_list("pk", flat=True)
        )
        ReviewEvent.objects.bulk_create(
            [
                ReviewEvent(
                    review_id=pk,
                    kind=ReviewEvent.Kind.ENQUEUED,
                    actor=actor,
                    at=now,
                    details={"priority": priority, "round": Round.FIRST, "reason": reason},
                    batch=batch,
                )
                for pk in opened
            ],
            batch_size=1000,
        )
        events.reviews_enqueued(opened, priority, actor, now, Round.FIRST, reason)
        _mix_in_gold(opened, now)
    return len(opened)


def send_to_review(result_ids, priority: int, actor) -> EnqueueBatch:
    """A person's send of results to review, kept as a batch they may undo for a few minutes
    (ENQUEUE_UNDO_SECONDS). The batch's `opened` says how many reviews it opened."""
    with transaction.atomic():
        batch = EnqueueBatch.objects.create(
            actor=actor, priority=priority, created_at=timezone.now()
        )
        batch.opened = enqueue(result_ids, priority, actor=actor, batch=batch)
        batch.save(update_fields=["opened"])
    return batch


class UndoRefused(Exception):
    """The send cannot be undone (not the sender's, too late, already undone); says why."""


@dataclass
class UndoOutcome:
    withdrawn: int
    kept: int  # claimed, decided or deleted since: left as they are


def undo_enqueue(batch_id, user) -> UndoOutcome:
    """Withdraw the reviews a send opened that are still pending; keep the ones a reviewer
    has claimed or decided since. Each withdrawn review is soft-deleted, with a WITHDRAWN event.

    The pending ones are locked first: a reviewer claiming one of them at the same moment
    either wins (and it is kept) or finds it gone, never both.
    """
    now = timezone.now()
    with transaction.atomic():
        batch = EnqueueBatch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None or batch.actor_id != user.pk:
            raise UndoRefused("Only the person who sent these results to review can undo it.")
        if batch.undone_at is not None:
            raise UndoRefused(
                f"This send to review was already undone at {timezone.localtime(batch.undone_at):%H:%M}."
            )
        if now > batch.undo_until():
            raise UndoRefused(
                f"Too late to undo: a send to review can be undone for "
                f"{settings.ENQUEUE_UNDO_SECONDS // 60} minutes, and this one was sent at "
                f"{timezone.localtime(batch.created_at):%H:%M}."
            )
        opened = HITLReview.all_objects.filter(
            events__batch=batch, events__kind=ReviewEvent.Kind.ENQUEUED
        )
        pending = list(
            opened.alive()
            .filter(status=ReviewStatus.PENDING)
            .select_for_update(of=("self",))
            .values_list("pk", flat=True)
        )
        HITLReview.objects.filter(pk__in=pending).soft_delete(now)
        ReviewEvent.objects.bulk_create(
            [
                ReviewEvent(
                    review_id=pk,
                    kind=ReviewEvent.Kind.WITHDRAWN,
                    actor=user,
                    at=now,
                    details={"batch": batch.pk},
                    batch=batch,
                )
                for pk in pending
            ],
            batch_size=1000,
        )
        batch.undone_at = now
        batch.save(update_fields=["undone_at"])
    return UndoOutcome(withdrawn=len(pending), kept=batch.opened - len(pending))


def set_priority(review_id, admin, priority: int) -> bool:
    """Change a review's priority, recorded in its history; False when it was already that."""
    now = timezone.now()
    with transaction.atomic():
        before = (
            HITLReview.all_objects.select_for_update()
            .filter(pk=review_id)
            .values_list("priority", flat=True)
            .first()
        )
        if before is None or before == priority:
            return False
        HITLReview.all_objects.filter(pk=review_id).update(priority=priority, updated_at=now)
        _record(
            review_id, ReviewEvent.Kind.PRIORITY_CHANGED, admin, now, before=before, after=priority
        )
    return True


def _mix_in_gold(opened: list[int], now) -> int:
    """For each review just opened that falls in the REVIEW_GOLD_RATE sample, open a gold check
    (a round-2 review of a gold item, least recently mixed in first). Costs no query unless the
    sample picks one."""
    count = sum(quality.sampled(pk, "gold", settings.REVIEW_GOLD_RATE) for pk in opened)
    if not count:
        return 0
    items = list(
        GoldItem.objects.filter(active=True, analysis_result__deleted_at__isnull=True)
        .filter(
            ~Exists(HITLReview.objects.open().filter(analysis_result=OuterRef("analysis_result")))
        )
        .order_by(F("last_mixed_at").asc(nulls_first=True), "pk")
        .values_list("pk", "analysis_result_id")[:count]
    )
    HITLReview.objects.bulk_create(
        [
            HITLReview(
                analysis_result_id=result_id,
                round=Round.SECOND,
                reason=Reason.GOLD,
                reason_details={"gold_item": pk},
                gold_item_id=pk,
                created_at=now,
                updated_at=now,
            )
            for pk, result_id in items
        ],
        ignore_conflicts=True,
    )
    GoldItem.objects.filter(pk__in=[pk for pk, _ in items]).update(last_mixed_at=now)
    opened_checks = list(
        HITLReview.objects.filter(
            gold_item_id__in=[pk for pk, _ in items], reason=Reason.GOLD, created_at=now
        ).values_list("pk", flat=True)
    )
    # No webhook: a gold check decides nothing about its result.
    ReviewEvent.objects.bulk_create(
        [
            ReviewEvent(
                review_id=pk,
                kind=ReviewEvent.Kind.ENQUEUED,
                at=now,
                details={"priority": 0, "round": Round.SECOND, "reason": Reason.GOLD},
            )
            for pk in opened_checks
        ]
    )
    return len(opened_checks)


def enqueue_if_doubtful(result: AnalysisResult, created: bool = False) -> bool:
    """Review by exception (docs/quality.md): a result below its routing rule's confidence
    threshold goes to review once, and a sampled share of the others too (spot checks); a
    result changed after a needs-changes decision goes round again. A result just `created`
    has no reviews yet: they are not looked up."""
    if result.deleted_at is not None:
        return False
    reviews = last = None
    if not created:  # building the QuerySet was a fifth of a new result's review rule
        reviews = HITLReview.objects.filter(analysis_result=result, gold_item__isnull=True)
        last = reviews.order_by("-created_at", "-id").first()
    if last is None:
        rule = quality.rule_for(result.analysis_type, result.model_used)
        confidence = result.confidence_score
        facts = {"confidence": confidence, "threshold": rule.threshold, "rule": rule.rule_id}
        if confidence is not None and confidence < rule.threshold:
            return enqueue([result.pk], reason=Reason.LOW_CONFIDENCE, details=facts) == 1
        if quality.sampled(result.pk, "spot-check", rule.spot_check_rate):
            facts["rate"] = rule.spot_check_rate
            return enqueue([result.pk], reason=Reason.SPOT_CHECK, details=facts) == 1
        return False
    if last.status == ReviewStatus.COMPLETED and last.approved == Decision.NEEDS_CHANGES:
        # The needs-changes loop's round: one more than the result's needs-changes decisions.
        asked = reviews.filter(
            round=Round.FIRST, status=ReviewStatus.COMPLETED, approved=Decision.NEEDS_CHANGES
        ).count()
        return (
            enqueue(
                [result.pk],
                priority=last.priority,
                reason=Reason.CHANGED,
                details={"after_review": last.pk, "round": asked + 1},
            )
            == 1
        )
    return False


_REVIEWER_ROW = Compiled(
    lambda pk: get_user_model().objects.select_for_update().filter(pk=pk).values_list("pk"),
    ByPk.MARKER,
)


def _lock_reviewer(user) -> None:
    """One claim at a time per reviewer, even from two tabs clicking at once."""
    _REVIEWER_ROW.first_row(user.pk)


def _take(review: HITLReview, user, now) -> bool:
    """Claim `review` for `user` if it is still claimable; record how. True if they won.

    The conditional UPDATE is what makes this correct on SQLite too, where FOR UPDATE does not
    exist: its row count says whether this reviewer won.
    """
    won = (
        HITLReview.objects.claimable(now)
        .for_reviewer(user)
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
SELECT {{columns}} FROM held UNION ALL SELECT {{columns}} FROM taken
"""
# The claimed review's row, read as the ORM reads it (Compiled.read): raw() worked out the
# columns and their converters again on every claim, 0.2 ms of its CPU (docs/performance.md,
# "The API and claims, measured again (2026-12-02, evening)").
_CLAIMED = ByPk(lambda: HITLReview.all_objects.all()).compiled


def _head(queue):
    return queue.select_for_update(skip_locked=True, of=("self",)).values("id", "claimed_by")[:1]


# The whole queue's head, compiled once: a reviewer without a lane claims with it. It is the
# head of the pending reviews while no claim has lapsed, else the head of claimable(now): the
# two sides of claimable_split(), of which PostgreSQL reads one. Its markers stand for the
# reviewer, now, and the start of the window of their skips.
def _whole_queue_side(side):
    def build(user, now, since):
        queue = HITLReview.objects.claimable_split(now)[side]
        return _head(queue.for_reviewer(user).not_skipped_by(user, now, since))

    return Compiled(
        build, ByPk.MARKER, datetime(1900, 1, 1, tzinfo=UTC), datetime(1900, 1, 2, tzinfo=UTC)
    )


_WHOLE_QUEUE_SIDES = [_whole_queue_side(0), _whole_queue_side(1)]


def _whole_queue_head(user, now) -> tuple[str, list]:
    since = now - timedelta(seconds=settings.REVIEW_SKIP_SECONDS)
    (pending, pending_params), (lapsed, lapsed_params) = (
        side.statement(connection.alias, user.pk, now, since) for side in _WHOLE_QUEUE_SIDES
    )
    return (
        f"SELECT * FROM ({pending}) pending UNION ALL SELECT * FROM ({lapsed}) lapsed LIMIT 1",
        [*pending_params, *lapsed_params],
    )


def _claim_next_in_one_statement(user, now, lane) -> HITLReview | None:
    # The whole queue's statement never changes, and its plan does not depend on its values
    # (the head of idx_hitl_queue, read in order): when the claim is a transaction of its
    # own (as a request's is), it is planned once per connection, not per claim. Nested in
    # another transaction, the mode would outlive the claim: it is planned as usual.
    generic = lane is whole_queue and not connection.savepoint_ids
    if lane is whole_queue:
        head_sql, head_params = _whole_queue_head(user, now)
    else:
        head_sql, head_params = _head(
            lane(HITLReview.objects.queue_for(user, now))
        ).query.sql_with_params()
    if generic:
        generic_plans(connection.alias)
    expires = claim_expiry(now)
    params = [user.pk, now, *head_params, user.pk, now, expires, now, user.pk, now]
    claimed = _CLAIMED.read(
        lambda columns: CLAIM_NEXT.format(head=head_sql, columns=columns), params, connection.alias
    )
    if generic and claimed is None:  # the fallback's reads are planned for their values
        custom_plans(connection.alias)
    return claimed


def whole_queue(queryset):
    """The lane of a reviewer who has chosen none."""
    return queryset


def claim_next(user, lane=whole_queue) -> HITLReview | None:
    """Hand `user` the review they already hold, or the head of their lane; None if empty.

    `lane` narrows `queue_for(user, now)` (the reviewer's queue filters: reviews.filters.Lane);
    the rule of who may take what stays in that one queryset.
    """
    now = timezone.now()
    with transaction.atomic():
        _lock_reviewer(user)
        return _claim_next(user, now, lane)


def _claim_next(user, now, lane) -> HITLReview | None:
    if connection.vendor == "postgresql":
        if review := _claim_next_in_one_statement(user, now, lane):
            return review
    elif held := HITLReview.objects.held_by(user, now).first():
        return held
    # SKIP LOCKED: concurrent reviewers each take a different head of the queue.
    claimable = lane(HITLReview.objects.queue_for(user, now))
    for _attempt in range(10):
        candidate = claimable.select_for_update(skip_locked=True, of=("self",)).first()
        if candidate is None:
            # Every claimable row is locked (others claiming the last few, or the tidy-up
            # releasing them): wait for those locks rather than call a full queue empty.
            candidate = claimable.select_for_update(of=("self",)).first()
        if candidate is None:
            return None
        if _take(candidate, user, now):
            return candidate
    return None


def skip(review_id, user, lane=whole_queue) -> HITLReview | None:
    """Give the held review back (recorded as a skip) and claim the head of the lane, in one
    transaction. The skipped review stays out of this reviewer's queue for REVIEW_SKIP_SECONDS
    (not_skipped_by); others may take it at once."""
    now = timezone.now()
    with transaction.atomic():
        _lock_reviewer(user)
        if not _held(review_id, user, now).back_to_queue(now):
            raise ClaimLost(why_not_held(review_id, user, now))
        _record(review_id, ReviewEvent.Kind.SKIPPED, user, now)
        return _claim_next(user, now, lane)


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
    if review.round > Round.FIRST and decided_result(review, user):
        return (
            "You decided this result in an earlier round: its second review and adjudication"
            " are someone else's."
        )
    if review.status in HELD:
        return "Your claim on this review has expired. Claim it again to decide."
    return "You do not hold a claim on this review. Claim it first."


def decided_result(review, user) -> bool:
    return HITLReview.all_objects.filter(
        analysis_result_id=review.analysis_result_id,
        reviewed_by=user,
        status=ReviewStatus.COMPLETED,
    ).exists()


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
        review = (
            HITLReview.objects.claimable(now)
            .for_reviewer(user)
            .select_for_update(of=("self",))
            .filter(pk=review_id)
            .first()
        )
        if review is not None and not may_take(user, review):
            raise ClaimLost("Managers decide adjudications only; reviewers take the rest.")
        if review is not None and _take(review, user, now):
            return review
    raise ClaimLost(why_not_held(review_id, user, now))


def may_take(user, review) -> bool:
    """Reviewers take any review; a manager (who may adjudicate) only adjudications."""
    return user.has_perm("reviews.claim_hitlreview") or (
        review.round == Round.ADJUDICATION and user.has_perm("reviews.adjudicate_hitlreview")
    )


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
    context = quality.decision_context(review_id)  # outside the transaction: it only reads
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
            if not context["gold"]:  # a gold check decides nothing about its result
                events.review_decided(
                    review_id,
                    context["subject"],
                    user,
                    approved,
                    notes,
                    corrections,
                    now,
                    context["round"],
                )
            if follow := quality.follow_up(review_id, context, approved):
                _open_follow_up(review_id, context, follow, now)
            return
        reason = why_not_held(review_id, user, now)
        save_draft(review_id, user, notes, corrections_text, approved)
        _record(review_id, ReviewEvent.Kind.REFUSED, user, now, approved=approved, reason=reason)
    raise ClaimLost(reason)


def _open_follow_up(review_id, context, follow, now) -> int | None:
    """Open the second review or adjudication a decision set off, in the decision's transaction:
    a savepoint, two INSERTs and the webhook event's. Another open review of that round (an
    admin reopened the first decision meanwhile) keeps its place; this one is not opened."""
    result_id = context["subject"]["result_id"]
    try:
        with transaction.atomic():
            opened = HITLReview.objects.create(
                analysis_result_id=result_id,
                round=follow.round,
                reason=follow.reason,
                reason_details=follow.details,
                previous_review_id=review_id,
                previous_decision=follow.previous_decision,
                priority=context["priority"],
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:
        return None
    _record(
        opened.pk,
        ReviewEvent.Kind.ENQUEUED,
        None,
        now,
        priority=context["priority"],
        round=follow.round,
        reason=follow.reason,
    )
    events.review_enqueued(
        opened.pk, result_id, context["priority"], now, follow.round, follow.reason
    )
    return opened.pk


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
        # Never a second review or adjudication to someone who decided its result already.
        open_reviews = list(
            HITLReview.objects.open()
            .for_reviewer(assignee)
            .filter(pk__in=review_ids)
            .select_for_update(of=("self",))
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


@dataclass
class GoldOutcome:
    marked: int
    undecided: list[int]  # results with no decision to take as the known answer


def mark_gold(result_ids, admin) -> GoldOutcome:
    """Make decided results gold items: their latest decision (an adjudication's, where there
    was one) becomes the known answer that gold checks are scored against."""
    latest = (
        HITLReview.objects.filter(
            analysis_result=OuterRef("pk"), status=ReviewStatus.COMPLETED, gold_item__isnull=True
        )
        .order_by("-reviewed_at", "-id")
        .values("approved")[:1]
    )
    decided = dict(  # in the results' order, so the gold items' are the same on any plan
        AnalysisResult.objects.filter(pk__in=result_ids)
        .annotate(answer=Subquery(latest))
        .order_by("pk")
        .values_list("pk", "answer")
    )
    outcome = GoldOutcome(0, sorted(pk for pk, answer in decided.items() if answer is None))
    with transaction.atomic():
        for pk, answer in decided.items():
            if answer is None:
                continue
            GoldItem.objects.update_or_create(
                analysis_result_id=pk,
                defaults={"expected_decision": answer, "active": True},
                create_defaults={"expected_decision": answer, "created_by": admin},
            )
            outcome.marked += 1
    return outcome
