"""Human-in-the-loop review of analysis results (docs/design.md, The review workflow)."""

import math
from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Case, Count, Exists, OuterRef, Q, Value, When
from django.db.models.expressions import RawSQL
from django.utils import timezone

from mediaanalysis.http import pk_address
from mediaanalysis.pipeline.models import AnalysisResult
from mediaanalysis.pipeline.softdelete import AliveManager, SoftDeleteModel, SoftDeleteQuerySet
from mediaanalysis.validation import StoredJSONDecoder


class ReviewStatus(models.TextChoices):
    PENDING = "pending"
    CLAIMED = "claimed"
    REVIEWING = "reviewing"
    COMPLETED = "completed"


class Decision(models.TextChoices):
    YES = "yes", "Approved"
    NO = "no", "Rejected"
    NEEDS_CHANGES = "needs_changes", "Needs changes"


class Round(models.IntegerChoices):
    """Which look at a result a review is (docs/quality.md)."""

    FIRST = 1, "First review"
    SECOND = 2, "Second review (blind)"
    ADJUDICATION = 3, "Adjudication"


class Reason(models.TextChoices):
    """Why a review was opened; `reason_details` holds the figures behind it (docs/quality.md)."""

    UNRECORDED = "unrecorded", "Not recorded (opened before reasons were kept)"
    LOW_CONFIDENCE = "low_confidence", "Low confidence"
    SPOT_CHECK = "spot_check", "Spot check"
    CHANGED = "changed", "Changed after “needs changes”"
    MANUAL = "manual", "Sent by a person"
    SECOND_REVIEW = "second_review", "Second review"
    ADJUDICATION = "adjudication", "Adjudication of a disagreement"
    GOLD = "gold", "Gold check"


HELD = [ReviewStatus.CLAIMED, ReviewStatus.REVIEWING]
# The queue's order, which idx_hitl_queue and idx_hitl_pending are in.
QUEUE_ORDER = ("-priority", "created_at", "id")
OPEN = [ReviewStatus.PENDING, *HELD]


def claim_expiry(now):
    """When a claim taken or renewed at `now` runs out (REVIEW_CLAIM_TTL)."""
    return now + timedelta(seconds=settings.REVIEW_CLAIM_TTL)


def _literal(status):
    """A status as an SQL literal (one of the model's own choices, never user input)."""
    assert status in ReviewStatus.values
    return RawSQL(f"'{status}'", ())


