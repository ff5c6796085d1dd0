"""Filters of the review layer: the queue's lane, and the results list with its review state."""

from datetime import timedelta

import django_filters
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from mediaanalysis.pipeline.filters import ResultFilter, SearchFilter, text_filter
from mediaanalysis.pipeline.models import AnalysisResult

from .models import Decision, HITLReview, ReviewStatus


class ReviewState:
    NEVER, PENDING, APPROVED, REJECTED, NEEDS_CHANGES = (
        "never",
        "pending",
        "approved",
        "rejected",
        "needs_changes",
    )
    CHOICES = [
        (NEVER, "never reviewed"),
        (PENDING, "in the queue"),
        (APPROVED, "approved"),
        (REJECTED, "rejected"),
        (NEEDS_CHANGES, "needs changes"),
    ]
    DECISION = {
        APPROVED: Decision.YES,
        REJECTED: Decision.NO,
        NEEDS_CHANGES: Decision.NEEDS_CHANGES,
    }


class ReviewedResultFilter(ResultFilter):
    """The results list's filters, with the state of each result's latest review."""

    review_state = django_filters.ChoiceFilter(
        choices=ReviewState.CHOICES, empty_label="any", method="filter_review_state", label="Review"
    )

    class Meta(ResultFilter.Meta):
        pass

    def filter_review_state(self, qs, name, value):
        reviews = HITLReview.objects.of_outer_result()
        if value == ReviewState.NEVER:
            return qs.filter(~Exists(reviews))
        if value == ReviewState.PENDING:
            return qs.filter(Exists(reviews.exclude(status=ReviewStatus.COMPLETED)))
        # The latest review's decision, as the list's Review column shows it: a result approved
        # once and rejected on a second review is rejected, and one sent back is pending.
        newer = HITLReview.objects.filter(
            Q(created_at__gt=OuterRef("created_at"))
            | Q(created_at=OuterRef("created_at"), id__gt=OuterRef("id")),
            analysis_result=OuterRef("analysis_result"),
        )
        decided = reviews.filter(
            status=ReviewStatus.COMPLETED, approved=ReviewState.DECISION[value]
        )
        return qs.filter(Exists(decided.filter(~Exists(newer))))


class QueueFilter(django_filters.FilterSet):
    min_priority = django_filters.NumberFilter(
        field_name="priority",
        lookup_expr="gte",
        min_value=-1000,
        max_value=1000,
        label="Priority ≥",
    )
    analysis_type = text_filter("analysis_result__analysis_type", "Analysis type", max_length=50)
    model = text_filter("analysis_result__model_used", "Model", max_length=100)
    older_than = django_filters.NumberFilter(
        method="filter_older_than", min_value=0, max_value=24 * 365, label="Waiting ≥ hours"
    )
    q = SearchFilter(method="filter_q", label="Search")

    class Meta:
        model = HITLReview
        fields = []

    def filter_q(self, qs, name, value):
        return qs.filter(analysis_result__in=AnalysisResult.objects.search(value).values("pk"))

    def filter_older_than(self, qs, name, value):
        return qs.filter(created_at__lte=timezone.now() - timedelta(hours=float(value)))
