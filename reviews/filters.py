"""Filters of the review layer: the queue's lane, and the results list with its review state."""

from datetime import datetime, time, timedelta

import django_filters
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from mediaanalysis.pipeline.filters import (
    DateOrDateTimeField,
    DrawnByJinja2,
    ResultFilter,
    SearchFilter,
    range_bound,
)
from mediaanalysis.pipeline.models import AnalysisResult
from mediaanalysis.pipeline.queries import distinct_values

from .models import Decision, HITLReview, ReviewStatus, Round


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


class Quality:
    """What the dashboard's quality figures link to (docs/quality.md)."""

    CHOICES = [
        ("second_reviewed", "second-reviewed"),
        ("agreed", "second review agreed"),
        ("disagreed", "second review disagreed"),
        ("adjudicated", "adjudicated"),
        ("overturned", "overturned at adjudication"),
        ("low_confidence", "sent for low confidence"),
        ("spot_check", "spot-checked"),
        ("gold", "gold items"),
        ("gold_checked", "gold checks decided"),
        ("gold_missed", "gold checks missed"),
    ]
    PAIRS = [
        (f"{a}:{b}", f"{la} → {lb}") for a, la in Decision.choices for b, lb in Decision.choices
    ]
    FIELDS = ("quality", "pair", "reviewer", "quality_since")


class ReviewedResultFilter(ResultFilter):
    """The results list's filters, with the state of each result's latest review; managers also
    get the quality filters the dashboard's figures link to."""

    review_state = django_filters.ChoiceFilter(
        choices=ReviewState.CHOICES, empty_label="any", method="filter_review_state", label="Review"
    )
    # When a review was decided (the dashboard's window); with a review state, the latest
    # decision's time.
    reviewed_after = DateBoundFilter(method="filter_reviewed", label="Reviewed from")
    reviewed_before = DateBoundFilter(method="filter_reviewed", label="Reviewed to")
    quality = django_filters.ChoiceFilter(
        choices=Quality.CHOICES, empty_label="any", method="filter_nothing", label="Quality"
    )
    pair = django_filters.ChoiceFilter(
        choices=Quality.PAIRS,
        empty_label="any",
        method="filter_nothing",
        label="First → second decision",
    )
    reviewer = django_filters.CharFilter(
        method="filter_nothing", label="Reviewer", max_length=150, strip=True
    )
    quality_since = DateBoundFilter(method="filter_nothing", label="Quality since")

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

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        # Who decided what, gold items and second reviews are for managers' eyes only: a
        # reviewer never gets these filters (docs/quality.md).
        user = getattr(request, "user", None)
        if user is None or not user.has_perm("reviews.view_blind_hitlreview"):
            for name in Quality.FIELDS:
                self.filters.pop(name)

    def filter_nothing(self, qs, name, value):
        return qs  # the quality fields act together, in filter_queryset

    def filter_queryset(self, queryset):
        qs = super().filter_queryset(queryset)
        data = {name: self.form.cleaned_data.get(name) for name in Quality.FIELDS}
        if "quality" not in self.filters or not any(data.values()):
            return qs
        reviews = quality_reviews(
            data["quality"] or ("second_reviewed" if data["pair"] else ""),
            data["pair"] or "",
            data["reviewer"] or "",
            data["quality_since"],
        )
        return qs.filter(pk__in=reviews.values("analysis_result_id"))

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


class PriorityChoiceField(django_filters.fields.ChoiceField):
    """The priorities the data has, offered as choices; any whole number from -1000 to 1000
    is accepted (a bookmarked lane of a priority nobody has now still means something)."""

    def valid_value(self, value):
        try:
            return -1000 <= int(value) <= 1000
        except (TypeError, ValueError):
            return False

    def clean(self, value):
        value = super().clean(value)
        return int(value) if value not in (None, "") else value


class PriorityFilter(django_filters.ChoiceFilter):
    field_class = PriorityChoiceField


def _priorities():
    """Priority choices from the data: "n or higher" for each priority reviews have."""
    values = sorted(distinct_values(HITLReview, "priority"), reverse=True)
    return [(str(p), f"{p} or higher") for p in values]


def _values(field):
    return lambda: [(v, v) for v in distinct_values(AnalysisResult, field) if v]