class HITLReviewQuerySet(SoftDeleteQuerySet):
    def of_outer_result(self):
        """The reviews of the outer query's result, newest first: for subqueries of results."""
        return self.filter(analysis_result=OuterRef("pk")).order_by("-created_at", "-id")

    def open(self):
        return self.filter(status__in=OPEN)

    def claimable(self, now):
        """Pending reviews and expired claims, in queue order: highest priority, then oldest.

        An expired claim is claimable at once; no cron job has to run first.
        The order matches idx_hitl_queue, so the claim reads the head of one partial index.
        """
        # Spelled as ORs of equalities, not IN: PostgreSQL can then prove that the query only
        # wants rows of idx_hitl_queue's partial predicate, and reads that index in order. The
        # statuses are written into the SQL, not bound, so that this holds for a claim's
        # generic plan too (services._claim_next_in_one_statement).
        expired = Q(claim_expires_at__lte=now)
        return (
            self.alive()
            .filter(
                Q(status=_literal(ReviewStatus.PENDING))
                | (Q(status=_literal(ReviewStatus.CLAIMED)) & expired)
                | (Q(status=_literal(ReviewStatus.REVIEWING)) & expired)
            )
            .order_by(*QUEUE_ORDER)
        )

    def claimable_split(self, now):
        """claimable(now) as two QuerySets of which at most one has rows, for claim next.

        The first is the pending reviews alone (idx_hitl_pending), as long as no claim has
        lapsed; the second is claimable(now) itself, once one has. A claim then reads the
        head of the pending reviews without walking past the live claims, which sit at the
        head of idx_hitl_queue. Each side's test of lapsed claims is a one-time check of
        idx_hitl_open_status that PostgreSQL makes before reading its side.
        """
        claimed, reviewing = (
            Exists(self.model.objects.filter(status=_literal(status), claim_expires_at__lte=now))
            for status in HELD
        )
        pending = (
            self.alive()
            .filter(~claimed, ~reviewing, status=_literal(ReviewStatus.PENDING))
            .order_by(*QUEUE_ORDER)
        )
        return pending, self.claimable(now).filter(claimed | reviewing)

    def for_reviewer(self, user):
        """Without the blind reviews `user` may not take: a second review, an adjudication or a
        gold check of a result they have already decided. So the first reviewer never second-
        reviews their own decision, and neither of the two adjudicates it."""
        decided_by_user = HITLReview.all_objects.filter(
            analysis_result=OuterRef("analysis_result"),
            reviewed_by=user,
            status=ReviewStatus.COMPLETED,
        )
        # Round 1 rows never reach the subquery: the head of the queue stays one index read.
        return self.exclude(Q(round__gt=Round.FIRST) & Exists(decided_by_user))

    def not_skipped_by(self, user, now, since=None):
        """Without the reviews `user` skipped in the last REVIEW_SKIP_SECONDS (since `since`),
        so that a skipped item does not come straight back to them (idx_hitl_event_skips:
        their recent skips)."""
        if since is None:
            since = now - timedelta(seconds=settings.REVIEW_SKIP_SECONDS)
        skipped = ReviewEvent.objects.filter(
            kind=ReviewEvent.Kind.SKIPPED, actor=user, at__gt=since
        ).values("review_id")
        return self.exclude(pk__in=skipped)

    def queue_for(self, user, now, since=None):
        """The queue as `user` sees it and claims from it: claimable(now), without the blind
        reviews they may not take and the ones they just skipped. A lane filters this."""
        return self.claimable(now).for_reviewer(user).not_skipped_by(user, now, since)

    def live_claims(self, now):
        return self.alive().filter(status__in=HELD, claim_expires_at__gt=now)

    def held_by(self, user, now):
        return self.live_claims(now).filter(claimed_by=user)

    def recent_decisions(self, user):
        """The user's latest decisions, newest first (idx_hitl_reviewer_recent)."""
        return (
            self.filter(reviewed_by=user, status=ReviewStatus.COMPLETED)
            .select_related("analysis_result")
            .order_by("-reviewed_at")
        )

    def expired_claims(self, now):
        return self.alive().filter(status__in=HELD, claim_expires_at__lte=now)

    def back_to_queue(self, now, **also) -> int:
        """Send these reviews back to pending with no claim (and `also` changed); return how
        many went."""
        return self.update(
            status=ReviewStatus.PENDING,
            claimed_by=None,
            claimed_at=None,
            claim_expires_at=None,
            updated_at=now,
            **also,
        )

    def open_counts(self, now) -> dict:
        """Pending reviews, live claims and expired claims among these reviews.

        Unfiltered, each is counted in idx_hitl_open_status without visiting the table.
        """
        expired = Q(claim_expires_at__lte=now)
        counts = {"pending": self.alive().filter(status=ReviewStatus.PENDING).count()}
        counts |= (
            self.alive()
            .filter(status__in=HELD)
            .aggregate(  # a held claim always has an expiry (hitl_claim_has_holder)
                claimed=Count("claim_expires_at", filter=~expired),
                expired=Count("claim_expires_at", filter=expired),
            )
        )
        return counts

    def queue_counts(self, user, now) -> dict:
        """The queue page's figures: open_counts(), and today's decisions (a range of
        idx_hitl_reviewed_at)."""
        counts = self.open_counts(now)
        today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
        counts |= (
            self.alive()
            .filter(reviewed_at__gte=today)
            .aggregate(
                decided_today=Count("pk"),
                decided_today_by_me=Count("pk", filter=Q(reviewed_by=user)),
            )
        )
        return counts

    def for_page(self):
        return self.select_related(
            "analysis_result__job__media_file",
            "analysis_result__media_file",
            "claimed_by",
            "reviewed_by",
        )

    def for_queue(self):
        return self.select_related(
            "analysis_result__media_file", "analysis_result__job__media_file"
        ).only(
            "id",
            "status",
            "priority",
            "created_at",
            "claim_expires_at",
            "claimed_by_id",
            "analysis_result__id",
            "analysis_result__analysis_type",
            "analysis_result__model_used",
            "analysis_result__confidence_score",
            "round",
            "reason",
            "reason_details",
            "analysis_result__media_file__original_filename",
            "analysis_result__job__media_file__original_filename",
        )


