"""Every list's query parameters, validated. A bad value is a form error shown on the page; the
other filters still apply."""

import re
from datetime import MAXYEAR, UTC, datetime, time, timedelta

import django_filters
from django import forms
from django.db.models import F, Q
from django.forms.renderers import Jinja2
from django.utils import timezone

from . import search
from .models import (
    AnalysisJob,
    AnalysisResult,
    MediaFile,
    MediaType,
    ProcessingStatus,
    SessionState,
    UserSession,
)
from .queries import distinct_values

YES_NO = [("", "any"), ("true", "yes"), ("false", "no")]
MAX_TEXT = 200
# Every list page draws its filters' widgets, a dozen or more: Jinja2 draws them several times
# faster than Django's template language (docs/performance.md, "Search"). The same widgets, from
# Django's own Jinja2 copies of its widget templates (ours in pipeline/jinja2/).
FILTER_RENDERER = Jinja2()


class PageForm(forms.Form):
    """`page` and `per_page` (1 to 100, as in the seed); `after`, the pager's bookmark of the
    page before: "<its number>:<its last row's id>" (see cursor())."""

    page = forms.IntegerField(min_value=1, max_value=100_000, required=False)
    per_page = forms.IntegerField(min_value=1, max_value=100, required=False)

    def cursor(self) -> int | None:
        """The id of the row the asked-for page follows, if `after` was written for the page
        just before it: the way to a deep page of a search that walks on from there instead of
        counting every match before it (search.newest_matches). None otherwise: a bookmark
        that is not one, or is another page's, is ignored."""
        bookmark = re.fullmatch(r"([0-9]{1,6}):([0-9]{1,10})", self.data.get("after") or "")
        if bookmark is None:
            return None
        number, row = int(bookmark[1]), int(bookmark[2])
        page = self.values()[0]
        return row if number == page - 1 and row < 2**31 else None

    def values(self, default_per_page: int = 25) -> tuple[int, int]:
        data = self.cleaned_data if self.is_valid() else {}
        page = data.get("page") if "page" not in self.errors else None
        per_page = data.get("per_page") if "per_page" not in self.errors else None
        return page or 1, per_page or default_per_page


class MediaForm(forms.Form):
    """`download=1` asks for the media as an attachment."""

    download = forms.TypedChoiceField(
        choices=[("1", "yes"), ("0", "no"), ("true", "yes"), ("false", "no")],
        coerce=lambda value: value in ("1", "true"),
        empty_value=False,
        required=False,
    )

    def wants_download(self) -> bool:
        return self.is_valid() and self.cleaned_data["download"]


class SuggestInput(forms.TextInput):
    """A search box that offers the values its column takes, from a <datalist>."""

    input_type = "search"
    template_name = "widgets/suggest.html"

    def __init__(self, suggestions=None, attrs=None):
        super().__init__(attrs)
        self.suggestions = suggestions  # a callable: read only when the box is drawn

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        if self.suggestions is not None:
            context["widget"]["attrs"]["list"] = f"{context['widget']['attrs']['id']}-suggestions"
            context["widget"]["suggestions"] = self.suggestions()
        return context


class DateOrDateTimeInput(forms.DateInput):
    """An ISO date box (2026-11-01), which also takes a time (2026-11-01 09:30, as dashboard
    links give it).

    A text box, not the browser's date picker: Chromium shows that in the browser's locale
    (11/01/2026 in an American one) whatever the page's `lang`, while the app shows ISO dates.
    """

    input_type = "text"
    format = "%Y-%m-%d"

    def __init__(self, attrs=None):
        super().__init__(
            {
                "placeholder": "YYYY-MM-DD",
                "pattern": r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?",
                "title": "A date as YYYY-MM-DD, optionally with a time: YYYY-MM-DD HH:MM",
                "autocomplete": "off",
                "size": 10,
                **(attrs or {}),
            }
        )


class DateOrDateTimeField(forms.DateTimeField):
    """A date (2026-11-01) or a date and time (2026-11-01T09:30): a date stays a `date`."""

    widget = DateOrDateTimeInput

    def to_python(self, value):
        if isinstance(value, str) and len(value.strip()) <= 10:
            return forms.DateField().to_python(value)
        return super().to_python(value)