class QueueFilter(DrawnByJinja2, django_filters.FilterSet):
    """The reviewer's lane: what "Claim next" and skip take the head of (PRODUCT.md section 3).

    Type, model and priority are chosen from the values the data has; the lane is kept in the
    URL and in the reviewer's session (views.LANE_SESSION_KEY).
    """

    analysis_type = django_filters.ChoiceFilter(
        field_name="analysis_result__analysis_type",
        choices=_values("analysis_type"),
        empty_label="any type",
        label="Analysis type",
    )
    model = django_filters.ChoiceFilter(
        field_name="analysis_result__model_used",
        choices=_values("model_used"),
        empty_label="any model",
        label="Model",
    )
    min_priority = PriorityFilter(
        field_name="priority",
        lookup_expr="gte",
        choices=_priorities,
        empty_label="any priority",
        label="Priority",
    )
    older_than = django_filters.NumberFilter(
        method="filter_older_than", min_value=0, max_value=24 * 365, label="Waiting ≥ hours"
    )
    q = SearchFilter(method="filter_q", label="Search")

    class Meta:
        model = HITLReview
        fields = []

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        wanted = (data or {}).get("min_priority")
        field = self.form.fields["min_priority"]
        if wanted and field.valid_value(wanted) and wanted not in dict(field.choices):
            field.choices = [*field.choices, (wanted, f"{int(wanted)} or higher")]

    def filter_q(self, qs, name, value):
        return qs.filter(analysis_result__in=AnalysisResult.objects.search(value).values("pk"))

    def filter_older_than(self, qs, name, value):
        return qs.filter(created_at__lte=timezone.now() - timedelta(hours=float(value)))

    def lane(self) -> dict:
        """The filters in force, as typed: for the URL and the session. Empty unless valid."""
        if not self.is_bound or not self.is_valid():
            return {}
        return {
            name: self.data[name]
            for name in self.filters
            if self.form.cleaned_data.get(name) not in (None, "") and self.data.get(name)
        }

    def narrow(self, queryset):
        """This lane applied to another queryset of reviews (the claim's, the counts')."""
        return self.filter_queryset(queryset) if self.lane() else queryset

    def describe(self) -> str:
        """The lane in words, e.g. "video · gpt-4o · priority 5 or higher · “goal”"."""
        data = self.form.cleaned_data if self.lane() else {}
        parts = [data.get("analysis_type"), data.get("model")]
        if data.get("min_priority") not in (None, ""):
            parts.append(f"priority {data['min_priority']} or higher")
        if data.get("older_than") is not None:
            parts.append(f"waiting {data['older_than']:g} h or more")
        if self.lane().get("q"):
            parts.append(f"“{self.lane()['q']}”")
        return " · ".join(p for p in parts if p)


def quality_reviews(kind: str, pair: str = "", reviewer: str = "", since=None):
    """The reviews behind a quality figure (docs/quality.md): their results are what it counts.

    `since` bounds when the figure's review was decided (opened, for the reasons); `reviewer`
    is a reviewer whose decision the figure is about.
    """
    if since is not None and not isinstance(since, datetime):
        try:
            since = timezone.make_aware(datetime.combine(since, time.min))
        except (OverflowError, ValueError):
            since = None  # the very edge of the calendar bounds nothing
    decided = HITLReview.objects.filter(status=ReviewStatus.COMPLETED)
    if since is not None:
        decided = decided.filter(reviewed_at__gte=since)
    by = Q(reviewed_by__username=reviewer)
    # The reviewer's own reviews, as a set: not each second review's first looked up in turn.
    first_by = Q(previous_review__in=HITLReview.objects.filter(reviewed_by__username=reviewer))
    if kind in ("low_confidence", "spot_check"):
        opened = HITLReview.objects.filter(round=Round.FIRST, reason=kind)
        if since is not None:
            opened = opened.filter(created_at__gte=since)
        return opened.filter(by) if reviewer else opened
    if kind == "gold":
        return HITLReview.objects.filter(analysis_result__gold_item__isnull=False)
    if kind in ("gold_checked", "gold_missed"):
        checks = decided.filter(gold_item__isnull=False)
        if kind == "gold_missed":
            checks = checks.exclude(approved=F("gold_item__expected_decision"))
        return checks.filter(by) if reviewer else checks
    if kind in ("adjudicated", "overturned"):
        adjudications = decided.filter(round=Round.ADJUDICATION, previous_review__isnull=False)
        first = "previous_review__previous_review__"
        if kind == "overturned" and reviewer:
            return adjudications.filter(
                (
                    Q(**{f"{first}reviewed_by__username": reviewer})
                    & ~Q(approved=F(f"{first}approved"))
                )
                | (
                    Q(previous_review__reviewed_by__username=reviewer)
                    & ~Q(approved=F("previous_review__approved"))
                )
            )
        if reviewer:
            adjudications = adjudications.filter(
                Q(**{f"{first}reviewed_by__username": reviewer})
                | Q(previous_review__reviewed_by__username=reviewer)
            )
        return adjudications
    if not kind:  # the reviewer's decisions, of any round
        return decided.filter(by)
    seconds = decided.filter(
        round=Round.SECOND, gold_item__isnull=True, previous_review__isnull=False
    )
    if kind == "agreed":
        seconds = seconds.filter(approved=F("previous_decision"))
    elif kind == "disagreed":
        seconds = seconds.exclude(approved=F("previous_decision"))
    if pair:
        first, second = pair.split(":")
        seconds = seconds.filter(previous_decision=first, approved=second)
    return seconds.filter(by | first_by) if reviewer else seconds
