"""Filters of the review layer: the queue's lane, and the results list with its review state."""

from datetime import timedelta

import django_filters
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from mediaanalysis.pipeline.filters import (
    DateOrDateTimeField,
    ResultFilter,
    SearchFilter,
    range_bound,
    text_filter,
)
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


class DateBoundFilter(django_filters.Filter):
    """A date or datetime bound that the FilterSet's method applies."""

    field_class = DateOrDateTimeField


class ReviewedResultFilter(ResultFilter):
    """The results list's filters, with the state of each result's latest review."""

    review_state = django_filters.ChoiceFilter(
        choices=ReviewState.CHOICES, empty_label="any", method="filter_review_state", label="Review"
    )
    # When a review was decided (the dashboard's window); with a review state, the latest
    # decision's time.
    reviewed_after = DateBoundFilter(method="filter_reviewed", label="Reviewed from")
    reviewed_before = DateBoundFilter(method="filter_reviewed", label="Reviewed to")

    class Meta(ResultFilter.Meta):
        pass

    def _reviewed_window(self) -> Q:
        data = self.form.cleaned_data
        window = Q()
        if (after := range_bound(data.get("reviewed_after"), before=False)) is not None:
            window &= Q(reviewed_at__gte=after)
        if (before := range_bound(data.get("reviewed_before"), before=True)) is not None:
            window &= Q(reviewed_at__lt=before)
        return window

    def filter_reviewed(self, qs, name, value):
        """Results with a decision in the window; both bounds apply to the same review."""
        if name == "reviewed_before" and self.form.cleaned_data.get("reviewed_after"):
            return qs  # applied with reviewed_after
        if self.form.cleaned_data.get("review_state") in ReviewState.DECISION:
            return qs  # the window applies to the review state's decision
        decided = HITLReview.objects.of_outer_result().filter(status=ReviewStatus.COMPLETED)
        return qs.filter(Exists(decided.filter(self._reviewed_window())))

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
            self._reviewed_window(),
            status=ReviewStatus.COMPLETED,
            approved=ReviewState.DECISION[value],
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