class HITLReview(SoftDeleteModel):
    """One review of one analysis result: claimed by a reviewer, then decided."""

    analysis_result = models.ForeignKey(
        AnalysisResult, on_delete=models.CASCADE, related_name="reviews", db_index=False
    )
    status = models.CharField(
        max_length=50,
        choices=ReviewStatus,
        default=ReviewStatus.PENDING,
        db_default=ReviewStatus.PENDING,
    )
    priority = models.IntegerField(default=0, db_default=0, help_text="higher goes first")
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_column="claimed_by",
        db_index=False,  # idx_hitl_claim leads with it
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    reviewer_notes = models.TextField(null=True, blank=True)
    corrections = models.JSONField(null=True, blank=True, decoder=StoredJSONDecoder)
    # The seed says String(10), but its own value "needs_changes" has 13 characters.
    approved = models.CharField(max_length=13, choices=Decision, null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_column="reviewed_by",
        db_index=False,  # idx_hitl_reviewer_recent leads with it
    )
    # Quality (docs/quality.md): which look at the result this is, why it was opened, the
    # review it follows up (a second review's first, an adjudication's second), and for a gold
    # check the known answer it is scored against.
    round = models.PositiveSmallIntegerField(choices=Round, default=Round.FIRST, db_default=1)
    reason = models.CharField(
        max_length=20, choices=Reason, default=Reason.UNRECORDED, db_default=Reason.UNRECORDED
    )
    reason_details = models.JSONField(null=True, blank=True)
    previous_review = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="follow_ups",
        db_index=False,  # idx_hitl_previous_review, over the few rows that have one
    )
    # The decision this review follows up, as it stood when this one opened (set on creation):
    # agreement is read from one row, not by looking each first review up (docs/performance.md,
    # "Review quality"). Blind review: never shown to this review's reviewer.
    previous_decision = models.CharField(
        max_length=13, choices=Decision, null=True, blank=True, editable=False
    )
    gold_item = models.ForeignKey(
        "GoldItem",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reviews",
        db_index=False,  # idx_hitl_gold_item, over the few rows that have one
    )

    objects = AliveManager.from_queryset(HITLReviewQuerySet)()
    all_objects = HITLReviewQuerySet.as_manager()

    class Meta(SoftDeleteModel.Meta):
        db_table = "hitl_reviews"
        verbose_name = "HITL review"
        permissions = [
            ("claim_hitlreview", "Can claim and decide reviews"),
            ("enqueue_hitlreview", "Can send results to review"),
            ("adjudicate_hitlreview", "Can decide adjudications of disagreements"),
            (
                "view_blind_hitlreview",
                "Can see every decision, also of results under blind review, and gold items",
            ),
        ]
        indexes = [
            models.Index(fields=["status"], name="idx_hitl_status"),
            models.Index(fields=["analysis_result"], name="idx_hitl_result"),
            models.Index(fields=["claimed_by", "claim_expires_at"], name="idx_hitl_claim"),
            # Claim next reads the head of this index: open reviews in queue order.
            models.Index(
                fields=["-priority", "created_at", "id"],
                name="idx_hitl_queue",
                condition=Q(status__in=OPEN, deleted_at__isnull=True),
            ),
            # ...and, while no claim has lapsed, the head of this one (claimable_split).
            models.Index(
                fields=["-priority", "created_at", "id"],
                name="idx_hitl_pending",
                condition=Q(status=ReviewStatus.PENDING, deleted_at__isnull=True),
            ),
            models.Index(fields=["reviewed_at"], name="idx_hitl_reviewed_at"),
            # The queue page's counts of pending reviews and of live and expired claims.
            models.Index(
                fields=["status", "claim_expires_at"],
                name="idx_hitl_open_status",
                condition=Q(status__in=OPEN, deleted_at__isnull=True),
            ),
            # A reviewer's recent decisions on the queue page (docs/performance.md); it also
            # serves the foreign key.
            models.Index(fields=["reviewed_by", "-reviewed_at"], name="idx_hitl_reviewer_recent"),
            models.Index(
                fields=["previous_review"],
                name="idx_hitl_previous_review",
                condition=Q(previous_review__isnull=False),
            ),
            models.Index(
                fields=["gold_item"],
                name="idx_hitl_gold_item",
                condition=Q(gold_item__isnull=False),
            ),
            # Decided second reviews by when, with what agreement needs: the dashboard's
            # agreement and the results lists its figures link to read the window from it alone.
            models.Index(
                fields=["reviewed_at"],
                include=["analysis_result", "approved", "previous_decision", "reviewed_by"],
                name="idx_hitl_decided_seconds",
                condition=Q(
                    round=Round.SECOND,
                    status=ReviewStatus.COMPLETED,
                    deleted_at__isnull=True,
                    gold_item__isnull=True,
                    previous_review__isnull=False,
                ),
            ),
            # The dashboard's open adjudications, oldest first, and their count
            # (docs/performance.md, "Review quality").
            models.Index(
                fields=["created_at", "id"],
                name="idx_hitl_open_adjudications",
                condition=Q(round=Round.ADJUDICATION, status__in=OPEN, deleted_at__isnull=True),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["analysis_result", "round"],
                condition=Q(status__in=OPEN, deleted_at__isnull=True),
                name="one_open_review_per_result_and_round",
                violation_error_message="This result already has an open review in this round.",
            ),
            # A range, not IN (1, 2, 3): SQLite's introspection splits a table's SQL on ", ".
            models.CheckConstraint(
                condition=Q(round__gte=Round.FIRST, round__lte=Round.ADJUDICATION),
                name="hitl_round_valid",
            ),
            # A gold check looks like a second review to the reviewer (docs/quality.md).
            models.CheckConstraint(
                condition=Q(gold_item__isnull=True) | Q(round=Round.SECOND),
                name="hitl_gold_is_round_2",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ReviewStatus.values), name="hitl_status_valid"
            ),
            models.CheckConstraint(
                condition=(Q(status=ReviewStatus.COMPLETED) & Q(approved__in=Decision.values))
                | (~Q(status=ReviewStatus.COMPLETED) & Q(approved__isnull=True)),
                name="hitl_decision_iff_completed",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=HELD)
                | Q(claimed_by__isnull=False, claim_expires_at__isnull=False),
                name="hitl_claim_has_holder",
            ),
        ]

    def __str__(self):
        return f"Review #{self.pk} of result #{self.analysis_result_id}"

    def save(self, *args, **kwargs):
        if self._state.adding and self.previous_review_id and self.previous_decision is None:
            self.previous_decision = self.previous_review.approved
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return pk_address("review-detail", self.pk)

    @property
    def shown_reason(self) -> str:
        """The reason as reviewers see it: a gold check is shown as the second review it looks
        like, so that nothing tells a reviewer it is scored (docs/quality.md)."""
        return Reason.SECOND_REVIEW if self.reason == Reason.GOLD else self.reason

    def why(self) -> str:
        """Why this item is in the queue, in a sentence a reviewer may read (gold is never
        named: see shown_reason)."""
        details = self.reason_details or {}
        match self.shown_reason:
            case Reason.LOW_CONFIDENCE:
                return (
                    f"Low confidence: the model's {details.get('confidence', 0):.2f} is below"
                    f" the threshold of {details.get('threshold', 0):.2f} for this type and model."
                )
            case Reason.SPOT_CHECK:
                return (
                    "Spot check: a sample of confident results is reviewed too, so that the"
                    " model's calibration keeps being measured."
                )
            case Reason.CHANGED:
                again = f" (needs-changes round {details['round']})" if "round" in details else ""
                return (
                    f"The result changed after a “needs changes” decision: check it again{again}."
                )
            case Reason.MANUAL:
                return f"Sent to review by {details.get('by') or 'a manager'}."
            case Reason.SECOND_REVIEW:
                return (
                    "Second review: decide on your own. A sample of decided results is reviewed"
                    " again, blind, to measure agreement."
                )
            case Reason.ADJUDICATION:
                return "Adjudication: two reviewers disagreed. Both decisions are shown below."
        return ""

    def why_short(self) -> str:
        """why() in a few words, for a queue row."""
        details = self.reason_details or {}
        match self.shown_reason:
            case Reason.LOW_CONFIDENCE:
                return (
                    f"Low confidence: {details.get('confidence', 0):.2f}"
                    f" < {details.get('threshold', 0):.2f}"
                )
            case Reason.MANUAL:
                return f"Sent by {details.get('by') or 'a manager'}"
            case Reason.CHANGED:
                again = f", round {details['round']}" if "round" in details else ""
                return f"Changed after “needs changes”{again}"
            case Reason.UNRECORDED:
                return "—"
        return Reason(self.shown_reason).label

    @property
    def file_name(self) -> str:
        """The reviewed media file's name (the result's own file, else its job's); "" if none."""
        result = self.analysis_result
        media = result.media_file or result.job.media_file
        return media.original_filename if media else ""

    def is_claim_live(self, now=None) -> bool:
        now = now or timezone.now()
        return (
            self.status in HELD
            and self.claim_expires_at is not None
            and self.claim_expires_at > now
        )

    def is_held_by(self, user, now=None) -> bool:
        return self.is_claim_live(now) and self.claimed_by_id == user.pk

    def seconds_left(self, now=None) -> int:
        if not self.is_claim_live(now):
            return 0
        # Rounded up: a page told "0 seconds" must be able to trust that the claim is gone.
        return math.ceil((self.claim_expires_at - (now or timezone.now())).total_seconds())


