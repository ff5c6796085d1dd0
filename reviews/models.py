"""Human-in-the-loop review of analysis results (seed section 3.3, PRODUCT.md section 3)."""

import math
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Count, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

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


HELD = [ReviewStatus.CLAIMED, ReviewStatus.REVIEWING]
OPEN = [ReviewStatus.PENDING, *HELD]


def claim_expiry(now):
    """When a claim taken or renewed at `now` runs out (REVIEW_CLAIM_TTL)."""
    return now + timedelta(seconds=settings.REVIEW_CLAIM_TTL)


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
        # wants rows of idx_hitl_queue's partial predicate, and reads that index in order.
        expired = Q(claim_expires_at__lte=now)
        return (
            self.alive()
            .filter(
                Q(status=ReviewStatus.PENDING)
                | (Q(status=ReviewStatus.CLAIMED) & expired)
                | (Q(status=ReviewStatus.REVIEWING) & expired)
            )
            .order_by("-priority", "created_at", "id")
        )

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
        return self.select_related("analysis_result").only(
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

    objects = AliveManager.from_queryset(HITLReviewQuerySet)()
    all_objects = HITLReviewQuerySet.as_manager()

    class Meta(SoftDeleteModel.Meta):
        db_table = "hitl_reviews"
        verbose_name = "HITL review"
        permissions = [
            ("claim_hitlreview", "Can claim and decide reviews"),
            ("enqueue_hitlreview", "Can send results to review"),
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
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["analysis_result"],
                condition=Q(status__in=OPEN, deleted_at__isnull=True),
                name="one_open_review_per_result",
                violation_error_message="This result already has an open review.",
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

    def get_absolute_url(self):
        return reverse("review-detail", args=[self.pk])

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
        indexes = [models.Index(fields=["review", "at"], name="idx_hitl_event_review")]

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