class CreatedRangeFilter(django_filters.Filter):
    """created_after is inclusive; created_before given a bare date includes that whole day.

    Compares the raw column with aware datetimes, so the column's index serves the range.
    """

    field_class = DateOrDateTimeField

    def __init__(self, *args, before=False, **kwargs):
        self.before = before
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        moment = range_bound(value, before=self.before)
        if moment is None:
            return qs
        lookup = "lt" if self.before else "gte"
        return qs.filter(**{f"{self.field_name}__{lookup}": moment})


def range_bound(value, *, before: bool) -> datetime | None:
    """The aware moment a date or datetime bound means: a bare date `before` is the next day's
    start (that whole day is in). None for no value, or the very edge of the calendar."""
    if value is None:
        return None
    moment = value
    try:
        if not isinstance(value, datetime):
            moment = datetime.combine(value, time.min) + timedelta(days=1 if before else 0)
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
    except (OverflowError, ValueError):
        return None
    try:
        moment.astimezone(UTC)  # as SQLite's adapter stores it
    except OverflowError:  # off the calendar once in UTC: the calendar's edge on that side
        return (datetime.max if moment.year == MAXYEAR else datetime.min).replace(tzinfo=UTC)
    return moment


class SortFilter(django_filters.OrderingFilter):
    """Ordering by one indexed column, with `id` as the tiebreaker so pages never overlap.

    Empty values sort as PostgreSQL sorts them by default (after every value going up, first
    coming down) on both backends, which is also the order the columns' indexes hold.
    """

    def __init__(self, *args, **kwargs):
        # Set by the column headers; the form keeps it in a hidden input (_filter_buttons.html).
        kwargs.setdefault("widget", forms.HiddenInput)
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        ordering = self.get_ordering_value(value[0])
        if ordering.startswith("-"):
            return qs.order_by(F(ordering[1:]).desc(nulls_first=True), "-id")
        return qs.order_by(F(ordering).asc(nulls_last=True), "id")


class SearchInput(forms.TextInput):
    input_type = "search"


class SearchField(forms.CharField):
    """A full-text search in web-search syntax (docs/search.md), cleaned to a WebSearch."""

    widget = SearchInput(attrs={"placeholder": 'words, "a phrase", -not, OR'})

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", search.MAX_QUERY_LENGTH)
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        try:
            return search.parse(value)
        except search.InvalidSearch as exc:
            raise forms.ValidationError(str(exc), code="invalid_search") from None


class SearchFilter(django_filters.Filter):
    """`q`: results whose texts match. With `method`, another model's rows by their result."""

    field_class = SearchField

    def filter(self, qs, value):
        if value is None:
            return qs
        if self.method is not None:
            return self.method(qs, self.field_name, value)
        return qs.search(value)


class ResultSortFilter(SortFilter):
    """The results' sorts, and `relevance` for a search: the view orders by it, since whether
    the matches are few enough to rank is known only once they are counted."""

    RELEVANCE = "relevance"

    def build_choices(self, fields, labels):
        return [*super().build_choices(fields, labels), (self.RELEVANCE, "Relevance")]

    def filter(self, qs, value):
        if value and value[0] == self.RELEVANCE:
            return qs
        return super().filter(qs, value)


def text_filter(field_name: str, label: str, lookup="exact", max_length=MAX_TEXT, suggest=None):
    """A free-text filter; `suggest` is (model, field) whose values the box offers."""
    suggestions = (lambda: distinct_values(*suggest)) if suggest else None
    return django_filters.CharFilter(
        field_name=field_name,
        lookup_expr=lookup,
        label=label,
        max_length=max_length,
        strip=True,
        widget=SuggestInput(suggestions),
    )


def fraction_filter(lookup: str, label: str):
    return django_filters.NumberFilter(
        field_name="confidence_score",
        lookup_expr=lookup,
        min_value=0,
        max_value=1,
        label=label,
        widget=forms.NumberInput(attrs={"step": "0.01"}),
    )