class ReviewEvent(models.Model):
    """The audit trail: every claim, renewal, release, expiry, takeover and decision."""

    class Kind(models.TextChoices):
        ENQUEUED = "enqueued"
        CLAIMED = "claimed"
        TAKEN_OVER = "taken_over", "Taken over after expiry"
        RENEWED = "renewed"
        RELEASED = "released"
        EXPIRED = "expired", "Expired (released by the tidy-up)"
        DECIDED = "decided"
        REFUSED = "refused", "Decision refused (claim lost)"
        FORCE_RELEASED = "force_released", "Force-released by an admin"
        REASSIGNED = "reassigned"
        REOPENED = "reopened"
        WITHDRAWN = "withdrawn", "Withdrawn (the send to review was undone)"
        PRIORITY_CHANGED = "priority_changed", "Priority changed"
        SKIPPED = "skipped", "Skipped (released for the next in the lane)"

    review = models.ForeignKey(HITLReview, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    details = models.JSONField(default=dict, blank=True, decoder=StoredJSONDecoder)
    # The bulk send that opened the review (ENQUEUED events of a person's send), for its undo.
    batch = models.ForeignKey(
        "EnqueueBatch", null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )

    class Meta:
        db_table = "hitl_review_events"
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["review", "at"], name="idx_hitl_event_review"),
            # A reviewer's recent skips, which their queue leaves out (not_skipped_by).
            models.Index(
                fields=["actor", "at"],
                name="idx_hitl_event_skips",
                condition=Q(kind="skipped"),
            ),
            # The reviewer analytics read the window's events (docs/performance.md, "Review
            # quality").
            models.Index(fields=["at"], name="idx_hitl_event_at"),
        ]

    def __str__(self):
        return (
            f"{self.get_kind_display()} by {self.actor or 'system'} at {self.at:%Y-%m-%d %H:%M:%S}"
        )