def _readable(value) -> str:
    if isinstance(value, datetime):
        try:
            return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
        except OverflowError:  # the calendar's first or last day, in a zone past its edge
            return value.isoformat(" ", "minutes")
    return str(value)


# Parameters every list takes besides its filters (PageForm's).
PAGING = ("page", "per_page", "after")


class DrawnByJinja2:
    """A FilterSet whose form draws its widgets with FILTER_RENDERER."""

    def get_form_class(self):
        form = super().get_form_class()
        form.default_renderer = FILTER_RENDERER
        return form


class ListFilterSet(DrawnByJinja2, django_filters.FilterSet):
    """Knows whether any filter is in force (the unfiltered list may show an estimated total),
    which ones, and which parameters it did not understand."""

    SORTS: dict = {}

    def is_filtered(self) -> bool:
        if not self.is_bound:
            return False
        cleaned = getattr(self.form, "cleaned_data", {})
        return any(
            value not in (None, "", [], ()) for name, value in cleaned.items() if name != "sort"
        )

    def unknown_parameters(self) -> list[str]:
        """Query parameters that are no filter of this list (a typo, an old link): ignored."""
        if not self.is_bound:
            return []
        return sorted(set(self.data) - set(self.form.fields) - set(PAGING))

    def problems(self) -> list[str]:
        """Every filter that was not understood and is not applied, as a sentence each."""
        self.form.is_valid()
        problems = [
            f"{self.form.fields[name].label or name}: {' '.join(errors)}"
            if name in self.form.fields
            else " ".join(errors)
            for name, errors in self.form.errors.items()
        ]
        problems += [
            f"“{name[:50]}” is not a filter of this list." for name in self.unknown_parameters()
        ]
        return problems

    def in_force(self) -> list[tuple[str, str]]:
        """(label, value) of each filter applied, as a person would read it."""
        if not self.is_bound or not self.form.is_valid():
            return []
        shown = []
        for name, value in self.form.cleaned_data.items():
            if value in (None, "", [], ()) or name == "sort" or name in self.form.errors:
                continue
            field = self.form.fields[name]
            choices = dict(getattr(field, "choices", []))
            values = value if isinstance(value, list | tuple) else [value]
            text = ", ".join(_readable(choices.get(v, v)) for v in values)
            shown.append((str(field.label or name), text))
        return shown


class JobFilter(ListFilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=ProcessingStatus.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Status",
        distinct=False,  # a column of this table: no duplicates to remove, and DISTINCT would sort
    )
    job_type = text_filter("job_type", "Job type", max_length=50, suggest=(AnalysisJob, "job_type"))
    session_id = text_filter("session_id", "Session id", max_length=36)
    media_type = django_filters.ChoiceFilter(
        field_name="media_file__media_type",
        choices=MediaType.choices,
        empty_label="any",
        label="Media type",
    )
    created_after = CreatedRangeFilter(field_name="created_at", label="Created from")
    created_before = CreatedRangeFilter(field_name="created_at", before=True, label="Created to")
    # When a job completed or failed (the dashboard's throughput counts jobs by this).
    finished_after = CreatedRangeFilter(field_name="completed_at", label="Finished from")
    finished_before = CreatedRangeFilter(
        field_name="completed_at", before=True, label="Finished to"
    )
    stalled = django_filters.ChoiceFilter(
        choices=YES_NO[1:],
        empty_label="any",
        method="filter_stalled",
        label="Stalled",
    )
    has_error = django_filters.ChoiceFilter(
        choices=YES_NO[1:],
        empty_label="any",
        method="filter_has_error",
        label="Has error",
    )
    error = text_filter("error_message", "Error contains", lookup="icontains")
    sort = SortFilter(fields={"created_at": "created", "id": "id"}, label="Sort")

    class Meta:
        model = AnalysisJob
        fields = []

    def filter_stalled(self, qs, name, value):
        """Processing with no update for JOB_STALLED_AFTER seconds (among the live processing jobs)."""
        return qs.stalled() if value == "true" else qs.not_stalled()

    def filter_has_error(self, qs, name, value):
        has_error = Q(error_message__isnull=False) & ~Q(error_message="")
        return qs.filter(has_error) if value == "true" else qs.exclude(has_error)


class ResultFilter(ListFilterSet):
    q = SearchFilter(label="Search")
    analysis_type = text_filter(
        "analysis_type", "Analysis type", max_length=50, suggest=(AnalysisResult, "analysis_type")
    )
    model = text_filter(
        "model_used", "Model", max_length=100, suggest=(AnalysisResult, "model_used")
    )
    confidence_min = fraction_filter("gte", "Confidence ≥")
    confidence_max = fraction_filter("lte", "Confidence ≤")
    session_id = text_filter("job__session_id", "Session id", max_length=36)
    job = django_filters.NumberFilter(
        field_name="job_id",
        min_value=1,
        max_value=2**31 - 1,
        label="Job id",
        widget=forms.HiddenInput,  # set by the job page's link, kept by the form
    )
    has_transcript = django_filters.ChoiceFilter(
        choices=YES_NO[1:],
        empty_label="any",
        method="filter_has_transcript",
        label="Transcript",
    )
    created_after = CreatedRangeFilter(field_name="created_at", label="Created from")
    created_before = CreatedRangeFilter(field_name="created_at", before=True, label="Created to")
    sort = ResultSortFilter(
        fields={"created_at": "created", "confidence_score": "confidence"}, label="Sort"
    )

    class Meta:
        model = AnalysisResult
        fields = []

    @property
    def search(self) -> search.WebSearch | None:
        """The search in force (`q`, valid), if any."""
        return getattr(self.form, "cleaned_data", {}).get("q") if self.is_bound else None

    def by_relevance(self) -> bool:
        """Whether to sort by relevance: asked for, or a search with no other sort."""
        return self.search is not None and self._sort() in (None, [], ["relevance"])

    def newest_first(self) -> bool:
        """Whether the rows come newest first (the default, or asked for)."""
        return self._sort() in (None, [], ["relevance"], ["-created"])

    def unsearched(self):
        """The rows of every filter but the search, in the list's order."""
        queryset = self.queryset.all()
        for name, value in self.form.cleaned_data.items():
            if name != "q":
                queryset = self.filters[name].filter(queryset, value)
        return queryset

    def _sort(self):
        return getattr(self.form, "cleaned_data", {}).get("sort")

    def filter_has_transcript(self, qs, name, value):
        has = Q(transcript__isnull=False) & ~Q(transcript="")
        return qs.filter(has) if value == "true" else qs.exclude(has)


class FileFilter(ListFilterSet):
    media_type = django_filters.ChoiceFilter(
        choices=MediaType.choices, empty_label="any", label="Media type"
    )
    mime_type = text_filter(
        "mime_type", "MIME type", max_length=100, suggest=(MediaFile, "mime_type")
    )
    session_id = text_filter("session_id", "Session id", max_length=36)
    storage_backend = text_filter(
        "storage_backend", "Storage", max_length=50, suggest=(MediaFile, "storage_backend")
    )
    filename = text_filter("original_filename", "File name contains", lookup="icontains")
    created_after = CreatedRangeFilter(field_name="created_at", label="Created from")
    created_before = CreatedRangeFilter(field_name="created_at", before=True, label="Created to")
    sort = SortFilter(fields={"created_at": "created", "id": "id"}, label="Sort")

    class Meta:
        model = MediaFile
        fields = []


class SessionFilter(ListFilterSet):
    session_id = text_filter("session_id", "Session id", max_length=36)
    ip_address = text_filter("ip_address", "IP address", max_length=45)
    state = django_filters.ChoiceFilter(
        choices=SessionState.choices,
        empty_label="any",
        method="filter_state",
        label="State",
    )
    started_after = CreatedRangeFilter(field_name="started_at", label="Started from")
    started_before = CreatedRangeFilter(field_name="started_at", before=True, label="Started to")
    sort = SortFilter(fields={"last_activity": "activity", "started_at": "started"}, label="Sort")

    class Meta:
        model = UserSession
        fields = []

    def filter_state(self, qs, name, value):
        return qs.in_state(value)