class EnqueueBatchQuerySet(models.QuerySet):
    def undoable_by(self, user, now=None):
        """The user's sends to review that may still be undone, newest first."""
        now = now or timezone.now()
        return self.filter(
            actor=user,
            undone_at__isnull=True,
            opened__gt=0,
            created_at__gt=now - timedelta(seconds=settings.ENQUEUE_UNDO_SECONDS),
        ).order_by("-created_at", "-id")


class EnqueueBatch(models.Model):
    """One person's send to review of many results at once, so that it can be undone."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    priority = models.IntegerField()
    opened = models.IntegerField(default=0, help_text="reviews this send opened")
    created_at = models.DateTimeField(default=timezone.now)
    undone_at = models.DateTimeField(null=True, blank=True)

    objects = EnqueueBatchQuerySet.as_manager()

    class Meta:
        db_table = "hitl_enqueue_batches"
        indexes = [models.Index(fields=["actor", "-created_at"], name="idx_enqueue_batch_actor")]

    def __str__(self):
        return f"Send to review #{self.pk}: {self.opened} by {self.actor} at {self.created_at:%Y-%m-%d %H:%M}"

    def undo_until(self):
        return self.created_at + timedelta(seconds=settings.ENQUEUE_UNDO_SECONDS)


class ReviewDraft(models.Model):
    """What a reviewer typed and has not (yet) submitted successfully. Nothing typed is lost."""

    review = models.ForeignKey(HITLReview, on_delete=models.CASCADE, related_name="drafts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    notes = models.TextField(blank=True, default="")
    corrections = models.TextField(blank=True, default="", help_text="as typed, valid JSON or not")
    approved = models.CharField(max_length=13, choices=Decision, blank=True, default="")
    saved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "hitl_review_drafts"
        constraints = [
            models.UniqueConstraint(fields=["review", "user"], name="one_draft_per_reviewer")
        ]

    def __str__(self):
        return f"Draft by {self.user} on review #{self.review_id}"


class RoutingRuleQuerySet(models.QuerySet):
    def matching(self, analysis_type, model_used):
        """The rules that apply to results of this type and model, the most specific first:
        type and model, then the type's, then the model's, then the catch-all. The arguments
        may be OuterRef()s, for a subquery per row."""
        specific = Case(
            When(~Q(analysis_type="") & ~Q(model_used=""), then=Value(3)),
            When(~Q(analysis_type=""), then=Value(2)),
            When(~Q(model_used=""), then=Value(1)),
            default=Value(0),
        )
        return (
            self.filter(Q(analysis_type=analysis_type) | Q(analysis_type=""))
            .filter(Q(model_used=model_used) | Q(model_used=""))
            .annotate(specific=specific)
            .order_by("-specific")
        )


class RoutingRule(models.Model):
    """Review by exception, per analysis type and model (docs/quality.md).

    Results below the confidence threshold go to review; of those at or above it, a sampled
    share goes anyway (spot checks), so that the model's calibration keeps being measured. Of
    decided first reviews, a sampled share gets a blind second review. Where no rule applies,
    the settings REVIEW_CONFIDENCE_THRESHOLD, REVIEW_SPOT_CHECK_RATE and
    REVIEW_SECOND_REVIEW_RATE do.
    """

    analysis_type = models.CharField(
        max_length=50, blank=True, default="", help_text="blank: every analysis type"
    )
    model_used = models.CharField(
        max_length=100, blank=True, default="", help_text="blank: every model"
    )
    confidence_threshold = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="results below it go to review; blank: REVIEW_CONFIDENCE_THRESHOLD",
    )
    spot_check_rate = models.FloatField(
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="share (0 to 1) of results at or above the threshold sent anyway",
    )
    second_review_rate = models.FloatField(
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="share (0 to 1) of decided first reviews that get a blind second review",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RoutingRuleQuerySet.as_manager()

    class Meta:
        db_table = "hitl_routing_rules"
        ordering = ["analysis_type", "model_used"]
        constraints = [
            models.UniqueConstraint(
                fields=["analysis_type", "model_used"],
                name="one_routing_rule_per_type_and_model",
                violation_error_message="There is already a rule for this type and model.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(confidence_threshold__isnull=True)
                    | Q(confidence_threshold__gte=0, confidence_threshold__lte=1)
                )
                & Q(spot_check_rate__gte=0, spot_check_rate__lte=1)
                & Q(second_review_rate__gte=0, second_review_rate__lte=1),
                name="routing_rule_rates_0_1",
            ),
        ]

    def __str__(self):
        return f"{self.analysis_type or 'every type'} · {self.model_used or 'every model'}"


class GoldItem(models.Model):
    """A reviewed result whose right decision is known. Gold checks of it are mixed into the
    reviewers' work (REVIEW_GOLD_RATE), look like any second review, and score each reviewer's
    accuracy on the dashboard (managers only)."""

    analysis_result = models.OneToOneField(
        AnalysisResult, on_delete=models.CASCADE, related_name="gold_item"
    )
    expected_decision = models.CharField(max_length=13, choices=Decision)
    notes = models.TextField(blank=True, default="", help_text="why this is the right decision")
    active = models.BooleanField(default=True, help_text="still mixed into the reviewers' work")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_mixed_at = models.DateTimeField(
        null=True, blank=True, help_text="when a gold check of it last went to the queue"
    )

    class Meta:
        db_table = "hitl_gold_items"
        indexes = [
            models.Index(fields=["last_mixed_at"], name="idx_gold_next", condition=Q(active=True))
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expected_decision__in=Decision.values), name="gold_decision_valid"
            )
        ]

    def __str__(self):
        return f"Gold: result #{self.analysis_result_id} is {self.get_expected_decision_display()}"
